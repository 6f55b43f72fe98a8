package connections

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"os"
	"time"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// The refresh lease's timing. A refresh holds its connection's lease in the store for the
// token request (RefreshTimeout), the save after it (refreshSaveTimeout) and leaseSlack more,
// so a holder that is alive never outlives its lease; one that died holds it no longer than
// that (90 s with the default RefreshTimeout of a minute).
const (
	// refreshSaveTimeout bounds the short transaction that saves a refresh's tokens and
	// releases its lease.
	refreshSaveTimeout = 15 * time.Second
	// leaseSlack is lease time beyond the request and the save: a pause of the process (a
	// stop-the-world collection, a machine short of CPU) shorter than this loses nothing.
	leaseSlack = 15 * time.Second
	// leasePollMin and leasePollMax bound the pauses between two looks at a lease another
	// holder has: short at first, as a live holder usually finishes within a request's time.
	leasePollMin = 2 * time.Millisecond
	leasePollMax = 250 * time.Millisecond
)

// leaseTime is how long a refresh holds its connection's lease.
func (m *Manager) leaseTime() time.Duration { return m.timeout + refreshSaveTimeout + leaseSlack }

// newLeaseHolder names one refresh as a lease's holder: the host and process, for an operator
// who finds a lease held, and a random part of its own.
func newLeaseHolder() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	b := make([]byte, 6)
	rand.Read(b) // never fails (crypto/rand documents it)
	return fmt.Sprintf("%s:%d:%x", host, os.Getpid(), b)
}

// takeLease takes the connection's lease for holder. While another holder has it, takeLease
// waits without holding any database lock: it looks again after a pause that doubles from
// leasePollMin to leasePollMax, until the holder releases it or it expires (a holder that
// died), at most the lease time and one pause. It returns the record read as the lease was
// taken.
func (m *Manager) takeLease(ctx context.Context, id, holder string) (*Record, error) {
	ctx, cancel := context.WithTimeout(ctx, m.leaseTime()+leasePollMax)
	defer cancel()
	pause := leasePollMin
	for {
		rec, err := m.store.TakeLease(ctx, id, holder, m.leaseTime())
		var held *LeaseHeldError
		if !errors.As(err, &held) {
			return rec, err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err // the holder neither released its lease nor let it expire
		case <-t.C:
		}
		pause = min(2*pause, leasePollMax)
	}
}

// refreshToken gets a new token unless another caller, here or in another process, already
// did: one refresh per connection at a time (singleflight in the process, the store's lease
// across processes), the record re-read as the lease is taken. reactive is a refresh after a
// refused request; it honours min_interval by failing rather than refreshing again.
func (c *conn) refreshToken(ctx context.Context, stale Secret, reactive bool) (*Record, error) {
	rec, _, _ := c.current()
	ran := false // this caller ran the refresh (and loaded its result) rather than waited for it
	v, err, _ := c.m.flight.Do(rec.ID, func() (any, error) {
		ran = true
		// The refresh outlives a caller that gives up: a rotated refresh token must be saved.
		// (A process killed between the provider's answer and the save loses it: the next
		// refresh sends the retired one and, refused, disconnects; docs/connections.md.)
		ctx := context.WithoutCancel(ctx)
		r := c.refreshLeased(ctx, rec.ID, stale, reactive)
		saved, err := r.saved, r.err
		if saved != nil {
			if lerr := c.load(ctx, saved); lerr != nil && err == nil {
				err = lerr
			}
		}
		switch {
		case saved == nil && r.refreshed:
			// The store did not save the new token: the token the provider has just issued is
			// lost, and a refresh token it rotated away, still in the store, will be refused at
			// the next refresh.
			c.m.log.Error("new token not saved", "connection_id", rec.ID, "app", rec.App, "name", rec.Name, "error", err)
		case saved == nil && r.failure != "":
			c.m.log.Error("disconnect not saved", "connection_id", rec.ID, "app", rec.App, "name", rec.Name, "reason", r.failure, "error", err)
		case r.failure != "":
			c.m.log.Warn("connection disconnected", "connection_id", rec.ID, "app", rec.App, "name", rec.Name, "reason", r.failure)
			c.m.tell(ctx, saved, "refresh_failed", r.failure)
			c.m.emit(ctx, saved, "disconnected", r.failure)
		case r.refreshed && r.superseded:
			c.m.log.Warn("new token not saved: the connection changed during the refresh", "connection_id", rec.ID, "app", rec.App, "name", rec.Name)
		case r.refreshed:
			c.m.log.Info("token refreshed", "connection_id", rec.ID, "app", rec.App, "expires_at", saved.Creds.Token.Expiry)
			c.m.tell(ctx, saved, "refreshed", "")
		case err != nil && !errors.Is(err, ErrTooSoon) && !errors.Is(err, ErrDisconnected):
			c.m.log.Warn("token refresh failed", "connection_id", rec.ID, "app", rec.App, "error", err)
			c.m.tell(ctx, rec, "refresh_failed", "")
		}
		return saved, err
	})
	saved, _ := v.(*Record)
	if !ran && saved != nil {
		// A caller that waited for another's refresh uses its result too: without it, this
		// conn would send the token the refresh just rotated away.
		if lerr := c.load(ctx, saved); lerr != nil && err == nil {
			err = lerr
		}
	}
	if err != nil {
		return nil, err
	}
	return saved, nil
}

