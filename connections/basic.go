package connections

// HTTP basic authentication (RFC 7617): what a basic connection asks the user for, and the user
// name and password it sends.

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/patchbay/patchbay/flows"
)

// basicFields are the fields of a basic connection that declares none.
var basicFields = []*flows.Param{
	{Key: "username", Label: "Username", Required: true},
	{Key: "password", Label: "Password", Required: true, Sensitive: true},
}

// applyBasic puts rec's basic credentials on req: the connection's username and password
// templates, each evaluated by tmpl, else the fields username and password. A provider that
// echoes the header is redacted as the fields are: the run's redactor finds a sensitive field
// inside base64 text.
func (c *conn) applyBasic(req *http.Request, rec *Record, tmpl connTemplates) error {
	user, pass := rec.Creds.Fields["username"].Reveal(), rec.Creds.Fields["password"].Reveal()
	var err error
	if c.cfg.Username != nil {
		if user, err = tmpl.evalString(c.cfg.Username); err != nil {
			return fmt.Errorf("connection username: %w", err)
		}
	}
	if c.cfg.Password != nil {
		if pass, err = tmpl.evalString(c.cfg.Password); err != nil {
			return fmt.Errorf("connection password: %w", err)
		}
	}
	if strings.Contains(user, ":") {
		return errors.New("connection username: it contains a colon, which HTTP basic auth cannot send in a user name (RFC 7617)")
	}
	req.SetBasicAuth(user, pass)
	return nil
}
