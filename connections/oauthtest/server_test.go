package oauthtest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// The clients every test server has.
const (
	appID     = "app" // confidential, client_secret_basic, scopes read and write
	appSecret = "s3cret"
	postID    = "post" // confidential, client_secret_post, scope read
	pubID     = "pub"  // public, scope read
	callback  = "http://127.0.0.1/callback"
	state     = "state-0123456789"
)

// fosite's error descriptions start with the RFC 6749 text of the error code, then its hint.
const (
	descInvalidGrant   = "The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh token is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."
	descInvalidClient  = "Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method)."
	descInvalidRequest = "The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed."
	descInvalidScope   = "The requested scope is invalid, unknown, or malformed."
)

func newServer(t *testing.T, opts Options) *Server {
	t.Helper()
	srv := New(t, opts)
	srv.AddClient(appID, appSecret, []string{callback}, ClientOptions{Scopes: []string{"read", "write"}})
	srv.AddClient(postID, appSecret, []string{callback}, ClientOptions{Scopes: []string{"read"}, TokenEndpointAuthMethod: AuthPost})
	srv.AddClient(pubID, "", []string{callback}, ClientOptions{Public: true, Scopes: []string{"read"}})
	return srv
}

// appConfig is the x/oauth2 configuration of the client "app", redirecting to port 5555 of
// the loopback interface (fosite matches a loopback redirect URI on any port).
func appConfig(srv *Server) *oauth2.Config {
	ep := srv.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	return &oauth2.Config{
		ClientID:     appID,
		ClientSecret: appSecret,
		Endpoint:     ep,
		RedirectURL:  "http://127.0.0.1:5555/callback",
		Scopes:       []string{"read", "write"},
	}
}

// code runs the authorization request of conf with PKCE and returns the code.
func code(t *testing.T, srv *Server, conf *oauth2.Config, verifier string) string {
	t.Helper()
	loc, err := srv.Approve(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	c := loc.Query().Get("code")
	if c == "" {
		t.Fatalf("Approve: redirect %s has no code", loc)
	}
	return c
}

// connect runs the code flow with PKCE for conf and returns the token.
func connect(t *testing.T, srv *Server, conf *oauth2.Config) *oauth2.Token {
	t.Helper()
	v := oauth2.GenerateVerifier()
	tok, err := conf.Exchange(t.Context(), code(t, srv, conf, v), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	return tok
}

// refresh sends a refresh_token grant with rt.
func refresh(ctx context.Context, conf *oauth2.Config, rt string) (*oauth2.Token, error) {
	return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
}

// callAPI GETs the protected API with the bearer token and returns the status and body.
func callAPI(t *testing.T, srv *Server, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.APIURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSpace(string(body))
}

const (
	meUser       = `{"id":"user-1","email":"user-1@example.com"}`
	invalidToken = `{"error":"invalid_token"}`
)

func wantAPI(t *testing.T, srv *Server, token string, wantStatus int, wantBody string) {
	t.Helper()
	if status, body := callAPI(t, srv, token); status != wantStatus || body != wantBody {
		t.Errorf("GET %s = %d %s, want %d %s", APIPath, status, body, wantStatus, wantBody)
	}
}

// wantOAuthError checks that err is a token endpoint error with status, code and description.
func wantOAuthError(t *testing.T, err error, status int, code, desc string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want a *oauth2.RetrieveError", err)
	}
	if re.Response.StatusCode != status || re.ErrorCode != code || re.ErrorDescription != desc {
		t.Errorf("token endpoint answered %d %q %q,\nwant %d %q %q", re.Response.StatusCode, re.ErrorCode, re.ErrorDescription, status, code, desc)
	}
}

// TestCodeFlowPKCE runs the whole authorization code flow with x/oauth2 as the client, the
// redirect going to the client's own loopback callback server.
func TestCodeFlowPKCE(t *testing.T) {
	srv := newServer(t, Options{AccessTokenLifespan: time.Minute})
	conf := appConfig(srv)
	verifier := oauth2.GenerateVerifier()

	type result struct {
		tok *oauth2.Token
		err error
	}
	results := make(chan result, 1)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.URL.Query().Get("state"); got != state {
			t.Errorf("callback state = %q, want %q", got, state)
		}
		tok, err := conf.Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(verifier))
		results <- result{tok, err}
	}))
	defer cb.Close()
	conf.RedirectURL = cb.URL + "/callback"

	loc, err := srv.Approve(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := loc.Scheme+"://"+loc.Host+loc.Path, conf.RedirectURL; got != want {
		t.Errorf("Approve redirects to %s, want %s", got, want)
	}
	if got := loc.Query().Get("scope"); got != "read write" {
		t.Errorf("redirect scope = %q, want %q", got, "read write")
	}
	resp, err := http.Get(loc.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	res := <-results
	if res.err != nil {
		t.Fatalf("Exchange: %v", res.err)
	}
	tok := res.tok
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Errorf("token has access token %t, refresh token %t; want both", tok.AccessToken != "", tok.RefreshToken != "")
	}
	if tok.TokenType != "bearer" {
		t.Errorf("TokenType = %q, want bearer", tok.TokenType)
	}
	if tok.Extra("scope") != "read write" {
		t.Errorf("scope = %v, want %q", tok.Extra("scope"), "read write")
	}
	if tok.ExpiresIn <= 0 || tok.ExpiresIn > 60 {
		t.Errorf("ExpiresIn = %d, want (0, 60] for a lifespan of a minute", tok.ExpiresIn)
	}
	wantAPI(t, srv, tok.AccessToken, http.StatusOK, meUser)
	if got := srv.TokenRequests("authorization_code"); got != 1 {
		t.Errorf("TokenRequests(authorization_code) = %d, want 1", got)
	}
}

