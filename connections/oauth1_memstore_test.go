package connections_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/patchbay/patchbay/connections"
)

// oauth1MemStore is an in-memory connections.Store for the oauth1 tests until store/sqlite
// lands; one mutex makes Locked exclusive.
type oauth1MemStore struct {
	mu      sync.Mutex
	n       int
	conns   map[string]*connections.Record
	clients map[string]*connections.Client
	vault   map[string]connections.Secret
	events  []connections.Event
}

var _ connections.Store = (*oauth1MemStore)(nil)

func newOAuth1MemStore() *oauth1MemStore {
	return &oauth1MemStore{conns: map[string]*connections.Record{}, clients: map[string]*connections.Client{}, vault: map[string]connections.Secret{}}
}

func (s *oauth1MemStore) CreateConnection(_ context.Context, rec *connections.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.conns {
		if r.Workspace == rec.Workspace && r.App == rec.App && r.Name == rec.Name {
			return connections.ErrExists
		}
	}
	s.n++
	rec.ID = fmt.Sprint(s.n)
	rec.CreatedAt, rec.UpdatedAt = time.Now(), time.Now()
	c := *rec
	s.conns[rec.ID] = &c
	return nil
}

func (s *oauth1MemStore) Connection(_ context.Context, workspace, name string) (*connections.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.conns {
		if r.Workspace == workspace && r.Name == name {
			c := *r
			return &c, nil
		}
	}
	return nil, connections.ErrNotFound
}

func (s *oauth1MemStore) ConnectionByID(_ context.Context, id string) (*connections.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.conns[id]
	if !ok {
		return nil, connections.ErrNotFound
	}
	c := *r
	return &c, nil
}

func (s *oauth1MemStore) Connections(_ context.Context, workspace string) ([]*connections.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*connections.Record
	for _, r := range s.conns {
		if r.Workspace == workspace {
			c := *r
			out = append(out, &c)
		}
	}
	return out, nil
}

func (s *oauth1MemStore) UpdateConnection(_ context.Context, rec *connections.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[rec.ID]; !ok {
		return connections.ErrNotFound
	}
	c := *rec
	s.conns[rec.ID] = &c
	return nil
}

func (s *oauth1MemStore) DeleteConnection(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, id)
	return nil
}

func (s *oauth1MemStore) Locked(_ context.Context, id string, fn func(cur *connections.Record) (*connections.Record, error)) (*connections.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.conns[id]
	if !ok {
		return nil, connections.ErrNotFound
	}
	cur := *r
	next, err := fn(&cur)
	if next == nil {
		return &cur, err
	}
	saved := *next
	s.conns[id] = &saved
	return next, err
}

func oauth1ClientKey(workspace, app, name string) string {
	return workspace + "\x00" + app + "\x00" + name
}

func (s *oauth1MemStore) PutClient(_ context.Context, c *connections.Client) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := *c
	s.clients[oauth1ClientKey(c.Workspace, c.App, c.Name)] = &cp
	return nil
}

func (s *oauth1MemStore) Client(_ context.Context, workspace, app, name string) (*connections.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[oauth1ClientKey(workspace, app, name)]
	if !ok {
		return nil, connections.ErrNotFound
	}
	cp := *c
	return &cp, nil
}

func (s *oauth1MemStore) Clients(_ context.Context, workspace string) ([]*connections.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*connections.Client
	for _, c := range s.clients {
		if c.Workspace == workspace {
			cp := *c
			out = append(out, &cp)
		}
	}
	return out, nil
}

func (s *oauth1MemStore) DeleteClient(_ context.Context, workspace, app, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.clients, oauth1ClientKey(workspace, app, name))
	return nil
}

func (s *oauth1MemStore) SetVault(_ context.Context, workspace, app, name string, value connections.Secret) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vault[oauth1ClientKey(workspace, app, name)] = value
	return nil
}

func (s *oauth1MemStore) Vault(_ context.Context, workspace, app string) (map[string]connections.Secret, error) {
	return map[string]connections.Secret{}, nil
}

func (s *oauth1MemStore) DeleteVault(_ context.Context, workspace, app, name string) error {
	return nil
}

func (s *oauth1MemStore) AddEvent(_ context.Context, e connections.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
	return nil
}

func (s *oauth1MemStore) Events(_ context.Context, connectionID string) ([]connections.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []connections.Event
	for _, e := range s.events {
		if e.ConnectionID == connectionID {
			out = append(out, e)
		}
	}
	return out, nil
}
