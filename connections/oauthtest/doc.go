// Package oauthtest runs a real OAuth 2.0 authorization server for tests, built on
// github.com/ory/fosite: the authorization code grant with PKCE, refresh tokens with rotation,
// the client credentials grant, revocation (RFC 7009), introspection (RFC 7662), and a
// protected API that checks bearer tokens. Every protocol decision is fosite's; the package
// adds an authorization endpoint that approves at once as one fixed user, request counters and
// fault injection.
//
// # Use
//
//	srv := oauthtest.New(t, oauthtest.Options{AccessTokenLifespan: time.Minute})
//	srv.AddClient("app", "secret", []string{"http://127.0.0.1/callback"},
//		oauthtest.ClientOptions{Scopes: []string{"read"}})
//
//	conf := &oauth2.Config{ClientID: "app", ClientSecret: "secret", Endpoint: srv.Endpoint(),
//		RedirectURL: callbackServer.URL + "/callback", Scopes: []string{"read"}}
//	verifier := oauth2.GenerateVerifier()
//	cb, err := srv.Approve(conf.AuthCodeURL("state-12345678", oauth2.S256ChallengeOption(verifier)))
//	// cb is the client's redirect_uri with code and state: GET it to run the client's callback,
//	// which calls conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)).
//
//	// A token works at srv.APIURL() ("Authorization: Bearer ..."): 200
//	// {"id":"user-1","email":"user-1@example.com"}, or 401 {"error":"invalid_token"}.
//
// # The server
//
// The authorization endpoint (AuthorizeURL) approves every request fosite accepts, as User,
// granting every scope requested; there is no login or consent page. fosite requires a state
// of at least 8 characters and, unless Options.PKCEOptional, a code_challenge with
// code_challenge_method=S256 (plain is refused). A request with an unknown client or
// redirect_uri gets an error page; any other refused request is redirected to the client with
// error, error_description and state (Approve returns that redirect).
//
// The token endpoint (TokenURL) takes POST only, with a form body, and answers JSON, as fosite
// does; client secrets go in the Basic header or the form, per the client's
// TokenEndpointAuthMethod. Every authorization code exchange returns a refresh token (see
// Options.RefreshTokenScopes); a client credentials grant returns none.
//
// Refresh tokens always rotate: fosite v0.49 has no setting to turn rotation off, so Options
// has none. A refresh returns a new refresh token and a new access token, and revokes the old
// ones, the old access token included. Presenting a rotated refresh token again is taken as
// theft: fosite answers invalid_grant and revokes the whole grant, so its newest refresh and
// access tokens stop working too. Presenting a used authorization code again likewise revokes
// the tokens issued for it. Two refreshes sent at once with the same refresh token: one
// succeeds; the other fails with invalid_request when it overlaps the first, or as a reuse
// (invalid_grant, revoking the grant) when it comes after it.
//
// Revoking (RevokeURL) an access or a refresh token revokes both tokens of its grant. As RFC
// 7009 wants, an unknown token, or one of another client, answers 200 and changes nothing.
//
// # Errors the server answers
//
// Token endpoint (status, error):
//
//	missing code_verifier                          400 invalid_grant
//	wrong code_verifier                            400 invalid_grant
//	code used twice, or a wrong redirect_uri       400 invalid_grant
//	unknown, rotated, revoked or expired refresh   400 invalid_grant
//	refresh token of another client                400 invalid_grant
//	client_credentials for a public client         400 invalid_grant
//	concurrent refresh with one refresh token      400 invalid_request
//	unknown grant type, GET, no body               400 invalid_request
//	scope the client may not request               400 invalid_scope
//	grant type the client may not use              400 unauthorized_client
//	wrong secret, unknown client                   401 invalid_client
//	secret sent the other way than the client's
//	TokenEndpointAuthMethod                        401 invalid_client
//
// error_description is fosite's: the RFC 6749 text of the code, then a hint naming the cause.
// Authorization endpoint, in the redirect: invalid_request (no code_challenge, plain method),
// invalid_state (state shorter than 8), invalid_scope; without a redirect: 400 invalid_request
// (unknown redirect_uri), 401 invalid_client (unknown client). Revocation endpoint: 200, 401
// invalid_client (wrong secret), 400 invalid_request (no client authentication). Protected
// API: 401 {"error":"invalid_token"} with WWW-Authenticate: Bearer error="invalid_token".
//
// # Time
//
// fosite reads the real clock (time.Now) for every expiry and offers no other time source, so
// the server has no Clock option: a token's expires_in is counted from real time and expiry is
// checked against real time. In tests that run patchbay on a fake clock, patchbay's clock
// decides when to refresh; the server only needs lifespans long enough that nothing expires at
// the server during the test (the default hour does). To make the server refuse a token, use
// RevokeAll, API401Always or the revocation endpoint instead of waiting.
//
// # Fault injection and counters
//
// TokenRequests, TokenRequestsTotal and APIRequests count the requests that arrived, refused
// ones included; they prove that N concurrent callers caused one refresh. FailTokenEndpoint and
// HangTokenEndpoint act on the next token requests before fosite sees them; RevokeAll and
// API401Always make valid tokens fail.
//
// # Not here
//
// Form-encoded token responses and GET token endpoints are not OAuth 2.0 as fosite serves it,
// so this server does not fake them; test those against a plain httptest.Server. There is no
// OpenID Connect, implicit or password grant, and no JWT access tokens (tokens are fosite's
// opaque HMAC tokens, "ory_at_...", "ory_rt_...").
package oauthtest