// TestTokenErrors pins the status, error code and description the token endpoint answers.
func TestTokenErrors(t *testing.T) {
	tests := []struct {
		name   string
		do     func(t *testing.T, srv *Server, conf *oauth2.Config) error
		status int
		code   string
		desc   string
	}{{
		name: "missing verifier",
		do: func(t *testing.T, srv *Server, conf *oauth2.Config) error {
			_, err := conf.Exchange(t.Context(), code(t, srv, conf, oauth2.GenerateVerifier()))
			return err
		},
		status: 400, code: "invalid_grant",
		desc: descInvalidGrant + " The PKCE code verifier must be at least 43 characters.",
	}, {
		name: "wrong verifier",
		do: func(t *testing.T, srv *Server, conf *oauth2.Config) error {
			c := code(t, srv, conf, oauth2.GenerateVerifier())
			_, err := conf.Exchange(t.Context(), c, oauth2.VerifierOption(oauth2.GenerateVerifier()))
			return err
		},
		status: 400, code: "invalid_grant",
		desc: descInvalidGrant + " The PKCE code challenge did not match the code verifier.",
	}, {
		// fosite deletes the code's PKCE data on the first attempt.
		name: "right verifier after a wrong one",
		do: func(t *testing.T, srv *Server, conf *oauth2.Config) error {
			v := oauth2.GenerateVerifier()
			c := code(t, srv, conf, v)
			if _, err := conf.Exchange(t.Context(), c, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
				t.Fatal("Exchange with a wrong verifier succeeded")
			}
			_, err := conf.Exchange(t.Context(), c, oauth2.VerifierOption(v))
			return err
		},
		status: 400, code: "invalid_grant",
		desc: descInvalidGrant + " Unable to find initial PKCE data tied to this request",
	}, {
		name: "code used twice",
		do: func(t *testing.T, srv *Server, conf *oauth2.Config) error {
			v := oauth2.GenerateVerifier()
			c := code(t, srv, conf, v)
			if _, err := conf.Exchange(t.Context(), c, oauth2.VerifierOption(v)); err != nil {
				t.Fatal(err)
			}
			_, err := conf.Exchange(t.Context(), c, oauth2.VerifierOption(v))
			return err
		},
		status: 400, code: "invalid_grant",
		desc: descInvalidGrant + " The authorization code has already been used.",
	}, {
		name: "other redirect_uri at the exchange",
		do: func(t *testing.T, srv *Server, conf *oauth2.Config) error {
			v := oauth2.GenerateVerifier()
			c := code(t, srv, conf, v)
			conf.RedirectURL = "http://127.0.0.1:5555/other"
			_, err := conf.Exchange(t.Context(), c, oauth2.VerifierOption(v))
			return err
		},
		status: 400, code: "invalid_grant",
		desc: descInvalidGrant + " The 'redirect_uri' from this request does not match the one from the authorize request.",
	}, {
		name: "wrong client secret",
		do: func(t *testing.T, srv *Server, conf *oauth2.Config) error {
			v := oauth2.GenerateVerifier()
			c := code(t, srv, conf, v)
			conf.ClientSecret = "wrong"
			_, err := conf.Exchange(t.Context(), c, oauth2.VerifierOption(v))
			return err
		},
		status: 401, code: "invalid_client", desc: descInvalidClient,
	}, {
		name: "unknown client",
		do: func(t *testing.T, srv *Server, conf *oauth2.Config) error {
			conf.ClientID = "nobody"
			_, err := conf.Exchange(t.Context(), "code", oauth2.VerifierOption(oauth2.GenerateVerifier()))
			return err
		},
		status: 401, code: "invalid_client", desc: descInvalidClient,
	}, {
		name: "client_secret_post for a client_secret_basic client",
		do: func(t *testing.T, srv *Server, conf *oauth2.Config) error {
			v := oauth2.GenerateVerifier()
			c := code(t, srv, conf, v)
			conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
			_, err := conf.Exchange(t.Context(), c, oauth2.VerifierOption(v))
			return err
		},
		status: 401, code: "invalid_client",
		desc: descInvalidClient + " The OAuth 2.0 Client supports client authentication method 'client_secret_basic', but method 'client_secret_post' was requested. You must configure the OAuth 2.0 client's 'token_endpoint_auth_method' value to accept 'client_secret_post'.",
	}, {
		name: "unknown refresh token",
		do: func(t *testing.T, srv *Server, conf *oauth2.Config) error {
			_, err := refresh(t.Context(), conf, "ory_rt_unknown")
			return err
		},
		status: 400, code: "invalid_grant",
		desc: descInvalidGrant + " The refresh token is malformed or not valid.",
	}, {
		name: "refresh token of another client",
		do: func(t *testing.T, srv *Server, conf *oauth2.Config) error {
			tok := connect(t, srv, conf)
			other := *conf
			other.ClientID, other.Endpoint.AuthStyle = postID, oauth2.AuthStyleInParams
			_, err := refresh(t.Context(), &other, tok.RefreshToken)
			return err
		},
		status: 400, code: "invalid_grant",
		desc: descInvalidGrant + " The OAuth 2.0 Client ID from this request does not match the ID during the initial token issuance.",
	}, {
		name: "unsupported grant type",
		do: func(t *testing.T, srv *Server, conf *oauth2.Config) error {
			_, err := conf.PasswordCredentialsToken(t.Context(), "user", "password")
			return err
		},
		status: 400, code: "invalid_request",
		desc: descInvalidRequest + " Make sure that the various parameters are correct, be aware of case sensitivity and trim your parameters. Make sure that the client you are using has exactly whitelisted the redirect_uri you specified.",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, Options{})
			err := tt.do(t, srv, appConfig(srv))
			wantOAuthError(t, err, tt.status, tt.code, tt.desc)
		})
	}
}

