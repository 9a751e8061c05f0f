package jetstream

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// freezer forwards TCP connections to a server until frozen: then it
// forwards nothing more and closes nothing, as a network that drops every
// packet does. The test's end closes everything.
type freezer struct {
	ln     net.Listener
	frozen atomic.Bool
	thaw   chan struct{} // closed at the end: frozen copies return
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newFreezer(t *testing.T, target string) *freezer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &freezer{ln: ln, thaw: make(chan struct{})}
	f.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			f.mu.Lock()
			f.conns = append(f.conns, c, s)
			f.mu.Unlock()
			f.wg.Go(func() { f.copy(s, c) })
			f.wg.Go(func() { f.copy(c, s) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		close(f.thaw)
		f.mu.Lock()
		for _, c := range f.conns {
			_ = c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

// copy forwards what from reads to to, until either fails or the freezer
// is frozen: then it waits for the end of the test.
func (f *freezer) copy(to, from net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if f.frozen.Load() {
			<-f.thaw
			return
		}
		if n > 0 {
			if _, werr := to.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// An endpoint whose NATS connection stops answering (a half-open TCP
// connection) closes within its CloseTimeout and a request's Timeout, not
// after the connection's DrainTimeout as well: when the queue has closed,
// no answer is awaited.
func TestEndpointCloseOnAFrozenConnection(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	_, js := dial(t, s)
	createStream(t, js, "EVENTS", "registry.events.>")
	f := newFreezer(t, s.Addr().String())
	cfg := testConfig()
	cfg.Timeout, cfg.CloseTimeout = 200*time.Millisecond, 200*time.Millisecond
	e, err := NewEndpoint("frozen", Config{
		URL:      "nats://" + f.ln.Addr().String(),
		Options:  []nats.Option{nats.DrainTimeout(10 * time.Minute)},
		Endpoint: cfg,
	})
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("before", 3)...))
	eventually(t, func() bool { return streamCount(t, js, "EVENTS") == 3 }, "delivered while the network works")

	f.frozen.Store(true)
	require.NoError(t, e.Write(testEvents("after", 1)...))
	closed := make(chan error, 1)
	go func() { closed <- e.Close() }()
	select {
	case err := <-closed:
		assert.Error(t, err, "the event written after the freeze was given up")
	case <-time.After(10 * time.Second): // 15s here before, draining for DrainTimeout
		t.Fatal("Close waited for the connection to drain")
	}
}

// With nats.NoCallbacksAfterClientClose among the options, Close still
// returns: it waits for the closed callback, which the endpoint keeps.
func TestEndpointCloseWithNoCallbacksAfterClientClose(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	_, js := dial(t, s)
	createStream(t, js, "EVENTS", "registry.events.>")
	e, err := NewEndpoint("nocb", Config{URL: s.ClientURL(), Options: []nats.Option{nats.NoCallbacksAfterClientClose()}, Endpoint: testConfig()})
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("cb", 2)...))
	closed := make(chan error, 1)
	go func() { closed <- e.Close() }()
	select {
	case err := <-closed:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for a callback that never came")
	}
	assert.Equal(t, 2, streamCount(t, js, "EVENTS"))
}
