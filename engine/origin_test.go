package engine

import (
	"net/url"
	"testing"
)

// TestOrigin: an origin is scheme, host and port, in lower case with the default port written
// out, so that https://API.example.com and https://api.example.com:443 are one origin and
// another port of the same host is another.
func TestOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://API.Example.com/path?key=s3cret": "https://api.example.com:443",
		"https://api.example.com:443":             "https://api.example.com:443",
		"http://user:pw@api.example.com/x":        "http://api.example.com:80",
		"http://127.0.0.1:8080/x":                 "http://127.0.0.1:8080",
		"https://[::1]/x":                         "https://[::1]:443",
		"/relative":                               "",
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := Origin(u); got != want {
			t.Errorf("Origin(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://staging.example.com":  "https://staging.example.com:443",
		"https://staging.example.com/": "https://staging.example.com:443",
		"http://127.0.0.1:9000":        "http://127.0.0.1:9000",
	} {
		if got, err := ParseOrigin(in); err != nil || got != want {
			t.Errorf("ParseOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"staging.example.com":           `"staging.example.com" is not an origin: want scheme://host[:port], such as https://api.example.com`,
		"ftp://x.example":               `"ftp://x.example" is not an origin: want scheme://host[:port], such as https://api.example.com`,
		"https://x.example/api":         `https://x.example with a user, path or query is not an origin: want scheme://host[:port] alone`,
		"https://u:s3cret@x.example":    `https://x.example with a user, path or query is not an origin: want scheme://host[:port] alone`,
		"https://x.example/?key=s3cret": `https://x.example with a user, path or query is not an origin: want scheme://host[:port] alone`,
	} {
		if _, err := ParseOrigin(in); err == nil || err.Error() != want {
			t.Errorf("ParseOrigin(%q) error = %v, want %s", in, err, want)
		}
	}
}
