package connections_test

import (
	"context"
	"net/url"
	"reflect"
	"testing"
)

// TestOAuth1ScopesAndAuthorizeParams: an oauth1 connection's scopes go, joined by
// scope_separator, as a scope parameter on the authorize URL, or with scope_in:
// request_token_url on the request-token call, where the provider checks that they are signed;
// the auth client's scopes win over the app's; authorize_params go on the authorize URL, empty
// ones left out. The connection then completes.
func TestOAuth1ScopesAndAuthorizeParams(t *testing.T) {
	const settings = `  scopes: [read, write]
  scope_separator: ","
  authorize_params: {expiration: never, name: "{{ app.name }} sync", skipped: ""}
`
	authorize := url.Values{"oauth_token": {"rt-1"}, "expiration": {"never"}, "name": {"Tumblr sync"}}
	with := func(v url.Values, k, s string) url.Values {
		out := url.Values{k: {s}}
		for k, vs := range v {
			out[k] = vs
		}
		return out
	}
	tests := []struct {
		name          string
		conn          string
		clientScopes  []string
		wantRTQuery   url.Values // of the request-token call
		wantAuthorize url.Values // of the authorize URL
	}{
		{
			name: "scopes on the authorize URL", conn: settings,
			wantRTQuery: url.Values{}, wantAuthorize: with(authorize, "scope", "read,write"),
		},
		{
			name: "scopes on the request-token call", conn: settings + "  scope_in: request_token_url\n",
			wantRTQuery: url.Values{"scope": {"read,write"}}, wantAuthorize: authorize,
		},
		{
			name: "the auth client's scopes, joined by a space", conn: "  scopes: [read]\n  scope_in: request_token_url\n",
			clientScopes:  []string{"https://a.example/feeds/", "https://b.example/m8/feeds/"},
			wantRTQuery:   url.Values{"scope": {"https://a.example/feeds/ https://b.example/m8/feeds/"}},
			wantAuthorize: url.Values{"oauth_token": {"rt-1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newO1EnvApp(t, o1ConsumerSecret, withConnection(o1App, tt.conn), tt.clientScopes)
			ctx := context.Background()
			pending, err := e.m.StartOAuth(ctx, e.prog, e.request(), e.redirect)
			if err != nil {
				t.Fatalf("StartOAuth: %v", err)
			}
			if len(e.p.rtQueries) != 1 || !reflect.DeepEqual(e.p.rtQueries[0], tt.wantRTQuery) {
				t.Errorf("the request-token calls' queries = %v, want [%v]", e.p.rtQueries, tt.wantRTQuery)
			}
			au, err := url.Parse(pending.AuthorizeURL)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := au.Scheme+"://"+au.Host+au.Path, e.p.srv.URL+"/oauth/authorize"; got != want {
				t.Errorf("AuthorizeURL = %s, want %s?...", pending.AuthorizeURL, want)
			}
			if got := au.Query(); !reflect.DeepEqual(got, tt.wantAuthorize) {
				t.Errorf("AuthorizeURL query = %v, want %v", got, tt.wantAuthorize)
			}
			rec, err := e.m.FinishOAuth(ctx, e.prog, pending, e.approve(t, pending))
			if err != nil {
				t.Fatalf("FinishOAuth: %v", err)
			}
			if rec.Label != "Alice" {
				t.Errorf("label = %q, want Alice", rec.Label)
			}
		})
	}
}

// TestOAuth1AuthorizeParamNotText: an authorize_params value that evaluates to a list fails
// StartOAuth, naming the parameter, before any request.
func TestOAuth1AuthorizeParamNotText(t *testing.T) {
	e := newO1EnvApp(t, o1ConsumerSecret, withConnection(o1App, "  authorize_params: {name: \"{{ ['a'] }}\"}\n"), nil)
	_, err := e.m.StartOAuth(context.Background(), e.prog, e.request(), e.redirect)
	if want := "oauth1: connection authorize_params.name must be a string, number or boolean, found a list"; err == nil || err.Error() != want {
		t.Fatalf("StartOAuth: err = %v, want %s", err, want)
	}
	if len(e.p.rtQueries) != 0 {
		t.Errorf("the provider got %d request-token calls, want none", len(e.p.rtQueries))
	}
}
