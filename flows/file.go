package flows

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// readFile reads an app file of at most MaxFileSize bytes. Only a regular file is read (a
// symbolic link is followed to one): a named pipe would block, and a device such as /dev/zero
// never ends. The kind is checked before opening, and again on the opened file, which is
// opened without blocking so that a file swapped for a pipe in between cannot hang the load;
// the read stops past the limit whatever the size said.
func readFile(file string) ([]byte, error) {
	st, err := os.Stat(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &Error{Pos: Pos{File: file}, Msg: "no such file: an app is a folder with app.yaml", Err: err}
		}
		return nil, err
	}
	if err := checkRegular(file, st); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(file, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkRegular(file, st); err != nil {
		return nil, err
	}
	src, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(src) > MaxFileSize {
		return nil, &Error{Pos: Pos{File: file}, Msg: fmt.Sprintf("file is larger than the limit of %d bytes", MaxFileSize)}
	}
	return src, nil
}

// checkRegular refuses what is not a regular file of at most MaxFileSize bytes.
func checkRegular(file string, st fs.FileInfo) error {
	if m := st.Mode(); !m.IsRegular() {
		return &Error{Pos: Pos{File: file}, Msg: fmt.Sprintf("not a regular file but %s: an app file must be a regular file", FileKind(m))}
	}
	if st.Size() > MaxFileSize {
		return &Error{Pos: Pos{File: file}, Msg: fmt.Sprintf("file is %d bytes, more than the limit of %d", st.Size(), MaxFileSize)}
	}
	return nil
}

// FileKind names what a file of mode m is, for an error that refuses it: "a folder", "a named
// pipe", "a device", "a socket".
func FileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeDevice != 0, m&fs.ModeCharDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsRegular():
		return "a regular file"
	}
	return "a special file"
}
