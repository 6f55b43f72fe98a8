package oauthtest

import "net/http"

// TokenRequests returns how many requests with grant_type grantType ("authorization_code",
// "refresh_token", "client_credentials"; "" for none) reached the token endpoint, failed,
// hung and refused ones included.
func (s *Server) TokenRequests(grantType string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenGrants[grantType]
}

// TokenRequestsTotal returns how many requests reached the token endpoint.
func (s *Server) TokenRequestsTotal() int { return int(s.tokenTotal.Load()) }

// APIRequests returns how many requests reached the protected API, refused ones included.
func (s *Server) APIRequests() int { return int(s.apiRequests.Load()) }

func (s *Server) countToken(grantType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenGrants[grantType]++
	s.tokenTotal.Add(1)
}

// FailTokenEndpoint makes the next n token requests answer status with a JSON error body,
// without reaching fosite: {"error":"temporarily_unavailable"} for 503, "server_error" for
// another 5xx, "invalid_client" for 401, "invalid_request" for another status. They are still
// counted. A later call replaces what is left of an earlier one.
func (s *Server) FailTokenEndpoint(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus = n, status
}

// HangTokenEndpoint makes the next n token requests (after any failures FailTokenEndpoint
// queued) block without an answer until the client cancels the request or the server closes,
// for timeout tests that need no sleep. They are still counted. A later call replaces what is
// left of an earlier one.
func (s *Server) HangTokenEndpoint(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hangN = n
}

// RevokeAll deletes every access and refresh token the server has issued, as a user who
// disconnects the app at the provider: a refresh with any of them then answers 400
// invalid_grant and the API 401 invalid_token. Tokens issued afterwards work.
func (s *Server) RevokeAll() { s.store.deleteAllTokens() }

// API401Always makes the protected API answer 401 {"error":"invalid_token"} to every request,
// valid token or not, while on is true.
func (s *Server) API401Always(on bool) { s.api401.Store(on) }

// takeFault applies the next injected fault to a token request and reports whether it did (and
// so answered the request).
func (s *Server) takeFault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	fail, hang, status := s.failN > 0, false, s.failStatus
	switch {
	case fail:
		s.failN--
	case s.hangN > 0:
		s.hangN--
		hang = true
	}
	s.mu.Unlock()

	switch {
	case fail:
		writeJSON(w, status, map[string]string{
			"error":             injectedError(status),
			"error_description": "failure injected by oauthtest",
		})
		return true
	case hang:
		if s.hung != nil {
			s.hung()
		}
		if s.wait(r.Context()) == errClosing {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
		}
		return true
	}
	return false
}

// injectedError is the OAuth error code a failure injected with status carries.
func injectedError(status int) string {
	switch {
	case status == http.StatusServiceUnavailable:
		return "temporarily_unavailable"
	case status >= 500:
		return "server_error"
	case status == http.StatusUnauthorized:
		return "invalid_client"
	}
	return "invalid_request"
}
