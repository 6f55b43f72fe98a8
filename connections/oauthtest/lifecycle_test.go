package oauthtest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// clientCredentials is the x/oauth2 configuration of a client credentials grant for the
// client id (with appSecret, or none for the public client).
func clientCredentials(srv *Server, id string, style oauth2.AuthStyle, scopes ...string) *clientcredentials.Config {
	secret := appSecret
	if id == pubID {
		secret = ""
	}
	return &clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: srv.TokenURL(), Scopes: scopes, AuthStyle: style}
}

// TestRefreshRotation: a refresh returns a new refresh token and a new access token, and the
// old access token stops working.
func TestRefreshRotation(t *testing.T) {
	srv := newServer(t, Options{})
	conf := appConfig(srv)
	t0 := connect(t, srv, conf)
	t1, err := refresh(t.Context(), conf, t0.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if t1.RefreshToken == "" || t1.RefreshToken == t0.RefreshToken {
		t.Errorf("refresh returned refresh token changed %t, empty %t; want a new one", t1.RefreshToken != t0.RefreshToken, t1.RefreshToken == "")
	}
	if t1.AccessToken == t0.AccessToken {
		t.Error("refresh returned the same access token")
	}
	if t1.Extra("scope") != "read write" {
		t.Errorf("refreshed scope = %v, want %q", t1.Extra("scope"), "read write")
	}
	wantAPI(t, srv, t0.AccessToken, http.StatusUnauthorized, invalidToken)
	wantAPI(t, srv, t1.AccessToken, http.StatusOK, meUser)
	if _, err := refresh(t.Context(), conf, t1.RefreshToken); err != nil {
		t.Errorf("second refresh: %v", err)
	}
	if got := srv.TokenRequests("refresh_token"); got != 2 {
		t.Errorf("TokenRequests(refresh_token) = %d, want 2", got)
	}
}

// TestRefreshTokenReuseRevokesGrant: presenting a rotated refresh token fails and revokes the
// grant's newer refresh and access tokens too.
func TestRefreshTokenReuseRevokesGrant(t *testing.T) {
	srv := newServer(t, Options{})
	conf := appConfig(srv)
	t0 := connect(t, srv, conf)
	t1, err := refresh(t.Context(), conf, t0.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	other := connect(t, srv, conf) // another grant of the same client and user

	_, err = refresh(t.Context(), conf, t0.RefreshToken)
	wantOAuthError(t, err, 400, "invalid_grant", descInvalidGrant+" The refresh token was already used.")
	_, err = refresh(t.Context(), conf, t1.RefreshToken)
	wantOAuthError(t, err, 400, "invalid_grant", descInvalidGrant+" The refresh token was already used.")
	wantAPI(t, srv, t1.AccessToken, http.StatusUnauthorized, invalidToken)

	wantAPI(t, srv, other.AccessToken, http.StatusOK, meUser)
	if _, err := refresh(t.Context(), conf, other.RefreshToken); err != nil {
		t.Errorf("refresh of another grant: %v", err)
	}
}

// TestCodeReuseRevokesTokens: presenting a used code again revokes the tokens issued for it.
func TestCodeReuseRevokesTokens(t *testing.T) {
	srv := newServer(t, Options{})
	conf := appConfig(srv)
	v := oauth2.GenerateVerifier()
	c := code(t, srv, conf, v)
	tok, err := conf.Exchange(t.Context(), c, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conf.Exchange(t.Context(), c, oauth2.VerifierOption(v)); err == nil {
		t.Fatal("second exchange of a code succeeded")
	}
	wantAPI(t, srv, tok.AccessToken, http.StatusUnauthorized, invalidToken)
	_, err = refresh(t.Context(), conf, tok.RefreshToken)
	wantOAuthError(t, err, 400, "invalid_grant", descInvalidGrant+" The refresh token was already used.")
}

// TestConcurrentRefreshSameToken: of many refreshes sent at once with one refresh token,
// exactly one succeeds. Each other one fails: as a concurrent request (invalid_request), as a
// reuse (invalid_grant, and the grant is revoked) when it comes after the rotation, or as an
// unknown token (invalid_grant) when it comes after a reuse.
func TestConcurrentRefreshSameToken(t *testing.T) {
	const n = 20
	srv := newServer(t, Options{})
	conf := appConfig(srv)
	tok := connect(t, srv, conf)

	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = refresh(t.Context(), conf, tok.RefreshToken) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		var re *oauth2.RetrieveError
		switch {
		case err == nil:
			ok++
		case !errors.As(err, &re):
			t.Errorf("refresh: %v", err)
		case re.ErrorCode == "invalid_request" && re.ErrorDescription == descInvalidRequest+" Failed to refresh token because of multiple concurrent requests using the same token. Please retry the request.":
		case re.ErrorCode == "invalid_grant" && re.ErrorDescription == descInvalidGrant+" The refresh token was already used.":
		case re.ErrorCode == "invalid_grant" && re.ErrorDescription == descInvalidGrant+" The refresh token is malformed or not valid.":
			// It came after another loser's reuse had deleted the token.
		default:
			t.Errorf("refresh: %d %s %s", re.Response.StatusCode, re.ErrorCode, re.ErrorDescription)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent refreshes succeeded, want 1", ok, n)
	}
	if got := srv.TokenRequests("refresh_token"); got != n {
		t.Errorf("TokenRequests(refresh_token) = %d, want %d", got, n)
	}
}

// TestConcurrentGrants runs many independent grants at once: flows, refreshes, API calls and
// revocations (for the race detector).
func TestConcurrentGrants(t *testing.T) {
	const n = 8
	srv := newServer(t, Options{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			conf := appConfig(srv)
			v := oauth2.GenerateVerifier()
			loc, err := srv.Approve(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(v)))
			if err != nil {
				t.Error(err)
				return
			}
			tok, err := conf.Exchange(t.Context(), loc.Query().Get("code"), oauth2.VerifierOption(v))
			for i := 0; err == nil && i < 3; i++ {
				if status, body := callAPI(t, srv, tok.AccessToken); status != http.StatusOK {
					t.Errorf("API = %d %s", status, body)
				}
				tok, err = refresh(t.Context(), conf, tok.RefreshToken)
			}
			if err != nil {
				t.Error(err)
				return
			}
			if status, _ := revoke(t, srv, url.Values{"token": {tok.RefreshToken}}, appID, appSecret); status != http.StatusOK {
				t.Errorf("revoke = %d", status)
			}
			cc, err := clientCredentials(srv, appID, oauth2.AuthStyleInHeader).Token(t.Context())
			if err != nil {
				t.Error(err)
				return
			}
			if status, body := callAPI(t, srv, cc.AccessToken); status != http.StatusOK {
				t.Errorf("API = %d %s", status, body)
			}
		})
	}
	wg.Wait()
	if got, want := srv.TokenRequestsTotal(), n*5; got != want {
		t.Errorf("TokenRequestsTotal() = %d, want %d", got, want)
	}
	if got, want := srv.APIRequests(), n*4; got != want {
		t.Errorf("APIRequests() = %d, want %d", got, want)
	}
}

// revoke POSTs form to the revocation endpoint, authenticating with HTTP Basic when id is set.
func revoke(t *testing.T, srv *Server, form url.Values, id, secret string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.RevokeURL(), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(id, secret)
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
	return resp.StatusCode, string(body)
}

// TestRevocation pins the revocation endpoint's answers (RFC 7009) and their effect.
func TestRevocation(t *testing.T) {
	tests := []struct {
		name       string
		form       func(tok *oauth2.Token) url.Values
		id, secret string
		status     int
		body       string
		revoked    bool // the grant's tokens stop working
	}{{
		name: "access token",
		form: func(tok *oauth2.Token) url.Values {
			return url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}
		},
		id: appID, secret: appSecret, status: 200, revoked: true,
	}, {
		name: "refresh token",
		form: func(tok *oauth2.Token) url.Values { return url.Values{"token": {tok.RefreshToken}} },
		id:   appID, secret: appSecret, status: 200, revoked: true,
	}, {
		name: "unknown token",
		form: func(*oauth2.Token) url.Values { return url.Values{"token": {"ory_at_unknown"}} },
		id:   appID, secret: appSecret, status: 200,
	}, {
		// fosite refuses with unauthorized_client, which RFC 7009 answers with 200.
		name: "another client's token",
		form: func(tok *oauth2.Token) url.Values {
			return url.Values{"token": {tok.AccessToken}, "client_id": {postID}, "client_secret": {appSecret}}
		},
		status: 200,
	}, {
		name: "wrong client secret",
		form: func(tok *oauth2.Token) url.Values { return url.Values{"token": {tok.AccessToken}} },
		id:   appID, secret: "wrong", status: 401,
		body: `{"error":"invalid_client","error_description":"` + descInvalidClient + `"}`,
	}, {
		name:   "no client authentication",
		form:   func(tok *oauth2.Token) url.Values { return url.Values{"token": {tok.AccessToken}} },
		status: 400,
		body:   `{"error":"invalid_request","error_description":"` + descInvalidRequest + ` Make sure that the various parameters are correct, be aware of case sensitivity and trim your parameters. Make sure that the client you are using has exactly whitelisted the redirect_uri you specified."}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, Options{})
			conf := appConfig(srv)
			tok := connect(t, srv, conf)
			status, body := revoke(t, srv, tt.form(tok), tt.id, tt.secret)
			if status != tt.status || body != tt.body {
				t.Errorf("revoke = %d %s, want %d %s", status, body, tt.status, tt.body)
			}
			if tt.revoked {
				wantAPI(t, srv, tok.AccessToken, http.StatusUnauthorized, invalidToken)
				_, err := refresh(t.Context(), conf, tok.RefreshToken)
				wantOAuthError(t, err, 400, "invalid_grant", descInvalidGrant+" The refresh token was already used.")
			} else {
				wantAPI(t, srv, tok.AccessToken, http.StatusOK, meUser)
			}
		})
	}
}

// TestAPI pins the protected API's answers.
func TestAPI(t *testing.T) {
	srv := newServer(t, Options{})
	tok := connect(t, srv, appConfig(srv))
	tests := []struct {
		name   string
		token  string
		always bool // API401Always
		status int
		body   string
	}{
		{"valid token", tok.AccessToken, false, 200, meUser},
		{"no token", "", false, 401, invalidToken},
		{"unknown token", "ory_at_unknown.sig", false, 401, invalidToken},
		{"refresh token", tok.RefreshToken, false, 401, invalidToken},
		{"API401Always", tok.AccessToken, true, 401, invalidToken},
		{"API401Always off again", tok.AccessToken, false, 200, meUser},
	}
	for i, tt := range tests {
		srv.API401Always(tt.always)
		status, body := callAPI(t, srv, tt.token)
		if status != tt.status || body != tt.body {
			t.Errorf("%s: GET %s = %d %s, want %d %s", tt.name, APIPath, status, body, tt.status, tt.body)
		}
		if got := srv.APIRequests(); got != i+1 {
			t.Errorf("%s: APIRequests() = %d, want %d", tt.name, got, i+1)
		}
	}
}

// TestIntrospection asks the introspection endpoint (RFC 7662) about a token before and after
// its revocation.
func TestIntrospection(t *testing.T) {
	srv := newServer(t, Options{})
	tok := connect(t, srv, appConfig(srv))
	introspect := func() map[string]any {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.IntrospectURL(), strings.NewReader(url.Values{"token": {tok.AccessToken}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(appID, appSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := introspect()
	for k, want := range map[string]any{"active": true, "sub": User, "client_id": appID, "scope": "read write"} {
		if got[k] != want {
			t.Errorf("introspection %s = %v, want %v", k, got[k], want)
		}
	}
	srv.RevokeAll()
	if got := introspect(); got["active"] != false {
		t.Errorf("introspection after RevokeAll = %v, want active false", got)
	}
}
