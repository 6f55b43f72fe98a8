package oauthtest

import (
	"bytes"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/ory/fosite"
	"golang.org/x/oauth2"
)

// TestScopeStrategy: the client's scopes allow a requested scope as the strategy says.
func TestScopeStrategy(t *testing.T) {
	tests := []struct {
		name     string
		strategy fosite.ScopeStrategy
		allowed  string // the client's scope
		scope    string // the requested one
		want     bool
	}{
		{"wildcard default, exact", nil, "read", "read", true},
		{"wildcard default, child", nil, "read", "read.users", false},
		{"wildcard default, star", nil, "read.*", "read.users", true},
		{"hierarchic, child", fosite.HierarchicScopeStrategy, "read", "read.users", true},
		{"hierarchic, other", fosite.HierarchicScopeStrategy, "read", "write", false},
		{"exact, child", fosite.ExactScopeStrategy, "read", "read.users", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := New(t, Options{ScopeStrategy: tt.strategy})
			srv.AddClient(appID, appSecret, []string{callback}, ClientOptions{Scopes: []string{tt.allowed}})
			_, err := clientCredentials(srv, appID, oauth2.AuthStyleInHeader, tt.scope).Token(t.Context())
			if got := err == nil; got != tt.want {
				t.Errorf("client with scope %q requesting %q: err = %v, want allowed %t", tt.allowed, tt.scope, err, tt.want)
			}
		})
	}
}

// TestLogger: a refused request is logged with fosite's hint, and no token.
func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	srv := newServer(t, Options{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))})
	if _, err := refresh(t.Context(), appConfig(srv), "ory_rt_secret"); err == nil {
		t.Fatal("refresh with an unknown token succeeded")
	}
	want := `level=INFO msg="request refused" endpoint=token error=invalid_grant status=400 hint="The refresh token is malformed or not valid." debug="The refresh token can not be found."` + "\n"
	if got := buf.String(); got != want {
		t.Errorf("log = %s\nwant %s", got, want)
	}
	if strings.Contains(buf.String(), "ory_rt_secret") {
		t.Error("the log holds the refresh token")
	}
}

// fatalTB records a Fatalf and ends the goroutine that called it.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// TestAddClientErrors: AddClient fails the test on a client it cannot register.
func TestAddClientErrors(t *testing.T) {
	tests := []struct {
		name string
		id   string
		opts ClientOptions
		want string
	}{
		{"taken ID", appID, ClientOptions{}, `oauthtest: client "app" already exists`},
		{"unknown auth method", "c", ClientOptions{TokenEndpointAuthMethod: "private_key_jwt"},
			`oauthtest: client "c": unknown token endpoint auth method "private_key_jwt" (want "client_secret_basic" or "client_secret_post")`},
		{"public client with a secret method", "c", ClientOptions{Public: true, TokenEndpointAuthMethod: AuthBasic},
			`oauthtest: client "c": a public client authenticates with "none", not "client_secret_basic"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := &fatalTB{TB: t}
			srv := New(tb, Options{})
			srv.AddClient(appID, appSecret, nil, ClientOptions{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				srv.AddClient(tt.id, appSecret, nil, tt.opts)
			}()
			<-done
			tb.mu.Lock()
			defer tb.mu.Unlock()
			if tb.msg != tt.want {
				t.Errorf("AddClient failed with %q, want %q", tb.msg, tt.want)
			}
		})
	}
}