// refreshResult is what one refresh under the lease did.
type refreshResult struct {
	saved      *Record // the record as saved, or as read when nothing was saved; nil if unknown
	err        error
	refreshed  bool   // the provider issued a new token
	superseded bool   // ... which was not saved: the connection's credentials changed meanwhile
	failure    string // the provider rejected the grant: the connection is disconnected for this
}

// refreshLeased is one refresh across processes: take the connection's lease in one short
// transaction (waiting while another holds it), decide on the record read then, ask the
// provider outside any transaction, then save the result and release the lease in a second
// short transaction that checks the lease is still held. No database lock is held while the
// provider is asked. ctx carries no cancellation of the caller's.
//
// The save starts from the record as it is then, not as it was read: a change made meanwhile
// by another writer (a new label) is kept. When the credentials changed meanwhile (the
// connection was disconnected or connected again), the new token is not saved: it belongs to
// the grant those replaced. When the lease was lost (the process was paused for longer than
// leaseSlack and another took the expired lease) nothing is saved either: the other holder's
// result stands, and this refresh fails with ErrLeaseLost.
func (c *conn) refreshLeased(ctx context.Context, id string, stale Secret, reactive bool) refreshResult {
	holder := newLeaseHolder()
	cur, err := c.m.takeLease(ctx, id, holder)
	if err != nil {
		return refreshResult{err: fmt.Errorf("refresh token: %w", err)}
	}
	release := func(fn func(now *Record) (*Record, error)) (*Record, error) {
		sctx, cancel := context.WithTimeout(ctx, refreshSaveTimeout)
		defer cancel()
		saved, err := c.m.store.ReleaseLease(sctx, id, holder, fn)
		if saved == nil && err != nil && !errors.Is(err, ErrLeaseLost) {
			// The save failed, and the release with it: release the lease alone rather than
			// make the next refresh wait for it to expire.
			c.m.store.ReleaseLease(sctx, id, holder, nil)
		}
		return saved, err
	}
	if skip, err := c.skipRefresh(cur, stale, reactive); skip {
		saved, rerr := release(nil)
		if saved == nil {
			saved = cur
		}
		if rerr != nil && !errors.Is(rerr, ErrLeaseLost) {
			err = errors.Join(err, fmt.Errorf("refresh token: %w", rerr))
		}
		return refreshResult{saved: saved, err: err}
	}

	rctx, cancel := context.WithTimeout(ctx, c.m.timeout)
	newTok, reqErr := c.m.requestToken(rctx, c.prog, cur)
	cancel()

	r := refreshResult{refreshed: reqErr == nil}
	r.saved, r.err = release(func(now *Record) (*Record, error) {
		if now.Status == StatusDisconnected || !sameToken(now.Creds.Token, cur.Creds.Token) {
			r.superseded = true
			if now.Status == StatusDisconnected {
				return nil, &DisconnectedError{Name: now.Name, Reason: now.Reason}
			}
			return nil, nil
		}
		next := *now
		if reqErr != nil {
			next.LastError = reason(reqErr, c.redactor(now))
			if clientRefused(reqErr) {
				// The client is wrong (a secret rotated at the provider), not the grant:
				// deleting the tokens would make every user connect again once it is fixed.
				next.Status, next.Reason = StatusError, next.LastError
				return &next, fmt.Errorf("refresh token: the provider refused the auth client %q, not the account: %s; fix the client (patchbay clients add) and the connection works again", now.Client, next.LastError)
			}
			if rejected(reqErr) {
				r.failure = next.LastError
				return disconnected(&next, r.failure), &DisconnectedError{Name: now.Name, Reason: r.failure}
			}
			return &next, transient(reqErr, c.redactor(now))
		}
		if old := now.Creds.Token; old != nil {
			if newTok.RefreshToken == "" {
				newTok.RefreshToken = old.RefreshToken // the provider did not rotate it
			}
			newTok.Extra = mergeExtra(old.Extra, newTok.Extra)
		}
		next.Creds.Token = newTok
		next.Status, next.Reason, next.LastError = StatusConnected, "", ""
		next.LastRefresh = newTok.ObtainedAt
		next.RefreshCount++
		return &next, nil
	})
	if errors.Is(r.err, ErrLeaseLost) {
		r.err = fmt.Errorf("refresh token: %w", r.err) // fn did not run: nothing was saved
	}
	return r
}

