package connections

import (
	"context"
	"sync"
)

// secretsCache keeps the vault values and auth clients a Manager read and decrypted while the
// store's SecretsVersion stays the same: reading and decrypting them for every run was half of
// what starting a one-call run with a connection cost. The version is read before the values,
// so a value is never kept under a version newer than itself; a write by any process sharing
// the store moves the version in the write's own transaction, and the next lookup reads anew.
type secretsCache struct {
	mu      sync.Mutex
	version int64
	vaults  map[[2]string]map[string]any // workspace, app -> the template value vault
	clients map[[3]string]*Client        // workspace, app, name
}

// at returns the version the store is at now, emptying what was kept under an older one. ok
// is false when the version could not be read: the caller reads the store and keeps nothing.
func (c *secretsCache) at(ctx context.Context, st Store) (v int64, ok bool) {
	v, err := st.SecretsVersion(ctx)
	if err != nil {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v > c.version || c.vaults == nil {
		c.version = v
		c.vaults = map[[2]string]map[string]any{}
		c.clients = map[[3]string]*Client{}
	}
	return v, true
}

func (c *secretsCache) vault(v int64, k [2]string) (map[string]any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != v {
		return nil, false
	}
	x, ok := c.vaults[k]
	return x, ok
}

func (c *secretsCache) putVault(v int64, k [2]string, x map[string]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version == v {
		c.vaults[k] = x
	}
}

func (c *secretsCache) client(v int64, k [3]string) (*Client, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != v {
		return nil, false
	}
	x, ok := c.clients[k]
	return x, ok
}

func (c *secretsCache) putClient(v int64, k [3]string, x *Client) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version == v {
		c.clients[k] = x
	}
}

// authClient returns the auth client of app in workspace called name, from the cache while the
// store's secrets have not changed. The client is shared: read it, never change it.
func (m *Manager) authClient(ctx context.Context, workspace, app, name string) (*Client, error) {
	v, ok := m.secrets.at(ctx, m.store)
	k := [3]string{workspace, app, name}
	if ok {
		if cl, hit := m.secrets.client(v, k); hit {
			return cl, nil
		}
	}
	cl, err := m.store.Client(ctx, workspace, app, name)
	if err != nil {
		return nil, err
	}
	if ok {
		m.secrets.putClient(v, k, cl)
	}
	return cl, nil
}
