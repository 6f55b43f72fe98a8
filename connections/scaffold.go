package connections

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

//go:embed scaffold/*.yaml
var scaffolds embed.FS

// AuthKinds are the --auth values of `patchbay app init`.
var AuthKinds = []string{"none", "fields", "basic", "api_key", "oauth2", "oauth2-client-credentials", "oauth1", "token"}

var nonKey = regexp.MustCompile(`[^A-Za-z0-9]`)

// Scaffold writes a new app of the given auth kind into dir: app.yaml, and for oauth2 the
// private flows in auth.yaml for the author to change. It refuses to overwrite an app.
func Scaffold(dir, auth string) ([]string, error) {
	if !slices.Contains(AuthKinds, auth) {
		return nil, &FieldError{Field: "auth", Msg: fmt.Sprintf("%q is not one of %s", auth, strings.Join(AuthKinds, ", "))}
	}
	if _, err := os.Stat(filepath.Join(dir, "app.yaml")); err == nil {
		return nil, fmt.Errorf("%s already has an app.yaml; not overwriting it", dir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	base := filepath.Base(filepath.Clean(dir))
	key := nonKey.ReplaceAllString(base, "")
	if key == "" || !(key[0] >= 'A' && key[0] <= 'Z' || key[0] >= 'a' && key[0] <= 'z') {
		key = "app" + key
	}
	src, err := scaffolds.ReadFile("scaffold/" + auth + ".yaml")
	if err != nil {
		return nil, err
	}
	src = bytes.ReplaceAll(src, []byte("{{KEY}}"), []byte(strings.ToLower(key)))
	src = bytes.ReplaceAll(src, []byte("{{NAME}}"), []byte(base))
	files := map[string][]byte{"app.yaml": src}
	switch auth {
	case "oauth2":
		files["auth.yaml"] = mustTemplate("oauth2.yaml", "revoke.yaml")
	case "oauth2-client-credentials":
		files["auth.yaml"] = mustTemplate("oauth2_client_credentials.yaml")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var written []string
	for _, name := range []string{"app.yaml", "auth.yaml"} {
		b, ok := files[name]
		if !ok {
			continue
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	return written, nil
}

// mustTemplate joins built-in template files into one flow file.
func mustTemplate(names ...string) []byte {
	var out bytes.Buffer
	out.WriteString("# The private flows of this app's connection, from patchbay's built-in templates.\n")
	out.WriteString("# Change them as the provider needs (extra parameters, a second token exchange ...).\n")
	out.WriteString("flows:\n")
	for _, n := range names {
		b, err := templates.ReadFile("templates/" + n)
		if err != nil {
			panic(err) // embedded at build time: a missing file is a programming error
		}
		_, after, ok := bytes.Cut(b, []byte("\nflows:\n"))
		if !ok {
			panic("template " + n + " has no flows: mapping")
		}
		out.Write(after)
		if !bytes.HasSuffix(after, []byte("\n")) {
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}
