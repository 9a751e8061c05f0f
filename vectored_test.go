package notifications

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tcpPair returns the two ends of a loopback TCP connection, the first
// dialed through dialVectored.
func tcpPair(t *testing.T) (*vectoredConn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	c, err := dialVectored((&net.Dialer{}).DialContext)(context.Background(), "tcp", l.Addr().String())
	require.NoError(t, err)
	peer := <-accepted
	require.NotNil(t, peer)
	t.Cleanup(func() { _ = c.Close(); _ = peer.Close() })
	require.IsType(t, &vectoredConn{}, c)
	return c.(*vectoredConn), peer
}

// A body written with writev is the body read with Read, whether spliced
// from its events' JSON or encoded in one buffer, whole or cut at its
// limit, after any part of it was read already (net/http reads the start
// into its own buffer first).
func TestVectoredWriteIsTheBody(t *testing.T) {
	events := bridgeEvents(1500) // more pieces than one writev takes
	eventJSON, err := EncodeEvents(events)
	require.NoError(t, err)
	var bb bodyPool
	spliced := bb.splice(eventJSON)
	encoded, err := bb.encode(events, appendEnvelope)
	require.NoError(t, err)
	want := string(encoded.bytes)

	for _, tt := range []struct {
		name       string
		body       *bodyBuffer
		readFirst  int
		limitShort int
	}{
		{"spliced", spliced, 0, 0},
		{"spliced, start read", spliced, 4000, 0},
		{"spliced, cut", spliced, 100, 12345},
		{"encoded", encoded, 0, 0},
		{"encoded, start read", encoded, 4000, 0},
		{"encoded, cut", encoded, 7, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, peer := tcpPair(t)
			r := bb.open(tt.body).(*bodyReader)
			defer r.Close()
			start := make([]byte, tt.readFirst)
			_, err := io.ReadFull(r, start)
			require.NoError(t, err)
			limit := int64(len(want)-tt.readFirst) - int64(tt.limitShort)
			lr := &io.LimitedReader{R: r, N: limit}

			got := make(chan string, 1)
			go func() {
				b, _ := io.ReadAll(io.LimitReader(peer, limit))
				got <- string(b)
			}()
			n, err := c.ReadFrom(lr)
			require.NoError(t, err)
			assert.Equal(t, limit, n)
			assert.Zero(t, lr.N, "what was written counts as read")
			assert.Equal(t, want[tt.readFirst:len(want)-tt.limitShort], <-got)

			rest, err := io.ReadAll(r)
			require.NoError(t, err)
			assert.Equal(t, want[len(want)-tt.limitShort:], string(rest), "the body reads on where the writev stopped")
		})
	}
}

// Closing a body while its writev is blocked (the receiver reads
// nothing) returns at once; its buffer is not reused until the writev
// returned, and the writing stops there.
func TestVectoredWriteHoldsTheBufferPastClose(t *testing.T) {
	eventJSON, err := EncodeEvents(bridgeEvents(5000)) // more than the socket buffers hold
	require.NoError(t, err)
	var bb bodyPool
	b := bb.splice(eventJSON)
	c, peer := tcpPair(t)
	// Small socket buffers, so that the kernel cannot take the whole body
	// while the peer reads nothing (loopback's grow to tens of MiB).
	require.NoError(t, c.SetWriteBuffer(4<<10))
	require.NoError(t, peer.(*net.TCPConn).SetReadBuffer(4<<10))
	r := bb.open(b).(*bodyReader)
	bb.release(b) // the batch is done: the request alone holds the buffer

	written := make(chan error, 1)
	go func() {
		_, err := c.ReadFrom(&io.LimitedReader{R: r, N: int64(b.size())})
		written <- err
	}()
	eventually(t, func() bool {
		bb.mu.Lock()
		defer bb.mu.Unlock()
		return b.refs == 2 // the reader's, and the writev's
	}, "the writev holds the buffer")
	require.NoError(t, r.Close())
	taken := func() *bodyBuffer { b, _ := bb.take(); return b }
	assert.NotSame(t, b, taken(), "a buffer the kernel may still read is not reused")

	require.NoError(t, peer.Close())
	assert.Error(t, <-written)
	assert.Same(t, b, taken(), "once the writev returned, the buffer is free")
}

// Any other reader is copied as the connection copies it.
func TestVectoredConnCopiesOtherReaders(t *testing.T) {
	c, peer := tcpPair(t)
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(peer, 5))
		got <- string(b)
	}()
	n, err := c.ReadFrom(&io.LimitedReader{R: strings.NewReader("hello, world"), N: 5})
	require.NoError(t, err)
	assert.EqualValues(t, 5, n)
	assert.Equal(t, "hello", <-got)
}

// An endpoint's requests go out through a vectoredConn with their bodies
// intact, with the default transport and with a caller's that dials on its
// own. A caller's transport without a dialer keeps net/http's (and HTTP/2).
func TestEndpointWritesBodiesVectored(t *testing.T) {
	for _, tt := range []struct {
		name      string
		transport func() *http.Transport
	}{
		{"default", func() *http.Transport { return nil }},
		{"caller's dialer", func() *http.Transport {
			return &http.Transport{DialContext: (&net.Dialer{}).DialContext}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			config := fastConfig()
			config.Transport = tt.transport()
			transport := endpointTransport(config)
			defer transport.CloseIdleConnections()
			var dialed net.Conn
			dial := transport.DialContext
			transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := dial(ctx, network, addr)
				dialed = c
				return c, err
			}
			got := make(chan []byte, 1)
			rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got <- b
			}))
			defer rc.Close()

			events := bridgeEvents(300)
			eventJSON, err := EncodeEvents(events)
			require.NoError(t, err)
			var bb bodyPool
			b := bb.splice(eventJSON)
			defer bb.release(b)
			req, err := http.NewRequest(http.MethodPost, rc.URL, nil)
			require.NoError(t, err)
			bb.attach(req, b)
			resp, err := (&http.Client{Transport: transport}).Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()

			assert.IsType(t, &vectoredConn{}, dialed)
			want, err := appendEnvelope(nil, events)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(<-got))
		})
	}
}

func TestTransportWithoutDialerKeepsItsOwn(t *testing.T) {
	config := fastConfig()
	config.Transport = &http.Transport{}
	assert.Nil(t, endpointTransport(config).DialContext)
}
