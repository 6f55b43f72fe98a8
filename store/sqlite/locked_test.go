package sqlite

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/store/keys"
)

// increment is a Locked fn that counts a refresh.
func increment(cur *connections.Record) (*connections.Record, error) {
	cur.RefreshCount++
	cur.Creds.Token = &connections.Token{AccessToken: connections.Secret("at-" + strconv.Itoa(cur.RefreshCount))}
	return cur, nil
}

// TestLockedTwoHandles increments one counter from many goroutines through two stores on one
// file. Two stores are two connection pools, as two processes would have: a lost update
// (read by both, saved by both) would leave the count short.
func TestLockedTwoHandles(t *testing.T) {
	ctx := t.Context()
	path, key := dbPath(t), testKey(t, 1)
	stores := []*Store{open(t, path, key), open(t, path, key)}
	rec := record("asana", "work")
	if err := stores[0].CreateConnection(ctx, rec); err != nil {
		t.Fatal(err)
	}
	const goroutines, each = 8, 20
	var wg sync.WaitGroup
	for _, s := range stores {
		for range goroutines {
			wg.Go(func() {
				for range each {
					if _, err := s.Locked(ctx, rec.ID, increment); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	got, err := stores[1].ConnectionByID(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := len(stores) * goroutines * each
	if got.RefreshCount != want || got.Creds.Token.AccessToken.Reveal() != "at-"+strconv.Itoa(want) {
		t.Errorf("after %d locked increments: count %d, token %q", want, got.RefreshCount, got.Creds.Token.AccessToken.Reveal())
	}
}

// Environment of TestHelperProcess.
const (
	helperEnv = "PATCHBAY_SQLITE_HELPER"
	helperDB  = "PATCHBAY_SQLITE_HELPER_DB"
	helperKey = "PATCHBAY_SQLITE_HELPER_KEY"
	helperID  = "PATCHBAY_SQLITE_HELPER_ID"
	helperN   = 50
)

// TestHelperProcess is not a test: TestLockedProcesses runs the test binary with it to have
// another process increment the counter.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("run by TestLockedProcesses")
	}
	key, err := keys.Parse(os.Getenv(helperKey))
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, os.Getenv(helperDB), key)
	for range helperN {
		if _, err := s.Locked(context.Background(), os.Getenv(helperID), increment); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLockedProcesses runs three processes that each increment one counter 50 times.
func TestLockedProcesses(t *testing.T) {
	ctx := t.Context()
	path := dbPath(t)
	raw := strings.Repeat("k", keys.Size)
	key, err := keys.FromBytes([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, path, key)
	rec := record("asana", "work")
	if err := s.CreateConnection(ctx, rec); err != nil {
		t.Fatal(err)
	}
	const procs = 3
	var wg sync.WaitGroup
	for i := range procs {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"=1", helperDB+"="+path, helperID+"="+rec.ID,
			helperKey+"="+base64.StdEncoding.EncodeToString([]byte(raw)))
		wg.Go(func() {
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("helper process %d: %v\n%s", i, err, out)
			}
		})
	}
	wg.Wait()
	got, err := s.ConnectionByID(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := procs * helperN; got.RefreshCount != want {
		t.Errorf("after %d processes of %d locked increments: count %d, want %d", procs, helperN, got.RefreshCount, want)
	}
}

func TestLocked(t *testing.T) {
	ctx := t.Context()
	clk := newClock()
	s := open(t, dbPath(t), testKey(t, 1), WithClock(clk.now))
	rec := record("asana", "work")
	if err := s.CreateConnection(ctx, rec); err != nil {
		t.Fatal(err)
	}
	other := record("asana", "home")
	if err := s.CreateConnection(ctx, other); err != nil {
		t.Fatal(err)
	}
	errFn := errors.New("refresh failed")

	t.Run("nothing saved", func(t *testing.T) {
		got, err := s.Locked(ctx, rec.ID, func(cur *connections.Record) (*connections.Record, error) {
			return nil, errFn
		})
		if !errors.Is(err, errFn) || got == nil || dump(t, got) != dump(t, rec) {
			t.Errorf("Locked = %v, %v; want the record as read and fn's error", got, err)
		}
	})

	t.Run("saved with an error", func(t *testing.T) {
		got, err := s.Locked(ctx, rec.ID, func(cur *connections.Record) (*connections.Record, error) {
			cur.Status, cur.Reason = connections.StatusDisconnected, "invalid_grant"
			cur.Creds = connections.Credentials{}
			return cur, errFn
		})
		if !errors.Is(err, errFn) || got.Status != connections.StatusDisconnected || !got.UpdatedAt.Equal(clk.last()) || !got.CreatedAt.Equal(rec.CreatedAt) {
			t.Fatalf("Locked = %+v, %v", got, err)
		}
		stored, err := s.ConnectionByID(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		if dump(t, stored) != dump(t, got) {
			t.Errorf("stored %s\nwant %s", dump(t, stored), dump(t, got))
		}
	})

	t.Run("missing", func(t *testing.T) {
		called := false
		_, err := s.Locked(ctx, "nope", func(cur *connections.Record) (*connections.Record, error) {
			called = true
			return cur, nil
		})
		if !errors.Is(err, connections.ErrNotFound) || err.Error() != "lock connection nope: not found" || called {
			t.Errorf("Locked of a missing id = %v (fn called: %v)", err, called)
		}
	})

	t.Run("save fails", func(t *testing.T) {
		_, err := s.Locked(ctx, rec.ID, func(cur *connections.Record) (*connections.Record, error) {
			cur.Name = "home"
			return cur, errFn
		})
		want := "lock connection " + rec.ID + ": save: default/asana/home: already exists\nrefresh failed"
		if !errors.Is(err, connections.ErrExists) || !errors.Is(err, errFn) || err.Error() != want {
			t.Errorf("Locked = %v, want %q", err, want)
		}
	})

	t.Run("panic rolls back", func(t *testing.T) {
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Errorf("recovered %v, want the panic of fn", r)
				}
			}()
			s.Locked(ctx, rec.ID, func(cur *connections.Record) (*connections.Record, error) { panic("boom") })
		}()
		// The lock is released: every pooled connection can write.
		for range writeConns + 1 {
			if _, err := s.Locked(ctx, rec.ID, increment); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("saved after the caller gave up", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		got, err := s.Locked(cctx, rec.ID, func(cur *connections.Record) (*connections.Record, error) {
			cancel()
			cur.Creds.Token = &connections.Token{AccessToken: "fresh", RefreshToken: "rotated"}
			return cur, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		stored, err := s.ConnectionByID(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Creds.Token.RefreshToken.Reveal() != "rotated" || dump(t, stored) != dump(t, got) {
			t.Errorf("after a cancel inside fn, stored %s", dump(t, stored))
		}
	})

	t.Run("canceled before", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := s.Locked(cctx, rec.ID, func(cur *connections.Record) (*connections.Record, error) {
			t.Error("fn called with a canceled context")
			return nil, nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Locked with a canceled context = %v", err)
		}
	})
}

// ExampleStore_Locked changes a connection's record in one short write transaction: fn sees
// the record as stored and returns the one to save.
func ExampleStore_Locked() {
	dir, _ := os.MkdirTemp("", "patchbay")
	defer os.RemoveAll(dir)
	key, _ := keys.Generate()
	s, err := Open(dir+"/patchbay.db", key)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	ctx := context.Background()
	rec := &connections.Record{Workspace: "default", App: "asana", Name: "work", Type: "oauth2",
		Status: connections.StatusConnected, Creds: connections.Credentials{Token: &connections.Token{AccessToken: "old"}}}
	if err := s.CreateConnection(ctx, rec); err != nil {
		fmt.Println(err)
		return
	}
	saved, err := s.Locked(ctx, rec.ID, func(cur *connections.Record) (*connections.Record, error) {
		// fn must not wait for anything: a token request takes the lease (TakeLease) instead.
		cur.Creds.Token = &connections.Token{AccessToken: "new"}
		cur.RefreshCount++
		return cur, nil
	})
	fmt.Println(saved.RefreshCount, saved.Creds.Token.AccessToken, saved.Creds.Token.AccessToken.Reveal(), err)
	// Output: 1 [redacted] new <nil>
}
