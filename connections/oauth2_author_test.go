package connections_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay/connections"
)

// What an app author must be able to express, each against a plain httptest provider whose
// requests the tests check exactly.

// TestOAuth2AuthorizeURLOptions: extra authorize parameters and a custom scope separator, set
// on the connection for the built-in authorize flow, or in the app's own authorize flow.
func TestOAuth2AuthorizeURLOptions(t *testing.T) {
	const params = "  params:\n    - {key: domain, label: Domain}\n"
	tests := []struct{ name, conn, flows string }{
		{
			name: "connection settings",
			conn: params + "  scope_separator: \",\"\n  authorize_params: {access_type: offline, prompt: consent, hd: \"{{ connection.params.domain }}\"}\n",
		},
		{
			name: "own authorize flow",
			conn: params,
			flows: `  authorize:
    inputs:
      state: {type: string, required: true}
      redirect_uri: {type: string, required: true}
      code_verifier: {type: string, sensitive: true}
    steps:
      - id: url
        oauth2_authorize_url:
          url: "{{ connection.authorize_url }}"
          client_id: "{{ connection.client.id }}"
          redirect_uri: "{{ input.redirect_uri }}"
          scopes: "{{ connection.scopes }}"
          scope_separator: ","
          state: "{{ input.state }}"
          code_verifier: "{{ input.code_verifier }}"
          params: {access_type: offline, prompt: consent, hd: "{{ connection.params.domain }}"}
    output: {authorize_url: "{{ steps.url.authorize_url }}"}
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlainProvider(t, nil)
			m := newManager(t, nil)
			prog := loadApp(t, plainApp(p, tt.conn, tt.flows))
			putPlainClient(t, m, "plain")
			pending, err := m.StartOAuth(t.Context(), prog, connections.ConnectRequest{Name: "a", Params: map[string]string{"domain": "example.com"}}, testRedirectURL)
			if err != nil {
				t.Fatalf("StartOAuth: %v", err)
			}
			u, err := url.Parse(pending.AuthorizeURL)
			if err != nil {
				t.Fatal(err)
			}
			if got := u.Scheme + "://" + u.Host + u.Path; got != p.srv.URL+"/authorize" {
				t.Errorf("authorize URL = %s, want %s/authorize", got, p.srv.URL)
			}
			q := u.Query()
			want := map[string]string{
				"response_type": "code", "client_id": plainClientID, "redirect_uri": testRedirectURL, "scope": "read,write",
				"state": pending.State, "code_challenge": q.Get("code_challenge"), "code_challenge_method": "S256",
				"access_type": "offline", "prompt": "consent", "hd": "example.com",
			}
			if got := formOf(q); !equalJSON(got, want) {
				t.Errorf("authorize query =\n%v\nwant\n%v", got, want)
			}
			if len(q.Get("code_challenge")) != 43 {
				t.Errorf("code_challenge = %q, want 43 characters", q.Get("code_challenge"))
			}
			if !strings.Contains(u.RawQuery, "scope=read%2Cwrite") {
				t.Errorf("authorize query %s does not carry scope=read%%2Cwrite", u.RawQuery)
			}
		})
	}
}

// tokenJSON answers a token request with the JSON of tok.
func tokenJSON(tok map[string]any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { writeJSONBody(w, http.StatusOK, tok) }
}

// TestOAuth2TokenRequest: the code exchange as the provider sees it, with the client
// authenticated in a Basic header (the default) or in the form, and sent as a GET.
func TestOAuth2TokenRequest(t *testing.T) {
	tests := []struct {
		name, conn string
		method     string
		basic      bool
		client     map[string]string // client fields in the form
	}{
		{name: "default", method: "POST", basic: true},
		{name: "client_auth post", conn: "  client_auth: post\n", method: "POST", client: map[string]string{"client_id": plainClientID, "client_secret": plainClientSecret}},
		{name: "token_method GET", conn: "  token_method: GET\n", method: "GET", basic: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlainProvider(t, map[string]http.HandlerFunc{
				"/token":  tokenJSON(map[string]any{"access_token": "at-1", "refresh_token": "rt-1", "token_type": "bearer", "expires_in": 3600}),
				"/api/me": bearerAPI("at-1"),
			})
			clock := newFakeClock(time.Now())
			m := newManager(t, clock)
			prog := loadApp(t, plainApp(p, tt.conn, ""))
			putPlainClient(t, m, "plain")
			pending, rec, err := connectPlain(t, m, prog, "a")
			if err != nil {
				t.Fatalf("connect: %v", err)
			}

			reqs := p.at("/token")
			if len(reqs) != 1 {
				t.Fatalf("the token endpoint got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			fields := r.Form
			if tt.method == "GET" {
				fields = r.Query
				if r.Header.Get("Content-Type") != "" {
					t.Errorf("GET token request has Content-Type %q", r.Header.Get("Content-Type"))
				}
			} else if len(r.Query) != 0 {
				t.Errorf("POST token request has a query %v", r.Query)
			}
			verifier := fields.Get("code_verifier")
			want := map[string]string{"grant_type": "authorization_code", "code": plainCode, "redirect_uri": testRedirectURL, "code_verifier": verifier}
			for k, v := range tt.client {
				want[k] = v
			}
			if r.Method != tt.method || !equalJSON(formOf(fields), want) {
				t.Errorf("token request = %s %v,\nwant %s %v", r.Method, formOf(fields), tt.method, want)
			}
			if challenge := mustQuery(t, pending.AuthorizeURL).Get("code_challenge"); verifier == "" || s256(verifier) != challenge {
				t.Errorf("code_verifier %q does not match the authorize URL's code_challenge %q", verifier, challenge)
			}
			if tt.basic != (r.User == plainClientID && r.Pass == plainClientSecret) {
				t.Errorf("basic auth = %q:%q, want it %v", r.User, r.Pass, tt.basic)
			}
			tok := reload(t, m, rec).Creds.Token
			if tok.AccessToken != "at-1" || tok.RefreshToken != "rt-1" || !tok.Expiry.Equal(clock.Now().Add(time.Hour)) {
				t.Errorf("stored token %q/%q expiring %v, want at-1/rt-1 in an hour", tok.AccessToken.Reveal(), tok.RefreshToken.Reveal(), tok.Expiry)
			}
		})
	}
}

// TestOAuth2ClientCredentialsRequest: the client credentials token request as the provider
// sees it, scopes joined by the app's separator, with the client in the Basic header or the
// form, by POST or GET.
func TestOAuth2ClientCredentialsRequest(t *testing.T) {
	tests := []struct {
		name, conn string
		method     string
		want       map[string]string
		basic      bool
	}{
		{name: "default", method: "POST", basic: true, want: map[string]string{"grant_type": "client_credentials", "scope": "read write"}},
		{name: "comma separator", conn: "  scope_separator: \",\"\n", method: "POST", basic: true, want: map[string]string{"grant_type": "client_credentials", "scope": "read,write"}},
		{
			name: "client_auth post and GET", conn: "  client_auth: post\n  token_method: GET\n", method: "GET",
			want: map[string]string{"grant_type": "client_credentials", "scope": "read write", "client_id": plainClientID, "client_secret": plainClientSecret},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlainProvider(t, map[string]http.HandlerFunc{
				"/token":  tokenJSON(map[string]any{"access_token": "at-1", "token_type": "bearer", "expires_in": 3600}),
				"/api/me": bearerAPI("at-1"),
			})
			m := newManager(t, nil)
			src := strings.Replace(plainApp(p, "  grant: client_credentials\n"+tt.conn, ""), "  authorize_url: "+p.srv.URL+"/authorize\n", "", 1)
			prog := loadApp(t, src)
			putPlainClient(t, m, "plain")
			if _, err := m.Connect(t.Context(), prog, connections.ConnectRequest{Name: "svc"}); err != nil {
				t.Fatalf("Connect: %v", err)
			}
			reqs := p.at("/token")
			if len(reqs) != 1 {
				t.Fatalf("the token endpoint got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			fields := r.Form
			if tt.method == "GET" {
				fields = r.Query
			}
			if r.Method != tt.method || !equalJSON(formOf(fields), tt.want) {
				t.Errorf("token request = %s %v,\nwant %s %v", r.Method, formOf(fields), tt.method, tt.want)
			}
			if tt.basic != (r.User == plainClientID && r.Pass == plainClientSecret) {
				t.Errorf("basic auth = %q:%q, want it %v", r.User, r.Pass, tt.basic)
			}
		})
	}
}

// TestOAuth2FormTokenResponse: a token endpoint that answers in form encoding instead of JSON.
func TestOAuth2FormTokenResponse(t *testing.T) {
	p := newPlainProvider(t, map[string]http.HandlerFunc{
		"/token": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			io.WriteString(w, "access_token=at-form&refresh_token=rt-form&token_type=bearer&expires_in=7200&scope=read+write&team=t1")
		},
		"/api/me": bearerAPI("at-form"),
	})
	clock := newFakeClock(time.Now())
	m := newManager(t, clock)
	prog := loadApp(t, plainApp(p, "", ""))
	putPlainClient(t, m, "plain")
	_, rec, err := connectPlain(t, m, prog, "a")
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	got := reload(t, m, rec)
	tok := got.Creds.Token
	if tok.AccessToken != "at-form" || tok.RefreshToken != "rt-form" || tok.Scope != "read write" || tok.TokenType != "Bearer" ||
		!tok.Expiry.Equal(clock.Now().Add(2*time.Hour)) {
		t.Errorf("stored token %q/%q, scope %q, type %q, expiry %v; want at-form/rt-form, read write, Bearer, in 2h",
			tok.AccessToken.Reveal(), tok.RefreshToken.Reveal(), tok.Scope, tok.TokenType, tok.Expiry)
	}
	if want := map[string]any{"team": "t1"}; !equalJSON(tok.Extra, want) {
		t.Errorf("extra = %v, want %v", tok.Extra, want)
	}
	if got.Label != "user@example.com" {
		t.Errorf("label = %q, want user@example.com", got.Label)
	}
}

// TestOAuth2SecondExchange: the app's own exchange flow trades the code for a short-lived token
// (oauth2_token), then that token for a long-lived one (call_api), and outputs the second.
func TestOAuth2SecondExchange(t *testing.T) {
	const exchange = `  exchange:
    inputs:
      code: {type: string, required: true, sensitive: true}
      state: {type: string}
      redirect_uri: {type: string, required: true}
      code_verifier: {type: string, sensitive: true}
      query: {type: object}
    steps:
      - id: short
        oauth2_token:
          url: "{{ connection.token_url }}"
          grant_type: authorization_code
          client_id: "{{ connection.client.id }}"
          client_secret: "{{ connection.client.secret }}"
          code: "{{ input.code }}"
          redirect_uri: "{{ input.redirect_uri }}"
          code_verifier: "{{ input.code_verifier }}"
      - id: long
        call_api:
          method: GET
          path: /long_lived
          query:
            grant_type: exchange_token
            client_secret: "{{ connection.client.secret }}"
            access_token: "{{ steps.short.access_token }}"
    output:
      access_token: "{{ steps.long.body.access_token }}"
      token_type: "{{ steps.long.body.token_type }}"
      expires_in: "{{ steps.long.body.expires_in }}"
`
	p := newPlainProvider(t, map[string]http.HandlerFunc{
		"/token": tokenJSON(map[string]any{"access_token": "short-lived-at", "token_type": "bearer", "expires_in": 3600}),
		"/api/long_lived": func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			if q.Get("access_token") != "short-lived-at" || q.Get("client_secret") != plainClientSecret || q.Get("grant_type") != "exchange_token" {
				writeJSONBody(w, http.StatusBadRequest, map[string]any{"error": "bad exchange"})
				return
			}
			writeJSONBody(w, http.StatusOK, map[string]any{"access_token": "long-lived-at", "token_type": "bearer", "expires_in": 5184000})
		},
		"/api/me": bearerAPI("long-lived-at"),
	})
	clock := newFakeClock(time.Now())
	m := newManager(t, clock)
	prog := loadApp(t, plainApp(p, "", exchange))
	putPlainClient(t, m, "plain")
	_, rec, err := connectPlain(t, m, prog, "a")
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	tok := reload(t, m, rec).Creds.Token
	if tok.AccessToken != "long-lived-at" || !tok.Expiry.Equal(clock.Now().Add(60*24*time.Hour)) || tok.RefreshToken != "" {
		t.Errorf("stored token %q expiring %v, refresh %q; want long-lived-at in 60 days, none", tok.AccessToken.Reveal(), tok.Expiry, tok.RefreshToken.Reveal())
	}
	if n := len(p.at("/token")); n != 1 {
		t.Errorf("the token endpoint got %d requests, want 1", n)
	}
	if long := p.at("/api/long_lived"); len(long) != 1 || long[0].Method != "GET" {
		t.Errorf("the long-lived exchange got %v, want one GET", long)
	}
	if me := p.at("/api/me"); len(me) != 1 || me[0].Header.Get("Authorization") != "Bearer long-lived-at" {
		t.Errorf("the test flow sent %v, want one request with the long-lived token", me)
	}
}

// TestOAuth2NoExpiresIn: a provider that states no lifetime. Without refresh.assume_lifetime
// no expiry is stored and the token is refreshed only after the API refuses it; with
// assume_lifetime: 1h it expires an hour after it was obtained and is refreshed before.
func TestOAuth2NoExpiresIn(t *testing.T) {
	tests := []struct {
		name, conn string
		lifetime   time.Duration // the expiry stored after obtained; 0 none
		reactive   bool          // the refresh follows a 401
	}{
		{name: "no expiry", reactive: true},
		{name: "assume_lifetime", conn: "  refresh: {assume_lifetime: 1h}\n", lifetime: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			valid := "at-1" // the access token the API accepts
			p := newPlainProvider(t, map[string]http.HandlerFunc{
				"/token": func(w http.ResponseWriter, r *http.Request) {
					r.ParseForm()
					switch r.PostForm.Get("grant_type") {
					case "authorization_code":
						writeJSONBody(w, http.StatusOK, map[string]any{"access_token": "at-1", "refresh_token": "rt-1", "token_type": "bearer"})
					case "refresh_token":
						if r.PostForm.Get("refresh_token") != "rt-1" {
							writeJSONBody(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant"})
							return
						}
						mu.Lock()
						valid = "at-2"
						mu.Unlock()
						writeJSONBody(w, http.StatusOK, map[string]any{"access_token": "at-2", "token_type": "bearer"})
					}
				},
				"/api/me": func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					v := valid
					mu.Unlock()
					bearerAPI(v)(w, r)
				},
			})
			clock := newFakeClock(time.Now())
			m := newManager(t, clock)
			prog := loadApp(t, plainApp(p, tt.conn, ""))
			putPlainClient(t, m, "plain")
			_, rec, err := connectPlain(t, m, prog, "a")
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			tok := reload(t, m, rec).Creds.Token
			wantExp := time.Time{}
			if tt.lifetime > 0 {
				wantExp = tok.ObtainedAt.Add(tt.lifetime)
			}
			if !tok.Expiry.Equal(wantExp) || !tok.ObtainedAt.Equal(clock.Now()) {
				t.Errorf("stored expiry %v (obtained %v), want %v", tok.Expiry, tok.ObtainedAt, wantExp)
			}

			// A month on the provider refuses at-1 and accepts only the token a refresh gives.
			clock.Advance(30 * 24 * time.Hour)
			mu.Lock()
			valid = "at-2"
			mu.Unlock()
			res, err := runFlow(t.Context(), m, prog, reload(t, m, rec), "test", nil)
			if err != nil {
				t.Fatalf("run test a month later: %v", err)
			}
			if want := map[string]any{"email": "user@example.com"}; !equalJSON(res.Output, want) {
				t.Errorf("test = %v, want %v", res.Output, want)
			}
			var auths []string
			for _, r := range p.at("/api/me") {
				auths = append(auths, r.Header.Get("Authorization"))
			}
			want := []string{"Bearer at-1", "Bearer at-2"} // the connect test, then the run
			if tt.reactive {
				want = []string{"Bearer at-1", "Bearer at-1", "Bearer at-2"} // refused, refreshed, retried
			}
			if !equalJSON(auths, want) {
				t.Errorf("the API saw %q, want %q", auths, want)
			}
			refresh := p.at("/token")[1:]
			if len(refresh) != 1 || refresh[0].Form.Get("grant_type") != "refresh_token" {
				t.Fatalf("token requests after connect: %v, want one refresh", refresh)
			}
			got := reload(t, m, rec).Creds.Token
			if got.AccessToken != "at-2" || got.RefreshToken != "rt-1" {
				t.Errorf("after the refresh the stored tokens are %q/%q, want at-2/rt-1 (kept: the provider did not rotate it)", got.AccessToken.Reveal(), got.RefreshToken.Reveal())
			}
		})
	}
}

// TestOAuth2ExtraInstanceURL: a token response field the app keeps (instance_url) becomes the
// base URL of every later flow, the test flow included.
func TestOAuth2ExtraInstanceURL(t *testing.T) {
	instance := newPlainProvider(t, map[string]http.HandlerFunc{"/services/data/me": bearerAPI("at-1")})
	p := newPlainProvider(t, map[string]http.HandlerFunc{
		"/token": tokenJSON(map[string]any{"access_token": "at-1", "refresh_token": "rt-1", "token_type": "bearer", "instance_url": instance.srv.URL, "id": "https://login.example/id/42"}),
	})
	src := strings.Replace(plainApp(p, "", ""), "base_url: "+p.srv.URL+"/api", `base_url: "{{ connection.extra.instance_url }}/services/data"`, 1)
	m := newManager(t, nil)
	prog := loadApp(t, src)
	putPlainClient(t, m, "plain")
	_, rec, err := connectPlain(t, m, prog, "a")
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	got := reload(t, m, rec)
	if want := map[string]any{"instance_url": instance.srv.URL, "id": "https://login.example/id/42"}; !equalJSON(got.Creds.Token.Extra, want) {
		t.Errorf("stored extra = %v, want %v", got.Creds.Token.Extra, want)
	}
	if _, err := runFlow(t.Context(), m, prog, got, "test", nil); err != nil {
		t.Fatalf("run test: %v", err)
	}
	if n := len(instance.at("/services/data/me")); n != 2 {
		t.Errorf("the instance got %d requests, want 2 (connect's test, then the run)", n)
	}
	if n := len(p.at("/api/me")); n != 0 {
		t.Errorf("the login server got %d API requests, want none", n)
	}
}

// TestOAuth2OwnFlowInputs: an app's own private flows declare only the inputs they use; the
// runtime offers more (exchange: state, redirect_uri, code_verifier, query; revoke:
// token_type_hint) and they must not fail for it.
func TestOAuth2OwnFlowInputs(t *testing.T) {
	const flows = `  exchange:
    inputs:
      code: {type: string, required: true, sensitive: true}
    steps:
      - id: token
        oauth2_token:
          url: "{{ connection.token_url }}"
          grant_type: authorization_code
          client_id: "{{ connection.client.id }}"
          client_secret: "{{ connection.client.secret }}"
          code: "{{ input.code }}"
    output: "{{ steps.token }}"
  revoke:
    inputs:
      token: {type: string, required: true, sensitive: true}
    steps:
      - id: revoke
        call_api:
          method: POST
          url: "{{ connection.revoke_url }}"
          form: {token: "{{ input.token }}"}
`
	p := newPlainProvider(t, map[string]http.HandlerFunc{
		"/token":  tokenJSON(map[string]any{"access_token": "at-1", "refresh_token": "rt-1", "token_type": "bearer"}),
		"/api/me": bearerAPI("at-1"),
		"/revoke": func(w http.ResponseWriter, r *http.Request) {},
	})
	m := newManager(t, nil)
	prog := loadApp(t, plainApp(p, "  pkce: false\n  revoke_url: SRV/revoke\n", flows))
	putPlainClient(t, m, "plain")
	_, rec, err := connectPlain(t, m, prog, "a")
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	if tok := p.at("/token"); len(tok) != 1 || !equalJSON(formOf(tok[0].Form), map[string]string{"grant_type": "authorization_code", "code": plainCode}) {
		t.Errorf("token requests = %v, want one with grant_type and code only", tok)
	}
	if err := m.Delete(t.Context(), prog, rec); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if rv := p.at("/revoke"); len(rv) != 1 || !equalJSON(formOf(rv[0].Form), map[string]string{"token": "rt-1"}) {
		t.Errorf("revoke requests = %v, want one with token=rt-1", rv)
	}
	wantNothingStored(t, m)
}
