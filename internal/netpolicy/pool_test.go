package netpolicy_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/patchbay/patchbay/internal/netpolicy"
)

// TestTransportKeepsConnectionsForLoops: the transport kept 2 idle connections per host (as
// http.DefaultTransport does), so a foreach of 1,000 calls at concurrency 8 opened a new TCP
// connection for most of its calls once more than 2 were in flight. It keeps as many as a loop
// runs at once (MaxIdleConnsPerHost), so 8 workers share at most a few more than 8.
func TestTransportKeepsConnectionsForLoops(t *testing.T) {
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	client := netpolicy.Policy{AllowPrivate: true}.Client()
	defer client.CloseIdleConnections()

	const workers, calls = 8, 100
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range calls {
				resp, err := client.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if got := opened.Load(); got > 2*workers {
		t.Errorf("%d workers making %d calls each opened %d connections, want at most %d", workers, calls, got, 2*workers)
	}
}
