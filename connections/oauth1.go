package connections

import (
	"fmt"
	"net/http"
)

// signOAuth1 signs req for an oauth1 connection.
func (m *Manager) signOAuth1(req *http.Request, c *conn, rec *Record, env map[string]any) error {
	return fmt.Errorf("oauth1 signing is not available yet")
}
