package oauthtest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"
)

// The user every authorization is granted for, and what the API answers about them.
const (
	User      = "user-1"
	UserEmail = "user-1@example.com"
)

// Endpoint paths, relative to Server.URL.
const (
	AuthorizePath  = "/oauth2/auth"
	TokenPath      = "/oauth2/token"
	RevokePath     = "/oauth2/revoke"
	IntrospectPath = "/oauth2/introspect"
	APIPath        = "/api/me"
)

// Options configure a Server. The zero value is a server with fosite's defaults and PKCE
// (S256) required.
type Options struct {
	// AccessTokenLifespan is how long an access token lives; 0 means fosite's default, one
	// hour. The expiry is real time (see the package doc).
	AccessTokenLifespan time.Duration
	// RefreshTokenLifespan is how long a refresh token lives; 0 means fosite's default, 30
	// days, and -1 never expires.
	RefreshTokenLifespan time.Duration
	// PKCEOptional lets authorization code flows go without PKCE. By default fosite's PKCE
	// handler requires a code_challenge on every authorization request (fosite's EnforcePKCE).
	// Either way only code_challenge_method=S256 is accepted; plain is refused.
	PKCEOptional bool
	// ScopeStrategy decides whether a client may request a scope; nil means
	// fosite.WildcardScopeStrategy (fosite's default: "read.*" allows "read.users").
	// fosite.HierarchicScopeStrategy ("read" allows "read.users") and
	// fosite.ExactScopeStrategy are the others fosite ships.
	ScopeStrategy fosite.ScopeStrategy
	// RefreshTokenScopes, when not empty, lists the scopes of which one must be granted for an
	// authorization code exchange to return a refresh token, as fosite's RefreshTokenScopes
	// (fosite's own default is "offline" and "offline_access"). Empty: every authorization code
	// exchange returns a refresh token. A client credentials grant never returns one.
	RefreshTokenScopes []string
	// Logger receives a line for every request fosite refuses, with fosite's hint and debug
	// text; nil discards them.
	Logger *slog.Logger
}

// Server is a running OAuth 2.0 authorization server and protected API for tests, built on
// fosite with its in-memory storage. All its methods are safe for concurrent use.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:port with no trailing slash.
	URL string

	t        testing.TB
	ts       *httptest.Server
	provider fosite.OAuth2Provider
	store    *store
	config   *fosite.Config
	log      *slog.Logger
	closing  chan struct{} // closed when the server starts closing; releases hung requests

	tokenTotal  atomic.Int64
	apiRequests atomic.Int64
	mu          sync.Mutex
	tokenGrants map[string]int // token requests by grant_type; under mu

	failN      int // token requests still to fail; under mu
	failStatus int // their status; under mu
	hangN      int // token requests still to hang; under mu
	api401     atomic.Bool

	hung func() // called when a token request starts to hang; set by this package's tests
}