// TestTokenEndpointGET shows that the token endpoint is POST only, as fosite makes it.
func TestTokenEndpointGET(t *testing.T) {
	srv := newServer(t, Options{})
	resp, err := http.Get(srv.TokenURL() + "?grant_type=client_credentials")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	want := descInvalidRequest + " HTTP method is 'GET', expected 'POST'."
	if resp.StatusCode != 400 || body.Error != "invalid_request" || body.ErrorDescription != want {
		t.Errorf("GET %s = %d %q %q, want 400 invalid_request %q", TokenPath, resp.StatusCode, body.Error, body.ErrorDescription, want)
	}
}

// TestAuthorize pins what the authorization endpoint answers: a redirect to the client with a
// code, or with an OAuth error, or no redirect at all.
func TestAuthorize(t *testing.T) {
	verifier := oauth2.GenerateVerifier()
	tests := []struct {
		name    string
		opts    Options
		url     func(conf *oauth2.Config) string
		wantErr string            // Approve's error
		want    map[string]string // query parameters of the redirect
	}{{
		name: "approved",
		url:  func(conf *oauth2.Config) string { return conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)) },
		want: map[string]string{"state": state, "scope": "read write", "error": ""},
	}, {
		name: "no code_challenge",
		url:  func(conf *oauth2.Config) string { return conf.AuthCodeURL(state) },
		want: map[string]string{"state": state, "code": "", "error": "invalid_request",
			"error_description": descInvalidRequest + " Clients must include a code_challenge when performing the authorize code flow, but it is missing."},
	}, {
		name: "no code_challenge, PKCE optional",
		opts: Options{PKCEOptional: true},
		url:  func(conf *oauth2.Config) string { return conf.AuthCodeURL(state) },
		want: map[string]string{"state": state, "error": ""},
	}, {
		name: "plain code_challenge_method",
		opts: Options{PKCEOptional: true},
		url: func(conf *oauth2.Config) string {
			return conf.AuthCodeURL(state, oauth2.SetAuthURLParam("code_challenge", verifier), oauth2.SetAuthURLParam("code_challenge_method", "plain"))
		},
		want: map[string]string{"code": "", "error": "invalid_request",
			"error_description": descInvalidRequest + " Clients must use code_challenge_method=S256, plain is not allowed."},
	}, {
		name: "state shorter than 8",
		url: func(conf *oauth2.Config) string {
			return conf.AuthCodeURL("short", oauth2.S256ChallengeOption(verifier))
		},
		want: map[string]string{"state": "short", "code": "", "error": "invalid_state",
			"error_description": "The state is missing or does not have enough characters and is therefore considered too weak. Request parameter 'state' must be at least be 8 characters long to ensure sufficient entropy."},
	}, {
		name: "scope not allowed",
		url: func(conf *oauth2.Config) string {
			return conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("scope", "read admin"))
		},
		want: map[string]string{"code": "", "error": "invalid_scope",
			"error_description": descInvalidScope + " The OAuth 2.0 Client is not allowed to request scope 'admin'."},
	}, {
		name: "unknown redirect_uri",
		url: func(conf *oauth2.Config) string {
			conf.RedirectURL = "http://evil.example/callback"
			return conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))
		},
		wantErr: `approve: 400 Bad Request: {"error":"invalid_request","error_description":"` + descInvalidRequest + ` The 'redirect_uri' parameter does not match any of the OAuth 2.0 Client's pre-registered redirect urls."}`,
	}, {
		name: "unknown client",
		url: func(conf *oauth2.Config) string {
			conf.ClientID = "nobody"
			return conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))
		},
		wantErr: `approve: 401 Unauthorized: {"error":"invalid_client","error_description":"` + descInvalidClient + ` The requested OAuth 2.0 Client does not exist."}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.opts)
			conf := appConfig(srv)
			loc, err := srv.Approve(tt.url(conf))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Approve: err = %v,\nwant %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			q := loc.Query()
			for k, want := range tt.want {
				if got := q.Get(k); got != want {
					t.Errorf("redirect %s = %q, want %q", k, got, want)
				}
			}
			if tt.want["error"] == "" && q.Get("code") == "" {
				t.Errorf("redirect %s has no code", loc)
			}
		})
	}
}

// TestPKCEOptional exchanges a code obtained without PKCE when PKCE is optional.
func TestPKCEOptional(t *testing.T) {
	srv := newServer(t, Options{PKCEOptional: true})
	conf := appConfig(srv)
	loc, err := srv.Approve(conf.AuthCodeURL(state))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conf.Exchange(t.Context(), loc.Query().Get("code")); err != nil {
		t.Fatalf("Exchange without PKCE: %v", err)
	}
}

// TestPublicClient runs the code flow for a public client, which sends no secret.
func TestPublicClient(t *testing.T) {
	srv := newServer(t, Options{})
	conf := appConfig(srv)
	conf.ClientID, conf.ClientSecret, conf.Scopes = pubID, "", []string{"read"}
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	tok := connect(t, srv, conf)
	wantAPI(t, srv, tok.AccessToken, http.StatusOK, meUser)
	if _, err := refresh(t.Context(), conf, tok.RefreshToken); err != nil {
		t.Errorf("refresh: %v", err)
	}
}

// TestRefreshTokenScopes: with RefreshTokenScopes set, only a grant with one of them gets a
// refresh token.
func TestRefreshTokenScopes(t *testing.T) {
	srv := New(t, Options{RefreshTokenScopes: []string{"offline_access"}})
	srv.AddClient(appID, appSecret, []string{callback}, ClientOptions{Scopes: []string{"read", "offline_access"}})
	conf := appConfig(srv)
	for _, tt := range []struct {
		scopes      []string
		wantRefresh bool
	}{
		{[]string{"read"}, false},
		{[]string{"read", "offline_access"}, true},
	} {
		conf.Scopes = tt.scopes
		tok := connect(t, srv, conf)
		if got := tok.RefreshToken != ""; got != tt.wantRefresh {
			t.Errorf("scopes %q: got a refresh token %t, want %t", tt.scopes, got, tt.wantRefresh)
		}
	}
}

// TestClientCredentials gets a token with the client credentials grant for a client of each
// authentication method and calls the API with it.
func TestClientCredentials(t *testing.T) {
	srv := newServer(t, Options{})
	tests := []struct {
		id    string
		style oauth2.AuthStyle
	}{{appID, oauth2.AuthStyleInHeader}, {postID, oauth2.AuthStyleInParams}}
	for _, tt := range tests {
		conf := clientCredentials(srv, tt.id, tt.style, "read")
		tok, err := conf.Token(t.Context())
		if err != nil {
			t.Fatalf("%s: Token: %v", tt.id, err)
		}
		if tok.RefreshToken != "" {
			t.Errorf("%s: got a refresh token from a client credentials grant", tt.id)
		}
		if tok.Extra("scope") != "read" {
			t.Errorf("%s: scope = %v, want read", tt.id, tok.Extra("scope"))
		}
		wantAPI(t, srv, tok.AccessToken, http.StatusOK, `{"id":"`+tt.id+`"}`)
	}
	if got := srv.TokenRequests("client_credentials"); got != 2 {
		t.Errorf("TokenRequests(client_credentials) = %d, want 2", got)
	}
}

func TestClientCredentialsErrors(t *testing.T) {
	tests := []struct {
		name   string
		id     string
		style  oauth2.AuthStyle
		scope  string
		status int
		code   string
		desc   string
	}{{
		name: "scope not allowed", id: appID, style: oauth2.AuthStyleInHeader, scope: "admin",
		status: 400, code: "invalid_scope",
		desc: descInvalidScope + " The OAuth 2.0 Client is not allowed to request scope 'admin'.",
	}, {
		name: "public client", id: pubID, style: oauth2.AuthStyleInParams, scope: "read",
		status: 400, code: "invalid_grant",
		desc: descInvalidGrant + " The OAuth 2.0 Client is marked as public and is thus not allowed to use authorization grant 'client_credentials'.",
	}, {
		name: "grant type not allowed", id: "codeonly", style: oauth2.AuthStyleInHeader, scope: "read",
		status: 400, code: "unauthorized_client",
		desc: "The client is not authorized to request a token using this method. The OAuth 2.0 Client is not allowed to use authorization grant 'client_credentials'.",
	}, {
		name: "client_secret_basic for a client_secret_post client", id: postID, style: oauth2.AuthStyleInHeader, scope: "read",
		status: 401, code: "invalid_client",
		desc: descInvalidClient + " The OAuth 2.0 Client supports client authentication method 'client_secret_post', but method 'client_secret_basic' was requested. You must configure the OAuth 2.0 client's 'token_endpoint_auth_method' value to accept 'client_secret_basic'.",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, Options{})
			srv.AddClient("codeonly", appSecret, []string{callback}, ClientOptions{Scopes: []string{"read"}, GrantTypes: []string{"authorization_code"}})
			_, err := clientCredentials(srv, tt.id, tt.style, tt.scope).Token(t.Context())
			wantOAuthError(t, err, tt.status, tt.code, tt.desc)
		})
	}
}

// TestEndpointAutoDetect shows what x/oauth2's auto-detected auth style costs with a
// client_secret_post client: a first request refused with invalid_client, which counts.
func TestEndpointAutoDetect(t *testing.T) {
	srv := newServer(t, Options{})
	conf := clientCredentials(srv, postID, oauth2.AuthStyleAutoDetect, "read")
	if _, err := conf.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := srv.TokenRequests("client_credentials"); got != 2 {
		t.Errorf("TokenRequests(client_credentials) = %d, want 2 (header, then params)", got)
	}
}

// TestApproveRequestError: Approve reports a request that fails.
func TestApproveRequestError(t *testing.T) {
	srv := newServer(t, Options{})
	_, err := srv.Approve("http://127.0.0.1:0/")
	if err == nil || !strings.HasPrefix(err.Error(), "approve: Get ") {
		t.Errorf("Approve(port 0) err = %v, want approve: Get ...", err)
	}
	var uerr *url.Error
	if !errors.As(err, &uerr) {
		t.Errorf("err = %T, want it to wrap a *url.Error", err)
	}
}