// skipRefresh decides, on the record read as the lease was taken, that no token is to be
// requested: the connection is disconnected, another caller here or in another process
// refreshed meanwhile, or the last token request was within min_interval (an error for a
// reactive refresh: ErrTooSoon).
func (c *conn) skipRefresh(cur *Record, stale Secret, reactive bool) (bool, error) {
	if cur.Status == StatusDisconnected {
		return true, &DisconnectedError{Name: cur.Name, Reason: cur.Reason}
	}
	now := c.m.now()
	tok := cur.Creds.Token
	if tok != nil && tok.AccessToken != stale && !refreshDue(tok, now, c.refresh.BeforeExpiry) && (!reactive || vouched(tok, now, c.refresh.MinInterval)) {
		return true, nil // refreshed meanwhile
	}
	if !cur.LastRefresh.IsZero() && now.Sub(cur.LastRefresh) < minInterval(tok, c.refresh.MinInterval) {
		if reactive {
			return true, ErrTooSoon
		}
		return true, nil
	}
	return false, nil
}

// sameToken reports whether a and b are the same token: nothing replaced it in between.
func sameToken(a, b *Token) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.AccessToken == b.AccessToken && a.RefreshToken == b.RefreshToken && a.TokenSecret == b.TokenSecret
}

// vouched reports whether a token newer than the one a refused request carried may be taken
// for a fresh one without asking the provider: its stated expiry says it is good, or it was
// obtained within min_interval (at least vouchFloor). A token without an expiry obtained
// longer ago may have died unnoticed since; taken, its refusal on the retry would disconnect
// a connection whose credentials are good.
func vouched(t *Token, now time.Time, d time.Duration) bool {
	return !t.Expiry.IsZero() || !now.After(t.ObtainedAt.Add(max(minInterval(t, d), vouchFloor)))
}

// vouchFloor is the least age up to which another caller's new token counts as fresh, also
// with min_interval 0s: runs refused in turn would otherwise each request a new token, and
// with a provider that takes only the newest, refuse each other's forever.
const vouchFloor = time.Minute

// minInterval is refresh.min_interval for the token t, capped at half its lifetime as
// before_expiry is: a token that lives less than twice min_interval must still be refreshed
// before it expires (a 60-second token every 30 s).
func minInterval(t *Token, d time.Duration) time.Duration {
	if t == nil || t.Expiry.IsZero() || t.ObtainedAt.IsZero() {
		return d
	}
	// A token issued already expired (a clock skew, a provider bug) keeps the full interval:
	// refreshing it at every request would hammer the provider.
	if half := t.Expiry.Sub(t.ObtainedAt) / 2; half > 0 && half < d {
		return half
	}
	return d
}

// requestToken runs the flow that gives a connection a new token: refresh for oauth2
// authorization code (with the refresh token), refresh for client credentials (a new token
// request), exchange with the stored fields for token connections.
func (m *Manager) requestToken(ctx context.Context, prog *engine.Program, rec *Record) (*Token, error) {
	c := prog.App.Connection
	var out any
	var err error
	switch {
	case c.Type == flows.ConnToken:
		out, err = m.runPrivate(ctx, prog, rec, "exchange", nil, nil)
	case c.Grant == "client_credentials":
		out, err = m.runPrivate(ctx, prog, rec, "refresh", nil, nil)
	default:
		if rec.Creds.Token == nil || rec.Creds.Token.RefreshToken == "" {
			return nil, errNoRefreshToken
		}
		out, err = m.runPrivate(ctx, prog, rec, "refresh", map[string]any{"refresh_token": rec.Creds.Token.RefreshToken.Reveal()}, nil)
	}
	if err != nil {
		return nil, err
	}
	return tokenFromOutput(out, m.now(), assumeLifetime(c))
}

// disconnect marks the connection disconnected under its lock and tells whoever listens.
func (c *conn) disconnect(ctx context.Context, refused Secret, why string) error {
	rec, _, _ := c.current()
	var did, newer bool
	saved, err := c.m.store.Locked(context.WithoutCancel(ctx), rec.ID, func(cur *Record) (*Record, error) {
		if cur.Status == StatusDisconnected {
			return nil, nil
		}
		if cur.Creds.Token != nil && cur.Creds.Token.AccessToken != refused {
			// Another caller, here or in another process, got a newer token meanwhile: the
			// refusal was of an old one, and says nothing about the grant.
			newer = true
			return nil, nil
		}
		did = true
		next := *cur
		return disconnected(&next, why), nil
	})
	if err != nil {
		return err
	}
	if saved != nil {
		_ = c.load(ctx, saved)
	}
	if newer {
		return nil
	}
	if did {
		c.m.log.Warn("connection disconnected", "connection_id", rec.ID, "app", rec.App, "name", rec.Name, "reason", why)
		c.m.emit(ctx, saved, "disconnected", why)
	}
	return &DisconnectedError{Name: rec.Name, Reason: why}
}

// mergeExtra is the extra values after a refresh: those of the refresh's answer over those
// kept before. A provider's refresh answer often lacks what the first exchange gave (a realm
// id from the callback, a team id, an instance URL); a template reading it must not get null.
func mergeExtra(old, fresh map[string]any) map[string]any {
	if len(old) == 0 {
		return fresh
	}
	out := maps.Clone(old)
	maps.Copy(out, fresh)
	return out
}

// disconnected returns rec without credentials, disconnected for why.
func disconnected(rec *Record, why string) *Record {
	rec.Status = StatusDisconnected
	rec.Reason = why
	rec.LastError = why
	rec.Creds = Credentials{}
	return rec
}
