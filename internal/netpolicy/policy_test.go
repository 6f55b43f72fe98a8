package netpolicy_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/patchbay/patchbay/internal/netpolicy"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		addr string
		want string
	}{
		{"8.8.8.8", ""},
		{"93.184.215.14", ""},
		{"2606:4700::1111", ""},
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "unspecified"},
		{"::", "unspecified"},
		{"10.0.0.1", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"172.32.0.1", ""},
		{"192.168.1.1", "private"},
		{"::ffff:192.168.1.1", "private"},
		{"100.64.0.1", "private"},
		{"100.127.255.255", "private"},
		{"100.128.0.1", ""},
		{"198.18.0.1", "private"},
		{"fc00::1", "private"},
		{"fd12:3456::1", "private"},
		{"fec0::1", "private"},
		{"64:ff9b:1::a00:1", "private"},
		{"169.254.1.1", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"169.254.169.254", "cloud metadata"},
		{"::ffff:169.254.169.254", "cloud metadata"},
		{"fd00:ec2::254", "cloud metadata"},
		{"169.254.170.2", "cloud metadata"},
		{"100.100.100.200", "cloud metadata"},
		{"224.0.0.1", "multicast"},
		{"ff02::1", "multicast"},
		{"255.255.255.255", "reserved"},
		{"240.0.0.1", "reserved"},
		{"192.0.0.1", "reserved"},
		{"::127.0.0.1", "reserved"},
		{"64:ff9b::7f00:1", "loopback"},                 // NAT64 of 127.0.0.1
		{"64:ff9b::a9fe:a9fe", "cloud metadata"},        // NAT64 of 169.254.169.254
		{"64:ff9b::808:808", ""},                        // NAT64 of 8.8.8.8
		{"2002:7f00:1::1", "loopback"},                  // 6to4 of 127.0.0.1
		{"2002:a00:1::1", "private"},                    // 6to4 of 10.0.0.1
		{"2002:808:808::1", ""},                         // 6to4 of 8.8.8.8
		{"::ffff:100.100.100.200", "cloud metadata"},    // mapped Alibaba metadata
		{"::ffff:0.0.0.0", "unspecified"},               // mapped 0.0.0.0
		{"2001:db8::1", ""},                             // documentation, but not inside
		{"::ffff:8.8.8.8", ""},                          // mapped public
		{"fe80::a9fe:a9fe", "link-local"},               // link-local, not the metadata address
		{"169.254.169.253", "link-local"},               // beside the metadata address
		{"fd00:ec2::253", "private"},                    // beside the IPv6 metadata address
		{"64:ff9b::a00:1", "private"},                   // NAT64 of 10.0.0.1
		{"::ffff:172.16.0.1", "private"},                // mapped private
		{"::ffff:100.64.0.1", "private"},                // mapped CGNAT
		{"::ffff:169.254.1.1", "link-local"},            // mapped link-local
		{"::ffff:224.0.0.1", "multicast"},               // mapped multicast
		{"::ffff:255.255.255.255", "reserved"},          // mapped broadcast
		{"::ffff:127.1.2.3", "loopback"},                // mapped, any of 127/8
		{"::ffff:10.255.255.255", "private"},            // mapped, top of 10/8
		{"::ffff:192.0.0.8", "reserved"},                // mapped IETF protocol assignment
		{"::ffff:198.19.255.255", "private"},            // mapped benchmarking
		{"::ffff:0:0", "unspecified"},                   // mapped 0.0.0.0, written in hex
		{"::2", "reserved"},                             // reserved, beside loopback
		{"100::1", ""},                                  // discard-only, routed nowhere inside
		{"2a00:1450:4001:81b::200e", ""},                // a public IPv6 address
		{"::ffff:93.184.215.14", ""},                    // mapped public
		{"64:ff9b::5db8:d70e", ""},                      // NAT64 of 93.184.215.14
		{"2002:5db8:d70e::1", ""},                       // 6to4 of 93.184.215.14
		{"2002:c0a8:101::1", "private"},                 // 6to4 of 192.168.1.1
		{"2002:a9fe:a9fe::1", "cloud metadata"},         // 6to4 of 169.254.169.254
		{"::ffff:169.254.170.2", "cloud metadata"},      // mapped ECS metadata
		{"fd00:ec2::254%eth0", "cloud metadata"},        // with a zone
		{"64:ff9b::ffff:ffff", "reserved"},              // NAT64 of 255.255.255.255
		{"64:ff9b::6440:1", "private"},                  // NAT64 of 100.64.0.1
		{"64:ff9b::1", "unspecified"},                   // NAT64 of 0.0.0.1
		{"64:ff9b::e000:1", "multicast"},                // NAT64 of 224.0.0.1
		{"64:ff9b::c000:1", "reserved"},                 // NAT64 of 192.0.0.1
		{"64:ff9b::c612:1", "private"},                  // NAT64 of 198.18.0.1
		{"64:ff9b::ac10:1", "private"},                  // NAT64 of 172.16.0.1
		{"64:ff9b::c0a8:1", "private"},                  // NAT64 of 192.168.0.1
		{"64:ff9b::a9fe:1", "link-local"},               // NAT64 of 169.254.0.1
		{"64:ff9b::a9fe:aa02", "cloud metadata"},        // NAT64 of 169.254.170.2
		{"64:ff9b::6464:64c8", "cloud metadata"},        // NAT64 of 100.100.100.200
		{"64:ff9b::f000:1", "reserved"},                 // NAT64 of 240.0.0.1
		{"64:ff9b::7fff:ffff", "loopback"},              // NAT64 of 127.255.255.255
		{"64:ff9b:1:ffff::1", "private"},                // local-use NAT64, top
		{"64:ff9b:2::1", "reserved"},                    // beside local-use NAT64, still in ::/8
		{"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ""}, // just below fc00::/7
		{"fe00::1", ""},                                 // between fc00::/7 and fe80::/10
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			a := netip.MustParseAddr(tt.addr)
			if got := netpolicy.Classify(a); got != tt.want {
				t.Errorf("Classify(%s) = %q, want %q", tt.addr, got, tt.want)
			}
			err := netpolicy.Policy{}.Check(a)
			if (err != nil) != (tt.want != "") {
				t.Errorf("Policy{}.Check(%s) = %v, want refused: %v", tt.addr, err, tt.want != "")
			}
			if err := (netpolicy.Policy{AllowPrivate: true}).Check(a); err != nil {
				t.Errorf("Policy{AllowPrivate: true}.Check(%s) = %v, want nil", tt.addr, err)
			}
		})
	}
}

