package automations

import (
	"sync"
	"time"
)

// recentTTL is how long the Service trusts an automation it read for a webhook.
// Changes made by this Service (apply, enable, disable, delete, a disconnect) take effect at
// once; changes made by another process sharing the store (the command line while patchbay
// serve runs) within this time.
const recentTTL = time.Second

// recent keeps automations read from the store for recentTTL: reading one for every webhook
// cost more than recording the webhook's run.
type recent struct {
	mu sync.Mutex
	m  map[string]recentEntry
}

type recentEntry struct {
	a  *Automation
	at time.Time // when it was read, on the real clock
}

// get returns the automation under key, read with load when it is not kept or older than
// recentTTL. Errors are not kept.
func (c *recent) get(key string, load func() (*Automation, error)) (*Automation, error) {
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && time.Since(e.at) < recentTTL {
		return e.a, nil
	}
	at := time.Now()
	a, err := load()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= 100_000 {
		c.m = map[string]recentEntry{}
	}
	c.m[key] = recentEntry{a: a, at: at}
	c.mu.Unlock()
	return a, nil
}

// forget empties the cache.
func (c *recent) forget() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}

// forget empties the caches of automations: one changed here.
func (s *Service) forget() {
	s.byHook.forget()
}
