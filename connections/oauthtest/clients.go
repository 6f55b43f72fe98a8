package oauthtest

import (
	"context"
	"slices"

	"github.com/ory/fosite"
)

// Client authentication methods at the token, revocation and introspection endpoints.
const (
	// AuthBasic sends client_id and client_secret in an HTTP Basic Authorization header
	// (x/oauth2's AuthStyleInHeader). It is the default for a confidential client.
	AuthBasic = "client_secret_basic"
	// AuthPost sends them as form fields of the request body (x/oauth2's AuthStyleInParams).
	AuthPost = "client_secret_post"
	// AuthNone sends only client_id: a public client's method, set by ClientOptions.Public.
	AuthNone = "none"
)

// ClientOptions describe a client beyond its ID, secret and redirect URIs.
type ClientOptions struct {
	// Public marks a client with no secret (a native or single-page app): it authenticates
	// with client_id alone and may not use the client_credentials grant.
	Public bool
	// GrantTypes lists the grants the client may use. Empty: "authorization_code" and
	// "refresh_token", and "client_credentials" too for a confidential client.
	GrantTypes []string
	// Scopes lists the scopes the client may request, matched with Options.ScopeStrategy.
	// fosite refuses a request for any other scope (invalid_scope); empty allows none.
	Scopes []string
	// TokenEndpointAuthMethod is AuthBasic (the default) or AuthPost for a confidential
	// client; fosite refuses a request that authenticates the other way (invalid_client). A
	// public client's is AuthNone.
	TokenEndpointAuthMethod string
}

// AddClient registers a client with fosite. secret is ignored for a public client.
// redirectURIs are matched as fosite does: exactly, except that a loopback redirect URI
// (http://127.0.0.1/cb, http://[::1]/cb) matches whatever port the request names (RFC 8252);
// http is only allowed for loopback and localhost. AddClient fails the test on an ID that is
// taken or an unknown TokenEndpointAuthMethod.
func (s *Server) AddClient(id, secret string, redirectURIs []string, opts ClientOptions) {
	s.t.Helper()
	method := opts.TokenEndpointAuthMethod
	switch {
	case opts.Public && method != "" && method != AuthNone:
		s.t.Fatalf("oauthtest: client %q: a public client authenticates with %q, not %q", id, AuthNone, method)
	case opts.Public:
		method = AuthNone
	case method == "":
		method = AuthBasic
	case method != AuthBasic && method != AuthPost:
		s.t.Fatalf("oauthtest: client %q: unknown token endpoint auth method %q (want %q or %q)", id, method, AuthBasic, AuthPost)
	}
	grants := slices.Clone(opts.GrantTypes)
	if len(grants) == 0 {
		grants = []string{"authorization_code", "refresh_token"}
		if !opts.Public {
			grants = append(grants, "client_credentials")
		}
	}
	var hashed []byte
	if !opts.Public {
		var err error
		hashed, err = s.config.GetSecretsHasher(context.Background()).Hash(context.Background(), []byte(secret))
		if err != nil {
			s.t.Fatalf("oauthtest: client %q: hash secret: %v", id, err)
		}
	}
	// fosite enforces TokenEndpointAuthMethod only for an OpenID Connect client; this is one
	// for that reason alone (the server has no OpenID Connect handlers).
	c := &fosite.DefaultOpenIDConnectClient{
		DefaultClient: &fosite.DefaultClient{
			ID:            id,
			Secret:        hashed,
			RedirectURIs:  slices.Clone(redirectURIs),
			GrantTypes:    grants,
			ResponseTypes: []string{"code"},
			Scopes:        slices.Clone(opts.Scopes),
			Public:        opts.Public,
		},
		TokenEndpointAuthMethod: method,
	}
	if !s.store.addClient(c) {
		s.t.Fatalf("oauthtest: client %q already exists", id)
	}
}
