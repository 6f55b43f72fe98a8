package oauthtest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/pkce"
	"github.com/ory/fosite/storage"
)

// store is fosite's in-memory storage (storage.MemoryStore) behind one mutex.
//
// MemoryStore is not safe for concurrent use as it stands: RevokeRefreshToken writes its
// RefreshTokens map under a different mutex than GetRefreshTokenSession reads it with, and its
// Clients map has no exported lock. Every call goes through store, under mu, so the server
// stays race-free while many clients refresh, revoke and call the API at once. MemoryStore's
// methods never call back into store, so mu cannot deadlock. store adds one check that a
// transactional store makes (see RotateRefreshToken).
//
// What fosite reads from a store's answers, as MemoryStore gives them:
//   - an unknown code or token: fosite.ErrNotFound;
//   - a used authorization code: its request with fosite.ErrInvalidatedAuthorizeCode, and
//     fosite revokes the tokens issued for it;
//   - a rotated or revoked refresh token: its request with fosite.ErrInactiveToken, and fosite
//     revokes the whole grant (refresh token reuse).
type store struct {
	mu  sync.Mutex
	mem *storage.MemoryStore
}

var (
	_ fosite.Storage                = (*store)(nil)
	_ oauth2.CoreStorage            = (*store)(nil)
	_ oauth2.TokenRevocationStorage = (*store)(nil)
	_ pkce.PKCERequestStorage       = (*store)(nil)
)

func newStore() *store { return &store{mem: storage.NewMemoryStore()} }

// addClient registers c, or reports false when a client with its ID exists.
func (s *store) addClient(c fosite.Client) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.mem.Clients[c.GetID()]; ok {
		return false
	}
	s.mem.Clients[c.GetID()] = c
	return true
}

// deleteAllTokens deletes every access and refresh token, so each one is unknown from then on.
func (s *store) deleteAllTokens() {
	ctx := context.Background()
	s.mu.Lock()
	defer s.mu.Unlock()
	for sig := range s.mem.RefreshTokens {
		_ = s.mem.DeleteRefreshTokenSession(ctx, sig) // never fails
	}
	for sig := range s.mem.AccessTokens {
		_ = s.mem.DeleteAccessTokenSession(ctx, sig) // never fails
	}
}

// GetClient implements fosite.ClientManager.
func (s *store) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.GetClient(ctx, id)
}

// ClientAssertionJWTValid implements fosite.ClientManager.
func (s *store) ClientAssertionJWTValid(ctx context.Context, jti string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.ClientAssertionJWTValid(ctx, jti)
}

// SetClientAssertionJWT implements fosite.ClientManager.
func (s *store) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.SetClientAssertionJWT(ctx, jti, exp)
}

// CreateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage.
func (s *store) CreateAuthorizeCodeSession(ctx context.Context, sig string, req fosite.Requester) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.CreateAuthorizeCodeSession(ctx, sig, req)
}

// GetAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage.
func (s *store) GetAuthorizeCodeSession(ctx context.Context, sig string, sess fosite.Session) (fosite.Requester, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.GetAuthorizeCodeSession(ctx, sig, sess)
}

// InvalidateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage.
func (s *store) InvalidateAuthorizeCodeSession(ctx context.Context, sig string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.InvalidateAuthorizeCodeSession(ctx, sig)
}

// CreatePKCERequestSession implements pkce.PKCERequestStorage.
func (s *store) CreatePKCERequestSession(ctx context.Context, sig string, req fosite.Requester) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.CreatePKCERequestSession(ctx, sig, req)
}

// GetPKCERequestSession implements pkce.PKCERequestStorage.
func (s *store) GetPKCERequestSession(ctx context.Context, sig string, sess fosite.Session) (fosite.Requester, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.GetPKCERequestSession(ctx, sig, sess)
}

// DeletePKCERequestSession implements pkce.PKCERequestStorage.
func (s *store) DeletePKCERequestSession(ctx context.Context, sig string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.DeletePKCERequestSession(ctx, sig)
}

// CreateAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *store) CreateAccessTokenSession(ctx context.Context, sig string, req fosite.Requester) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.CreateAccessTokenSession(ctx, sig, req)
}

// GetAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *store) GetAccessTokenSession(ctx context.Context, sig string, sess fosite.Session) (fosite.Requester, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.GetAccessTokenSession(ctx, sig, sess)
}

// DeleteAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *store) DeleteAccessTokenSession(ctx context.Context, sig string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.DeleteAccessTokenSession(ctx, sig)
}

// CreateRefreshTokenSession implements oauth2.RefreshTokenStorage.
func (s *store) CreateRefreshTokenSession(ctx context.Context, sig, accessSig string, req fosite.Requester) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.CreateRefreshTokenSession(ctx, sig, accessSig, req)
}

// GetRefreshTokenSession implements oauth2.RefreshTokenStorage.
func (s *store) GetRefreshTokenSession(ctx context.Context, sig string, sess fosite.Session) (fosite.Requester, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.GetRefreshTokenSession(ctx, sig, sess)
}

// DeleteRefreshTokenSession implements oauth2.RefreshTokenStorage.
func (s *store) DeleteRefreshTokenSession(ctx context.Context, sig string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.DeleteRefreshTokenSession(ctx, sig)
}

// RotateRefreshToken implements oauth2.RefreshTokenStorage: before fosite stores a refresh's
// new tokens, MemoryStore revokes the grant's refresh token and deletes its access token, so
// the access token issued with the old refresh token stops working too.
//
// fosite reads the presented refresh token (sig) and rotates it in two storage calls; a
// database store (Ory Hydra's) runs both in one transaction and fails the loser of two
// concurrent refreshes with one token, where MemoryStore would let both succeed. store makes
// that check: when sig was rotated, revoked or deleted since fosite read it,
// RotateRefreshToken changes nothing and answers fosite.ErrSerializationFailure, which fosite
// turns into invalid_request ("multiple concurrent requests using the same token").
func (s *store) RotateRefreshToken(ctx context.Context, requestID, sig string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.mem.GetRefreshTokenSession(ctx, sig, nil); err != nil {
		if errors.Is(err, fosite.ErrInactiveToken) || errors.Is(err, fosite.ErrNotFound) {
			return fosite.ErrSerializationFailure
		}
		return err
	}
	return s.mem.RotateRefreshToken(ctx, requestID, sig)
}

// RevokeRefreshToken implements oauth2.TokenRevocationStorage: it marks the grant's refresh
// token inactive, so presenting it again is detected as reuse.
func (s *store) RevokeRefreshToken(ctx context.Context, requestID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.RevokeRefreshToken(ctx, requestID)
}

// RevokeAccessToken implements oauth2.TokenRevocationStorage: it deletes the grant's access
// token.
func (s *store) RevokeAccessToken(ctx context.Context, requestID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.RevokeAccessToken(ctx, requestID)
}