func TestCheckAllow(t *testing.T) {
	p := netpolicy.Policy{Allow: []netip.Prefix{
		mustNetwork(t, "10.1.2.0/24"),
		mustNetwork(t, "::1"),
		mustNetwork(t, "::ffff:192.168.7.0/120"),
	}, Setting: "--allow-network"}
	tests := []struct {
		addr string
		want string // the error, "" for allowed
	}{
		{"10.1.2.3", ""},
		{"::ffff:10.1.2.3", ""},
		{"64:ff9b::a01:203", ""}, // NAT64 of 10.1.2.3
		{"::1", ""},
		{"192.168.7.9", ""},
		{"10.1.3.1", "address 10.1.3.1 is private: refused by the outbound network policy (allow it with --allow-network 10.1.3.1/32)"},
		{"::ffff:127.0.0.1", "address 127.0.0.1 is loopback: refused by the outbound network policy (allow it with --allow-network 127.0.0.1/32)"},
		{"fe80::1%eth0", "address fe80::1 is link-local: refused by the outbound network policy (allow it with --allow-network fe80::1/128)"},
		{"169.254.169.254", "address 169.254.169.254 is cloud metadata: refused by the outbound network policy (allow it with --allow-network 169.254.169.254/32)"},
		{"8.8.8.8", ""},
	}
	for _, tt := range tests {
		err := p.Check(netip.MustParseAddr(tt.addr))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("Check(%s) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

func TestParseNetwork(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"10.1.2.0/24", "10.1.2.0/24", ""},
		{"10.1.2.3/24", "10.1.2.0/24", ""},
		{" 127.0.0.1 ", "127.0.0.1/32", ""},
		{"::1", "::1/128", ""},
		{"fd00::/8", "fd00::/8", ""},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8", ""},
		{"::ffff:10.0.0.1", "10.0.0.1/32", ""},
		{"::ffff:0:0/95", "", `"::ffff:0:0/95": an IPv4-mapped network needs at least 96 bits`},
		{"localhost", "", `"localhost" is not an IP address or a CIDR network such as 10.1.2.0/24`},
		{"fe80::1%eth0", "", `"fe80::1%eth0" is not an IP address or a CIDR network such as 10.1.2.0/24`},
		{"10.0.0.0/33", "", `"10.0.0.0/33" is not a CIDR network such as 10.1.2.0/24`},
	}
	for _, tt := range tests {
		n, err := netpolicy.ParseNetwork(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseNetwork(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || n.String() != tt.want {
			t.Errorf("ParseNetwork(%q) = %v, %v, want %s", tt.in, n, err, tt.want)
		}
	}
}

// A host name is judged by the address it resolves to when the connection is made: localhost,
// which no check of the URL's text would catch, is refused as 127.0.0.1 (or ::1) is. This is
// what DNS rebinding looks like to the dialler: a name whose answer is a private address.
func TestClientRefusesNameResolvingToLoopback(t *testing.T) {
	var hits atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer ts.Close()
	port := ts.Listener.Addr().(*net.TCPAddr).Port
	target := "http://localhost:" + strconv.Itoa(port) + "/secret"

	_, err := netpolicy.Policy{Setting: "--allow-network"}.Client().Get(target)
	var denied *netpolicy.DeniedError
	if !errors.As(err, &denied) {
		t.Fatalf("Get(%s) = %v, want a *DeniedError", target, err)
	}
	if denied.Kind != "loopback" || !denied.Addr.IsLoopback() {
		t.Errorf("refused %s as %q, want a loopback address", denied.Addr, denied.Kind)
	}
	for _, want := range []string{denied.Addr.String(), "is loopback", "--allow-network " + denied.Addr.String() + "/"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server got %d requests, want none", n)
	}

	// Allowed by network, the same request goes through.
	p := netpolicy.Policy{Allow: []netip.Prefix{mustNetwork(t, "127.0.0.0/8"), mustNetwork(t, "::1")}}
	resp, err := p.Client().Get(target)
	if err != nil {
		t.Fatalf("Get(%s) with 127.0.0.0/8 and ::1 allowed: %v", target, err)
	}
	resp.Body.Close()
	if n := hits.Load(); n != 1 {
		t.Errorf("the server got %d requests, want 1", n)
	}
	// And with everything allowed.
	resp, err = netpolicy.Policy{AllowPrivate: true}.Client().Get(target)
	if err != nil {
		t.Fatalf("Get(%s) with AllowPrivate: %v", target, err)
	}
	resp.Body.Close()
}

// Every hop is dialled through the policy: a redirect from an allowed server to a refused
// address fails there, and the refused server is never asked.
func TestClientRefusesRedirectHop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 to listen on: %v", err)
	}
	var inner atomic.Int32
	internal := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { inner.Add(1) }))
	internal.Listener.Close()
	internal.Listener = ln
	internal.Start()
	defer internal.Close()
	public := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, internal.URL+"/latest/meta-data/", http.StatusFound)
	}))
	defer public.Close()

	p := netpolicy.Policy{Allow: []netip.Prefix{mustNetwork(t, "127.0.0.1")}, Setting: "--allow-network"}
	_, err = p.Client().Get(public.URL)
	want := "address 127.0.0.2 is loopback: refused by the outbound network policy (allow it with --allow-network 127.0.0.2/32)"
	var ue *url.Error
	if !errors.As(err, &ue) || !strings.HasSuffix(err.Error(), want) || !strings.Contains(ue.URL, "127.0.0.2") {
		t.Fatalf("Get through a redirect to 127.0.0.2 = %v, want an error on the 127.0.0.2 hop ending %q", err, want)
	}
	if n := inner.Load(); n != 0 {
		t.Errorf("the refused server got %d requests, want none", n)
	}
}

// While the policy refuses anything, the environment's proxy is not used: the proxy would
// connect to the refused address on the request's behalf.
func TestTransportProxy(t *testing.T) {
	if (netpolicy.Policy{}).Transport().Proxy != nil {
		t.Error("Policy{}.Transport() uses a proxy, want none")
	}
	if (netpolicy.Policy{Allow: []netip.Prefix{mustNetwork(t, "10.0.0.0/8")}}).Transport().Proxy != nil {
		t.Error("Policy{Allow: ...}.Transport() uses a proxy, want none")
	}
	if (netpolicy.Policy{AllowPrivate: true}).Transport().Proxy == nil {
		t.Error("Policy{AllowPrivate: true}.Transport() ignores HTTP_PROXY, want http.ProxyFromEnvironment")
	}
}

func mustNetwork(t *testing.T, s string) netip.Prefix {
	t.Helper()
	n, err := netpolicy.ParseNetwork(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
