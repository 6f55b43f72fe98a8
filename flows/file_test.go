package flows

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// An app file that is not a regular file is refused before it is read: a symbolic link to
// /dev/zero was read without end (its size, 0, passed the size check), and a named pipe hung
// the load waiting for a writer. A symbolic link to a regular file is read as the file.
func TestLoadAppNonRegularFiles(t *testing.T) {
	const app = "app: demo\nflows:\n  test:\n    output: 1\n"
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) // makes app.yaml and more files in dir
		want  string                         // the error, with the folder shown as DIR; "" for none
	}{
		{"app.yaml links to /dev/zero", func(t *testing.T, dir string) {
			symlink(t, "/dev/zero", filepath.Join(dir, "app.yaml"))
		}, "DIR/app.yaml: not a regular file but a device"},
		{"app.yaml is a named pipe", func(t *testing.T, dir string) {
			mkfifo(t, filepath.Join(dir, "app.yaml"))
		}, "DIR/app.yaml: not a regular file but a named pipe"},
		{"app.yaml is a folder", func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, "app.yaml"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, "DIR/app.yaml: not a regular file but a folder"},
		{"flow file is a named pipe", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "app.yaml"), app)
			mkfifo(t, filepath.Join(dir, "more.yaml"))
		}, "DIR/more.yaml: not a regular file but a named pipe"},
		{"flow file links to /dev/zero", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "app.yaml"), app)
			symlink(t, "/dev/zero", filepath.Join(dir, "zero.yaml"))
		}, "DIR/zero.yaml: not a regular file but a device"},
		{"links to regular files", func(t *testing.T, dir string) {
			elsewhere := t.TempDir()
			write(t, filepath.Join(elsewhere, "real.yaml"), app)
			write(t, filepath.Join(elsewhere, "flows.yaml"), "flows:\n  more:\n    output: 2\n")
			symlink(t, filepath.Join(elsewhere, "real.yaml"), filepath.Join(dir, "app.yaml"))
			symlink(t, filepath.Join(elsewhere, "flows.yaml"), filepath.Join(dir, "more.yaml"))
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			_, err := LoadApp(dir)
			got := ""
			if err != nil {
				got = strings.ReplaceAll(err.Error(), dir, "DIR")
			}
			if got != tt.want {
				t.Errorf("LoadApp = %q, want %q", got, tt.want)
			}
		})
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
}

func write(t *testing.T, path, src string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}
