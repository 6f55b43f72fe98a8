package main

// Tests of defects found in a review of the connection commands, each named after its defect.

import (
	"strings"
	"testing"

	"github.com/patchbay/patchbay/connections/oauthtest"
)

// TestConnectListensOnLoopbackOnly: connect listened for the OAuth redirect on whatever
// address --listen or the auth client's redirect URL named, all interfaces included, so
// another machine could reach the callback. An address that is not loopback is refused
// before the provider is asked anything.
func TestConnectListensOnLoopbackOnly(t *testing.T) {
	noMasterKey(t)
	srv := oauthtest.New(t, oauthtest.Options{})
	dir := oauthApp(t, srv)
	tests := []struct {
		name    string
		listen  string
		client  []string // clients add flags
		wantErr string
	}{
		{
			name: "--listen on every interface", listen: ":0",
			wantErr: `error: listen for the OAuth redirect: :0 is not a loopback address; use 127.0.0.1 or [::1]` + "\n",
		},
		{
			name: "--listen on 0.0.0.0", listen: "0.0.0.0:0",
			wantErr: `error: listen for the OAuth redirect: 0.0.0.0:0 is not a loopback address; use 127.0.0.1 or [::1]` + "\n",
		},
		{
			name: "the client's redirect URL", listen: "127.0.0.1:0", client: []string{"--redirect-url", "http://0.0.0.0:0/cb"},
			wantErr: `error: listen for the OAuth redirect: 0.0.0.0:0 is not a loopback address; use 127.0.0.1 or [::1]` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			args := append([]string{"--data", data, "clients", "add", "fosite", "--app", dir, "--client-id", "pb-client"}, tt.client...)
			if r := cli(t, nil, clientSecret, args...); r.code != 0 {
				t.Fatalf("clients add = %d %q", r.code, r.stderr)
			}
			c := startConnect(t, "--data", data, "connect", dir, "--listen", tt.listen, "--no-browser")
			var stdout strings.Builder
			for l := range c.lines {
				stdout.WriteString(l + "\n")
				if strings.HasPrefix(l, "Open this address") {
					c.cancel() // it listens: stop it rather than wait for the redirect
				}
			}
			code := <-c.code
			if code != 1 || !strings.HasPrefix(c.stderr.String(), tt.wantErr) || stdout.Len() != 0 {
				t.Errorf("connect = %d, stdout %q, stderr:\n%s\nwant 1, nothing printed and\n%s", code, stdout.String(), c.stderr.String(), tt.wantErr)
			}
			if n := srv.TokenRequestsTotal(); n != 0 {
				t.Errorf("%d token requests, want none", n)
			}
		})
	}
}
