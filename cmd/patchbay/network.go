package main

import (
	"flag"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/patchbay/patchbay/internal/netpolicy"
)

// Environment variables of the outbound network policy; the flags override them.
const (
	envDenyPrivate = "PATCHBAY_DENY_PRIVATE_NETWORKS"
	envAllow       = "PATCHBAY_ALLOW_NETWORKS"
)

// netOptions are the flags of the commands that send requests: which addresses they may reach.
type netOptions struct {
	declared bool // the command has the flags
	server   bool // a server's flags: private networks refused unless allowed
	deny     boolFlag
	allow    []netip.Prefix
	allowSet bool
	origins  originMap    // --map-origin
	client   *http.Client // by resolve
	told     bool         // the mapping was announced
}

// netFlags declares --deny-private-networks, --allow-network and --map-origin on fs.
func (e *env) netFlags(fs *flag.FlagSet) {
	e.net.declared = true
	fs.Var(&e.net.deny, "deny-private-networks", "refuse requests to loopback, private, link-local and cloud metadata addresses (env "+envDenyPrivate+"; without it the command line reaches every address, for local development)")
	fs.Func("allow-network", "with --deny-private-networks, let requests reach the `CIDR` network or address anyway (repeatable; env "+envAllow+", comma-separated)", e.net.addAllow)
	fs.Func("map-origin", "send the requests to one origin to another instead, such as a test server standing in for the provider: `FROM=TO`, each scheme://host[:port]; the credentials bound to FROM go to TO (repeatable)", e.net.origins.set)
}

// serverNetFlags declares --allow-network alone, for a server: its requests refuse every
// address that is not public (netpolicy.Policy{}, whatever PATCHBAY_DENY_PRIVATE_NETWORKS says)
// except the networks allowed.
func (e *env) serverNetFlags(fs *flag.FlagSet) {
	e.net.declared, e.net.server = true, true
	fs.Func("allow-network", "let requests reach the `CIDR` network or address although it is loopback, private, link-local or cloud metadata (repeatable; env "+envAllow+", comma-separated)", e.net.addAllow)
}

// addAllow adds an --allow-network.
func (o *netOptions) addAllow(s string) error {
	n, err := netpolicy.ParseNetwork(s)
	if err != nil {
		return err
	}
	o.allow, o.allowSet = append(o.allow, n), true
	return nil
}

// resolve builds the client of the command's requests from the flags and, where a flag was not
// given, the environment. Commands without the flags get none.
func (o *netOptions) resolve(getenv func(string) string) error {
	if !o.declared {
		return nil
	}
	deny := o.deny.v || o.server
	if v := getenv(envDenyPrivate); v != "" && !o.deny.set && !o.server {
		var err error
		if deny, err = strconv.ParseBool(v); err != nil {
			return fmt.Errorf("%s=%q: want true or false", envDenyPrivate, v)
		}
	}
	p := netpolicy.Policy{AllowPrivate: !deny, Allow: o.allow, Setting: "--allow-network"}
	if !o.allowSet {
		for _, s := range strings.FieldsFunc(getenv(envAllow), func(r rune) bool { return r == ',' || r == ' ' }) {
			n, err := netpolicy.ParseNetwork(s)
			if err != nil {
				return fmt.Errorf("%s: %w", envAllow, err)
			}
			p.Allow = append(p.Allow, n)
		}
	}
	o.client = &http.Client{Transport: o.origins.transport(p.Transport())}
	return nil
}

// httpClient returns the client of the command's requests: every connection it makes, to
// every redirect hop, is held to the network policy of its flags and the environment, and
// goes where --map-origin sends it.
func (e *env) httpClient() *http.Client {
	if e.net.client == nil {
		panic("patchbay " + e.cmd.Name + " sends requests but has no network flags: call netFlags in its Setup")
	}
	if !e.net.told {
		e.net.origins.announce(e.stderr)
		e.net.told = true
	}
	return e.net.client
}

// boolFlag is a boolean flag that knows whether it was given, so that an environment variable
// decides only when it was not.
type boolFlag struct{ v, set bool }

func (b *boolFlag) String() string   { return strconv.FormatBool(b.v) }
func (b *boolFlag) IsBoolFlag() bool { return true }

func (b *boolFlag) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	b.v, b.set = v, true
	return nil
}
