package netpolicy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// Policy decides which addresses outbound requests may reach. The zero Policy refuses every
// address that is not public (see Classify); a server uses it as it is, or with Allow.
type Policy struct {
	// AllowPrivate lets requests reach every address: loopback, private, link-local and
	// metadata ones too. The command line's default, for local development.
	AllowPrivate bool
	// Allow lists the networks requests may reach although Classify names them (a company's
	// API on 10.1.2.0/24). Ignored when AllowPrivate is set.
	Allow []netip.Prefix
	// Setting names, in a refusal's error, how the operator allows an address
	// ("--allow-network"); the error adds the address as a network ("127.0.0.1/32").
	Setting string
}

// DeniedError is a connection the policy refused.
type DeniedError struct {
	Addr    netip.Addr
	Kind    string // what the address is: "loopback", "private", "link-local", "cloud metadata" ...
	Setting string // Policy.Setting
}

func (e *DeniedError) Error() string {
	s := fmt.Sprintf("address %s is %s: refused by the outbound network policy", e.Addr, e.Kind)
	if e.Setting != "" {
		s += fmt.Sprintf(" (allow it with %s %s)", e.Setting, netip.PrefixFrom(e.Addr, e.Addr.BitLen()))
	}
	return s
}

// special lists the addresses that are not public, most specific first: the first network
// that holds an address names its kind.
var special = []struct {
	net  netip.Prefix
	kind string
}{
	// Instance metadata: AWS, GCP, Azure, OpenStack (IPv4 and AWS's IPv6), ECS task metadata,
	// Alibaba Cloud.
	{netip.MustParsePrefix("169.254.169.254/32"), "cloud metadata"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata"},
	{netip.MustParsePrefix("169.254.170.2/32"), "cloud metadata"},
	{netip.MustParsePrefix("100.100.100.200/32"), "cloud metadata"},

	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified"}, // 0.0.0.0 dials this host
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "private"}, // carrier-grade NAT, shared address space
	{netip.MustParsePrefix("198.18.0.0/15"), "private"}, // benchmarking, used inside networks
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"}, // and 255.255.255.255, broadcast

	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "private"}, // NAT64 inside one network
	{netip.MustParsePrefix("::/8"), "reserved"},          // IPv4-compatible ::127.0.0.1 and the like
	{netip.MustParsePrefix("fc00::/7"), "private"},
	{netip.MustParsePrefix("fec0::/10"), "private"}, // site-local, deprecated
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// Networks that carry an IPv4 address inside an IPv6 one: the IPv4 address is where a
// connection ends up, so it is judged.
var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96") // the IPv4 address in the last 32 bits
	sixTo4 = netip.MustParsePrefix("2002::/16")    // the IPv4 address in bits 16 to 48
)

// Classify returns what a is when it is not a public address ("loopback", "private",
// "link-local", "cloud metadata", "unspecified", "multicast", "reserved"), else "". An IPv4
// address mapped into IPv6 (::ffff:127.0.0.1), or carried by NAT64 or 6to4, is the IPv4
// address it holds.
func Classify(a netip.Addr) string {
	kind, _ := classify(a)
	return kind
}

// classify is Classify, also returning the IPv4 address a carries, if any.
func classify(a netip.Addr) (string, netip.Addr) {
	a = a.WithZone("").Unmap()
	var v4 netip.Addr
	switch b := a.As16(); {
	case nat64.Contains(a):
		v4 = netip.AddrFrom4([4]byte(b[12:16]))
	case sixTo4.Contains(a):
		v4 = netip.AddrFrom4([4]byte(b[2:6]))
	}
	if v4.IsValid() {
		kind, _ := classify(v4)
		return kind, v4
	}
	for _, s := range special {
		if s.net.Contains(a) {
			return s.kind, v4
		}
	}
	return "", v4
}

// Check returns a *DeniedError when p refuses a, else nil.
func (p Policy) Check(a netip.Addr) error {
	if p.AllowPrivate {
		return nil
	}
	kind, v4 := classify(a)
	if kind == "" {
		return nil
	}
	a = a.WithZone("").Unmap()
	for _, n := range p.Allow {
		if n.Contains(a) || v4.IsValid() && n.Contains(v4) {
			return nil
		}
	}
	return &DeniedError{Addr: a, Kind: kind, Setting: p.Setting}
}

// control checks the address a dialler is about to connect to: the resolved IP and port.
func (p Policy) control(_ context.Context, network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("outbound network policy: %s address %q: %w", network, address, err)
	}
	return p.Check(ap.Addr())
}

// Dialer returns a dialer that connects only to the addresses p allows, with the timeouts of
// http.DefaultTransport's.
func (p Policy) Dialer() *net.Dialer {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if !p.AllowPrivate {
		d.ControlContext = p.control
	}
	return d
}

// MaxIdleConnsPerHost is how many idle connections to one host a Transport keeps: as many as
// a foreach runs iterations at once (blocks.MaxConcurrency).
const MaxIdleConnsPerHost = 32

// Transport returns an HTTP transport like http.DefaultTransport that connects only to the
// addresses p allows. While p refuses any address it uses no proxy: HTTP_PROXY and HTTPS_PROXY
// are ignored, since a proxy would connect to a refused address for the request.
func (p Policy) Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = p.Dialer().DialContext
	// A loop calls one host up to 32 at once (a foreach's concurrency): keep that many idle
	// connections to it, not http.DefaultTransport's 2, or most of its calls open a new one.
	t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	if !p.AllowPrivate {
		t.Proxy = nil
	}
	return t
}

// Client returns an HTTP client whose transport is p's.
func (p Policy) Client() *http.Client { return &http.Client{Transport: p.Transport()} }

// ParseNetwork parses a network to allow: a CIDR prefix (10.1.2.0/24, fd12::/64) or one
// address (127.0.0.1, ::1). An IPv4 network written as IPv6 (::ffff:10.0.0.0/104) is the IPv4
// network, as the addresses it is compared with are.
func ParseNetwork(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or a CIDR network such as 10.1.2.0/24", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	n, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR network such as 10.1.2.0/24", s)
	}
	if a := n.Addr(); a.Is4In6() {
		if n.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("%q: an IPv4-mapped network needs at least 96 bits", s)
		}
		n = netip.PrefixFrom(a.Unmap(), n.Bits()-96)
	}
	return n.Masked(), nil
}
