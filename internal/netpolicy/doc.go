// Package netpolicy decides which addresses patchbay's outbound requests may reach, and builds
// the HTTP transport that holds every request of a run to it.
//
// An app's flows choose their URLs, and a provider's redirect or a DNS answer chooses where
// they end up. On a shared server, a request that reaches a loopback, private, link-local or
// cloud metadata address (169.254.169.254) with a connection's key attached is an attack on
// the server's own network. The zero Policy refuses those addresses; Allow lists the networks
// an operator opens anyway, and AllowPrivate opens them all, for local development.
//
// The policy is checked when a connection is dialled, on the IP address actually dialled
// (net.Dialer.ControlContext), so it holds for every redirect hop and for a host name that
// resolves to a public address when checked and to a private one when used (DNS rebinding).
// While it refuses anything, the transport ignores HTTP_PROXY and HTTPS_PROXY: a proxy would
// dial the refused address on the request's behalf.
//
//	client := netpolicy.Policy{Setting: "--allow-network"}.Client() // refuses 127.0.0.1 ...
//	client = netpolicy.Policy{AllowPrivate: true}.Client()           // refuses nothing
package netpolicy
