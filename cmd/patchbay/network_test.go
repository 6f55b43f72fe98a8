package main

import (
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/blocks"
	"github.com/patchbay/patchbay/internal/netpolicy"
)

// The outbound network policy of run: the command line reaches every address unless told to
// deny private networks (flag or environment), and a refused request names the address and
// the flag that allows it. The app's base_url says localhost: the name is judged by the
// address it resolves to when the request is sent, as a rebinding name would be.
func TestRunNetworkPolicy(t *testing.T) {
	ts := api(t)
	port := strconv.Itoa(ts.Listener.Addr().(*net.TCPAddr).Port)
	dir := tasksApp(t, "http://localhost:"+port)
	refused := func(t *testing.T, r result) {
		t.Helper()
		if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "is loopback: refused by the outbound network policy (allow it with --allow-network ") ||
			!strings.Contains(r.stderr, `step "get" (call_api): GET http://localhost:`+port+`/projects/7/tasks: dial tcp `) {
			t.Errorf("run = %d %q, stderr:\n%s\nwant 1 and the request refused as loopback", r.code, r.stdout, r.stderr)
		}
	}
	passed := func(t *testing.T, r result) {
		t.Helper()
		if r.code != 0 || !strings.Contains(r.stdout, `"write docs"`) {
			t.Errorf("run = %d %q, stderr:\n%s\nwant 0 and the tasks", r.code, r.stdout, r.stderr)
		}
	}
	args := []string{"run", dir, "list", "--input", "project=7"}
	tests := []struct {
		name  string
		env   map[string]string
		flags []string
		check func(*testing.T, result)
	}{
		{"default allows", nil, nil, passed},
		{"deny flag", nil, []string{"--deny-private-networks"}, refused},
		{"deny env", map[string]string{envDenyPrivate: "true"}, nil, refused},
		{"flag overrides env", map[string]string{envDenyPrivate: "1"}, []string{"--deny-private-networks=false"}, passed},
		{"allowed networks", nil, []string{"--deny-private-networks", "--allow-network", "127.0.0.0/8", "--allow-network", "::1"}, passed},
		{"allowed networks env", map[string]string{envDenyPrivate: "1", envAllow: "127.0.0.0/8, ::1"}, nil, passed},
		{"allow flag overrides env", map[string]string{envAllow: "127.0.0.0/8,::1"}, []string{"--deny-private-networks", "--allow-network", "10.0.0.0/8"}, refused},
		{"other network allowed", nil, []string{"--deny-private-networks", "--allow-network", "10.0.0.0/8"}, refused},
		{"record", nil, []string{"--deny-private-networks", "--record", t.TempDir()}, refused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, cli(t, tt.env, "", append(args, tt.flags...)...))
		})
	}
}

func TestNetworkPolicySettingErrors(t *testing.T) {
	dir := tasksApp(t, "http://localhost:1")
	tests := []struct {
		env    map[string]string
		args   []string
		stderr string // its first line
	}{
		{nil, []string{"--allow-network", "localhost"},
			`patchbay run: invalid value "localhost" for flag -allow-network: "localhost" is not an IP address or a CIDR network such as 10.1.2.0/24`},
		{map[string]string{envAllow: "10.0.0.0/8,intranet"}, nil,
			`patchbay run: PATCHBAY_ALLOW_NETWORKS: "intranet" is not an IP address or a CIDR network such as 10.1.2.0/24`},
		{map[string]string{envDenyPrivate: "yes"}, nil,
			`patchbay run: PATCHBAY_DENY_PRIVATE_NETWORKS="yes": want true or false`},
	}
	for _, tt := range tests {
		r := cli(t, tt.env, "", append([]string{"run", dir, "list", "--input", "project=7"}, tt.args...)...)
		if first, _, _ := strings.Cut(r.stderr, "\n"); r.code != exitUsage || first != tt.stderr {
			t.Errorf("run %v with %v = %d, stderr:\n%s\nwant %d and first line\n%s", tt.args, tt.env, r.code, r.stderr, exitUsage, tt.stderr)
		}
	}
}

