package connections_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/connections/oauthtest"
	"github.com/patchbay/patchbay/internal/netpolicy"
)

// A manager whose client is held to the network policy sends the connection's own requests —
// the token request x/oauth2 makes for the exchange flow, oauth1's request token — through it:
// a provider on a refused address is never reached.
func TestManagerRequestsHeldToNetworkPolicy(t *testing.T) {
	deny := netpolicy.Policy{Setting: "--allow-network"}
	t.Run("oauth2 token request", func(t *testing.T) {
		srv := oauthtest.New(t, oauthtest.Options{})
		m := newManagerConfig(t, nil, connections.Config{HTTPClient: deny.Client()})
		prog := loadApp(t, strings.ReplaceAll(clientCredentialsApp, "SRV", srv.URL))
		putClient(t, m, srv, "svc")
		_, err := m.Connect(t.Context(), prog, connections.ConnectRequest{Name: "robot"})
		var denied *netpolicy.DeniedError
		if !errors.As(err, &denied) || !strings.Contains(err.Error(), "address 127.0.0.1 is loopback: refused by the outbound network policy (allow it with --allow-network 127.0.0.1/32)") {
			t.Fatalf("Connect = %v, want the token request refused", err)
		}
		if n := srv.TokenRequests("client_credentials"); n != 0 {
			t.Errorf("the server got %d token requests, want none", n)
		}
		wantNothingStored(t, m)

		allow := netpolicy.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
		m = newManagerConfig(t, nil, connections.Config{HTTPClient: allow.Client()})
		putClient(t, m, srv, "svc")
		if _, err := m.Connect(t.Context(), prog, connections.ConnectRequest{Name: "robot"}); err != nil {
			t.Fatalf("Connect with 127.0.0.1 allowed: %v", err)
		}
	})
	t.Run("oauth1 request token", func(t *testing.T) {
		e := newO1Env(t, o1ConsumerSecret)
		e.m = connections.NewManager(connections.Config{Store: e.store, HTTPClient: deny.Client()})
		_, err := e.m.StartOAuth(t.Context(), e.prog, e.request(), e.redirect)
		if err == nil || !strings.Contains(err.Error(), "address 127.0.0.1 is loopback: refused by the outbound network policy") {
			t.Fatalf("StartOAuth = %v, want the request token request refused", err)
		}
	})
}
