package oauthtest

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"golang.org/x/oauth2"
)

// TestFailTokenEndpoint: the next n token requests answer the injected status and error, then
// fosite answers again.
func TestFailTokenEndpoint(t *testing.T) {
	tests := []struct {
		status int
		code   string
	}{
		{500, "server_error"},
		{502, "server_error"},
		{503, "temporarily_unavailable"},
		{429, "invalid_request"},
		{401, "invalid_client"},
		{400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			srv := newServer(t, Options{})
			conf := appConfig(srv)
			tok := connect(t, srv, conf)
			srv.FailTokenEndpoint(2, tt.status)
			for range 2 {
				_, err := refresh(t.Context(), conf, tok.RefreshToken)
				wantOAuthError(t, err, tt.status, tt.code, "failure injected by oauthtest")
			}
			if _, err := refresh(t.Context(), conf, tok.RefreshToken); err != nil {
				t.Errorf("refresh after the injected failures: %v", err)
			}
			if got := srv.TokenRequests("refresh_token"); got != 3 {
				t.Errorf("TokenRequests(refresh_token) = %d, want 3", got)
			}
			if got := srv.TokenRequestsTotal(); got != 4 {
				t.Errorf("TokenRequestsTotal() = %d, want 4", got)
			}
		})
	}
}

// TestHangTokenEndpoint: a hung token request ends when its client gives up, and the next one
// is answered.
func TestHangTokenEndpoint(t *testing.T) {
	srv := newServer(t, Options{})
	conf := appConfig(srv)
	tok := connect(t, srv, conf)

	srv.HangTokenEndpoint(1)
	ctx, cancel := context.WithCancel(t.Context())
	srv.hung = cancel // the client gives up as soon as the server hangs
	_, err := refresh(ctx, conf, tok.RefreshToken)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("refresh of a hung request: err = %v, want context.Canceled", err)
	}
	if _, err := refresh(t.Context(), conf, tok.RefreshToken); err != nil {
		t.Errorf("refresh after the hang: %v", err)
	}
	if got := srv.TokenRequests("refresh_token"); got != 2 {
		t.Errorf("TokenRequests(refresh_token) = %d, want 2", got)
	}
}

// TestHangReleasedByClose: closing the server answers a hung request with 503.
func TestHangReleasedByClose(t *testing.T) {
	errs := make(chan error, 1)
	t.Run("server", func(t *testing.T) {
		srv := newServer(t, Options{})
		srv.HangTokenEndpoint(1)
		hung := make(chan struct{})
		srv.hung = func() { close(hung) }
		go func() {
			_, err := clientCredentials(srv, appID, oauth2.AuthStyleInHeader).Token(context.Background())
			errs <- err
		}()
		<-hung
	}) // the server closes here, with the request hung
	wantOAuthError(t, <-errs, 503, "temporarily_unavailable", "")
}

// TestRevokeAll: every token stops working; later grants work.
func TestRevokeAll(t *testing.T) {
	srv := newServer(t, Options{})
	conf := appConfig(srv)
	user := connect(t, srv, conf)
	cc, err := clientCredentials(srv, appID, oauth2.AuthStyleInHeader).Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	srv.RevokeAll()
	wantAPI(t, srv, user.AccessToken, http.StatusUnauthorized, invalidToken)
	wantAPI(t, srv, cc.AccessToken, http.StatusUnauthorized, invalidToken)
	_, err = refresh(t.Context(), conf, user.RefreshToken)
	wantOAuthError(t, err, 400, "invalid_grant", descInvalidGrant+" The refresh token is malformed or not valid.")

	again := connect(t, srv, conf)
	wantAPI(t, srv, again.AccessToken, http.StatusOK, meUser)
}