// The connection's own requests (its test flow, token requests, revoke) go through the policy
// too: connect with --deny-private-networks stores nothing when its test flow is refused.
func TestConnectNetworkPolicy(t *testing.T) {
	noMasterKey(t)
	ts, calls := keyAPI(t)
	dir := keyApp(t, ts.URL)
	data := t.TempDir()
	r := cli(t, nil, "", "--data", data, "connect", dir, "--field", "api_key="+apiKey, "--deny-private-networks")
	want := "address 127.0.0.1 is loopback: refused by the outbound network policy (allow it with --allow-network 127.0.0.1/32)\n"
	if r.code != 1 || !strings.Contains(r.stderr, "connection test failed, nothing was stored") || !strings.HasSuffix(r.stderr, want) {
		t.Errorf("connect --deny-private-networks = %d, stderr:\n%s\nwant 1, nothing stored, and ending %q", r.code, r.stderr, want)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the API got %d requests, want none", n)
	}
	r = cli(t, nil, "", "--data", data, "connect", dir, "--field", "api_key="+apiKey, "--deny-private-networks", "--allow-network", "127.0.0.1")
	if r.code != 0 {
		t.Fatalf("connect --allow-network 127.0.0.1 = %d, stderr:\n%s", r.code, r.stderr)
	}
	r = cli(t, nil, "", "--data", data, "connections", "test", "keyed", "--app", dir, "--deny-private-networks")
	if r.code != 1 || !strings.HasSuffix(r.stderr, want) {
		t.Errorf("connections test --deny-private-networks = %d, stderr:\n%s\nwant 1 and ending %q", r.code, r.stderr, want)
	}
	r = cli(t, map[string]string{envDenyPrivate: "true", envAllow: "127.0.0.1"}, "", "--data", data, "connections", "test", "keyed", "--app", dir)
	if r.code != 0 {
		t.Errorf("connections test with 127.0.0.1 allowed = %d, stderr:\n%s", r.code, r.stderr)
	}
}

// TestTransportPoolFitsLoops: the transport keeps as many idle connections per host as a
// foreach may run iterations at once, so a loop at full concurrency reuses its connections.
func TestTransportPoolFitsLoops(t *testing.T) {
	if netpolicy.MaxIdleConnsPerHost < blocks.MaxConcurrency {
		t.Errorf("netpolicy.MaxIdleConnsPerHost = %d, want at least blocks.MaxConcurrency = %d", netpolicy.MaxIdleConnsPerHost, blocks.MaxConcurrency)
	}
}

// TestServeNetworkPolicy: serve's runs refuse loopback addresses by default, whatever
// PATCHBAY_DENY_PRIVATE_NETWORKS says, and reach the networks of --allow-network or
// PATCHBAY_ALLOW_NETWORKS.
func TestServeNetworkPolicy(t *testing.T) {
	ts := api(t)
	tests := []struct {
		name    string
		env     map[string]string
		flags   []string
		refused bool
	}{
		{"default refuses", nil, nil, true},
		{"env cannot allow private networks", map[string]string{envDenyPrivate: "false"}, nil, true},
		{"allowed network", nil, []string{"--allow-network", "127.0.0.1"}, false},
		{"allowed network env", map[string]string{envAllow: "127.0.0.0/8"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &env{cmd: serveCmd, stderr: io.Discard}
			fs := e.flagSet("patchbay serve")
			serveCmd.Setup(fs, e)
			if err := fs.Parse(tt.flags); err != nil {
				t.Fatal(err)
			}
			if err := e.net.resolve(func(k string) string { return tt.env[k] }); err != nil {
				t.Fatal(err)
			}
			resp, err := e.httpClient().Get(ts.URL + "/projects/1/tasks")
			var denied *netpolicy.DeniedError
			if tt.refused != errors.As(err, &denied) {
				t.Errorf("GET %s = %v, %v; want refused %v", ts.URL, resp, err, tt.refused)
			}
			if err == nil {
				resp.Body.Close()
			}
		})
	}
}
