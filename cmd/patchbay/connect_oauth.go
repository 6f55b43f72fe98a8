package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
)

// approvalTimeout is how long connect waits for the provider's redirect.
const approvalTimeout = 10 * time.Minute

// connectInBrowser connects an oauth2 (authorization code) or oauth1 account: it listens on
// the loopback for the provider's redirect, sends the user to approve access, and finishes
// the connection with the redirect's query.
func (e *env) connectInBrowser(ctx context.Context, m *connections.Manager, st connections.Store, prog *engine.Program, req connections.ConnectRequest, o *connectOptions) int {
	fail := func(err error) int {
		e.printConnectError(err)
		return exitFailure
	}
	redirect, addr, path, err := callbackAddress(ctx, st, prog, req.Client, o.listen)
	if err != nil {
		return fail(err)
	}
	if err := loopback(addr); err != nil {
		return fail(fmt.Errorf("listen for the OAuth redirect: %w", err))
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fail(fmt.Errorf("listen for the OAuth redirect: %w", err))
	}
	if redirect == "" { // --listen: port 0 is the port the system picked
		redirect = "http://" + ln.Addr().String() + path
	}
	p, err := m.StartOAuth(ctx, prog, req, redirect)
	if err != nil {
		ln.Close()
		return fail(err)
	}
	cb := &callback{path: path, state: p.State, got: make(chan url.Values), done: make(chan error, 1)}
	srv := &http.Server{Handler: cb, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer func() {
		// Shutdown lets the handler finish the page it is writing.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()

	// The browser, not patchbay, sends the authorization request: --map-origin rewrites the
	// address it is given. redirect_uri in it stays the listener's.
	authorize, _ := e.net.origins.mapURL(p.AuthorizeURL)
	fmt.Fprintf(e.stdout, "Open this address in a browser to connect %s:\n\n  %s\n\n", prog.App.Key, authorize)
	if !o.noBrowser && openBrowser(authorize) {
		fmt.Fprintln(e.stderr, "(opened in your browser)")
	}
	fmt.Fprintf(e.stderr, "waiting for the provider to redirect to %s (Ctrl-C to stop) ...\n", redirect)

	wait, cancel := context.WithTimeout(ctx, approvalTimeout)
	defer cancel()
	var q url.Values
	select {
	case q = <-cb.got:
	case <-wait.Done():
		if ctx.Err() != nil {
			fmt.Fprintln(e.stderr, "error: stopped waiting for the redirect\nnothing was stored")
		} else {
			fmt.Fprintf(e.stderr, "error: no redirect came within %v\nnothing was stored\n", approvalTimeout)
		}
		return exitFailure
	}
	rec, err := m.FinishOAuth(ctx, prog, p, q)
	cb.done <- err
	if err != nil {
		return fail(err)
	}
	return e.connected(ctx, st, rec)
}

// loopback refuses an address to listen on that is not a loopback address (127.0.0.1, [::1],
// localhost): the callback must not be reachable from another machine (RFC 8252 section 8.3).
func loopback(addr string) error {
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return err
	}
	if a.IP == nil || !a.IP.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address; use 127.0.0.1 or [::1]", addr)
	}
	return nil
}

// callbackAddress returns where to wait for the redirect: the auth client's redirect URL when
// it has one (listening on its host and port, serving its path), else http://<listen>/callback.
// redirect is "" in the second case: the listener's address decides it.
func callbackAddress(ctx context.Context, st connections.Store, prog *engine.Program, client, listen string) (redirect, addr, path string, err error) {
	app := prog.App
	if client == "" {
		client = app.Connection.Client
	}
	if client == "" {
		client = app.Key
	}
	cl, err := st.Client(ctx, connections.DefaultWorkspace, app.Key, client)
	if errors.Is(err, connections.ErrNotFound) {
		return "", listen, "/callback", nil // StartOAuth says how to add the client
	}
	if err != nil {
		return "", "", "", fmt.Errorf("read auth client %q: %w", client, err)
	}
	if cl.RedirectURL == "" {
		return "", listen, "/callback", nil
	}
	u, err := url.Parse(cl.RedirectURL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return "", "", "", fmt.Errorf("the redirect URL %q of auth client %q is not an http:// address that patchbay connect can listen on; set --redirect-url with patchbay clients add, or leave it out", cl.RedirectURL, client)
	}
	addr = u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	path = u.Path
	if path == "" {
		path = "/"
	}
	return cl.RedirectURL, addr, path, nil
}

// callback serves the provider's redirect. A request without the state the connection was
// started with gets a 400 page and the wait goes on; the first one with it is handed to the
// waiting command, which answers with the outcome.
type callback struct {
	path  string
	state string
	taken atomic.Bool
	got   chan url.Values // the accepted redirect's query
	done  chan error      // the outcome of finishing the connection (buffered)
}

func (cb *callback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != cb.path {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(cb.state)) != 1 {
		page(w, http.StatusBadRequest, "This redirect does not belong to the connection patchbay is waiting for (its state is wrong or missing). Start again from the address patchbay printed.")
		return
	}
	if !cb.taken.CompareAndSwap(false, true) {
		page(w, http.StatusConflict, "patchbay has already received the redirect for this connection.")
		return
	}
	select {
	case cb.got <- q:
	case <-r.Context().Done():
		return
	}
	if err := <-cb.done; err != nil {
		page(w, http.StatusBadGateway, "Connecting failed: "+err.Error())
		return
	}
	page(w, http.StatusOK, "Connected. You can close this tab.")
}

// page writes a small HTML page with msg (escaped).
func page(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>patchbay</title></head>\n<body><p>%s</p></body></html>\n", html.EscapeString(msg))
}

// openBrowser opens u with xdg-open (open on macOS) when there is one, and reports whether it
// started.
func openBrowser(u string) bool {
	name := "xdg-open"
	if runtime.GOOS == "darwin" {
		name = "open"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return false
	}
	cmd := exec.Command(path, u)
	if err := cmd.Start(); err != nil {
		return false
	}
	go cmd.Wait() // reap it; its outcome does not matter, the address is printed
	return true
}