// New starts a Server on the loopback interface and closes it when t's test ends. Clients are
// added with AddClient.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	secret := make([]byte, 32)
	rand.Read(secret) // never fails (crypto/rand documents it)

	// Every field fosite fills in lazily on first use is set here: a lazy write during
	// concurrent requests would be a data race.
	cfg := &fosite.Config{
		AccessTokenLifespan:  opts.AccessTokenLifespan,
		RefreshTokenLifespan: opts.RefreshTokenLifespan,
		GlobalSecret:         secret,
		EnforcePKCE:          !opts.PKCEOptional,
		ScopeStrategy:        opts.ScopeStrategy,
		RefreshTokenScopes:   opts.RefreshTokenScopes,
		// Test clients are created per test; bcrypt's lowest cost keeps that fast.
		HashCost:                 bcrypt.MinCost,
		AudienceMatchingStrategy: fosite.DefaultAudienceMatchingStrategy,
	}
	if cfg.ScopeStrategy == nil {
		cfg.ScopeStrategy = fosite.WildcardScopeStrategy
	}
	if cfg.RefreshTokenScopes == nil {
		cfg.RefreshTokenScopes = []string{}
	}
	cfg.ClientSecretsHasher = &fosite.BCrypt{Config: cfg}

	s := &Server{
		t:           t,
		store:       newStore(),
		config:      cfg,
		log:         opts.Logger,
		closing:     make(chan struct{}),
		tokenGrants: map[string]int{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.provider = compose.Compose(cfg, s.store, compose.NewOAuth2HMACStrategy(cfg),
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2ClientCredentialsGrantFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
		compose.OAuth2PKCEFactory, // after the explicit handler: it needs the code
	)

	mux := http.NewServeMux()
	mux.HandleFunc(AuthorizePath, s.authorize)
	mux.HandleFunc(TokenPath, s.token)
	mux.HandleFunc(RevokePath, s.revoke)
	mux.HandleFunc(IntrospectPath, s.introspect)
	mux.HandleFunc(APIPath, s.api)
	s.ts = httptest.NewServer(mux)
	s.URL = s.ts.URL
	cfg.TokenURL = s.TokenURL()
	t.Cleanup(func() {
		close(s.closing)
		s.ts.Close()
	})
	return s
}

// AuthorizeURL returns the authorization endpoint's URL.
func (s *Server) AuthorizeURL() string { return s.URL + AuthorizePath }

// TokenURL returns the token endpoint's URL.
func (s *Server) TokenURL() string { return s.URL + TokenPath }

// RevokeURL returns the revocation endpoint's URL (RFC 7009).
func (s *Server) RevokeURL() string { return s.URL + RevokePath }

// IntrospectURL returns the introspection endpoint's URL (RFC 7662).
func (s *Server) IntrospectURL() string { return s.URL + IntrospectPath }

// APIURL returns the URL of the protected API: GET it with "Authorization: Bearer <token>".
func (s *Server) APIURL() string { return s.URL + APIPath }

// Endpoint returns the server's endpoints for golang.org/x/oauth2, with AuthStyle left to
// auto-detection. Auto-detection tries the Basic header first, so a client_secret_post client
// costs two token requests on its first grant, the first refused with 401 invalid_client, and
// TokenRequests counts both; set AuthStyle to match the client's TokenEndpointAuthMethod
// (oauth2.AuthStyleInHeader for AuthBasic, oauth2.AuthStyleInParams for AuthPost and AuthNone)
// to send one.
func (s *Server) Endpoint() oauth2.Endpoint {
	return oauth2.Endpoint{AuthURL: s.AuthorizeURL(), TokenURL: s.TokenURL()}
}

// authorize is fosite's authorization endpoint, approving every valid request as User with
// every scope requested (fosite has checked them against the client's) and no login page.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ar, err := s.provider.NewAuthorizeRequest(ctx, r)
	if err != nil {
		s.logRefusal("authorize", err)
		s.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	for _, scope := range ar.GetRequestedScopes() {
		ar.GrantScope(scope)
	}
	session := &fosite.DefaultSession{Subject: User, Username: User}
	resp, err := s.provider.NewAuthorizeResponse(ctx, ar, session)
	if err != nil {
		s.logRefusal("authorize", err)
		s.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	s.provider.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// token is fosite's token endpoint, after counting the request and applying injected faults.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// fosite parses the same form itself (ParseMultipartForm calls ParseForm); parsing it
	// first only lets the counter see the grant type.
	_ = r.ParseForm()
	s.countToken(r.PostForm.Get("grant_type"))
	if s.takeFault(w, r) {
		return
	}

	ar, err := s.provider.NewAccessRequest(ctx, r, new(fosite.DefaultSession))
	if err != nil {
		s.logRefusal("token", err)
		s.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	if ar.GetGrantTypes().ExactOne("client_credentials") {
		// fosite has checked the scopes against the client's; granting them, and naming the
		// token's subject, is the application's part.
		for _, scope := range ar.GetRequestedScopes() {
			ar.GrantScope(scope)
		}
		if sess, ok := ar.GetSession().(*fosite.DefaultSession); ok {
			sess.Subject = ar.GetClient().GetID()
		}
	}
	resp, err := s.provider.NewAccessResponse(ctx, ar)
	if err != nil {
		s.logRefusal("token", err)
		s.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	s.provider.WriteAccessResponse(ctx, w, ar, resp)
}

// revoke is fosite's revocation endpoint.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	err := s.provider.NewRevocationRequest(ctx, r)
	if err != nil {
		s.logRefusal("revoke", err)
	}
	s.provider.WriteRevocationResponse(ctx, w, err)
}

// introspect is fosite's introspection endpoint.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ir, err := s.provider.NewIntrospectionRequest(ctx, r, new(fosite.DefaultSession))
	if err != nil {
		s.logRefusal("introspect", err)
		s.provider.WriteIntrospectionError(ctx, w, err)
		return
	}
	s.provider.WriteIntrospectionResponse(ctx, w, ir)
}

// Me is the protected API's answer: who the access token was issued for. A user's token gives
// ID User and Email UserEmail; a client credentials token gives the client's ID and no email.
type Me struct {
	ID    string `json:"id"`
	Email string `json:"email,omitempty"`
}

// api is the protected resource at APIPath: it checks the bearer token with fosite's
// IntrospectToken and answers Me, or 401 {"error":"invalid_token"} (RFC 6750).
func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	s.apiRequests.Add(1)
	if s.api401.Load() {
		writeInvalidToken(w)
		return
	}
	ctx := r.Context()
	use, ar, err := s.provider.IntrospectToken(ctx, fosite.AccessTokenFromRequest(r), fosite.AccessToken, new(fosite.DefaultSession))
	if err != nil || use != fosite.AccessToken { // fosite also accepts a refresh token
		if err != nil {
			s.logRefusal("api", err)
		}
		writeInvalidToken(w)
		return
	}
	me := Me{ID: ar.GetSession().GetSubject()}
	if me.ID == User {
		me.Email = UserEmail
	}
	writeJSON(w, http.StatusOK, me)
}

func writeInvalidToken(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client is gone when it fails
}

// logRefusal logs why fosite refused a request: the error code with fosite's hint and debug
// text, which the response leaves out or shortens. No token or secret is in them.
func (s *Server) logRefusal(endpoint string, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	s.log.Info("request refused", "endpoint", endpoint, "error", rfc.ErrorField,
		"status", rfc.CodeField, "hint", rfc.HintField, "debug", rfc.DebugField)
}

// Approve performs a GET of authorizeURL (an authorization request at AuthorizeURL, such as
// x/oauth2's Config.AuthCodeURL returns) without following the redirect, and returns the
// redirect's Location: the client's redirect_uri with code and state, ready for the test to
// deliver to the client's callback. A redirect carrying an OAuth error (error=invalid_request,
// when fosite refuses the request but trusts the redirect_uri) is returned as is, as a real
// provider would send it; err is set only when there is no redirect (an unknown client or
// redirect_uri: fosite answers with an error page) or the request fails.
func (s *Server) Approve(authorizeURL string) (*url.URL, error) {
	client := *s.ts.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Get(authorizeURL)
	if err != nil {
		return nil, fmt.Errorf("approve: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("approve: %s: %s", resp.Status, body)
	}
	loc, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("approve: %w", err)
	}
	return loc, nil
}

// errClosing is what wait answers when the server closes.
var errClosing = errors.New("oauthtest: server closing")

// wait blocks until ctx is done or the server closes, and says which.
func (s *Server) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return errClosing
	}
}
