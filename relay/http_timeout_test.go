package relay

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pipeListener is a net.Listener whose connections are in-memory pipes, so
// that a server's deadlines run on a synctest bubble's clock.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.UnixAddr{Name: "pipe", Net: "pipe"} }

// dial returns the client's end of a new connection.
func (l *pipeListener) dial() net.Conn {
	client, server := net.Pipe()
	l.conns <- server
	return client
}

// Serve closes a connection that holds it without sending a request: a
// request's header must come within 10s and its body within a minute, and
// a kept-alive connection may idle 2 minutes.
func TestServeClosesSlowConnections(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sent     string
		closedAt time.Duration
	}{
		{"a header cut short", "POST /events HTTP/1.1\r\nHost: relay\r\n", 10 * time.Second},
		{"a body sent slowly", "POST /events HTTP/1.1\r\nHost: relay\r\nContent-Length: 10\r\n\r\nab", readTimeout},
		{"an idle kept-alive connection", "GET / HTTP/1.1\r\nHost: relay\r\n\r\n", 2 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ln := newPipeListener()
				ctx, cancel := context.WithCancel(t.Context())
				served := make(chan error, 1)
				go func() {
					served <- Serve(ctx, ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						_, _ = io.Copy(io.Discard, r.Body)
					}))
				}()
				conn := ln.dial()
				defer conn.Close()
				closed := make(chan struct{})
				go func() {
					_, _ = io.Copy(io.Discard, conn) // the answer, if any, then EOF
					close(closed)
				}()
				_, err := io.WriteString(conn, tc.sent)
				require.NoError(t, err)

				isClosed := func() bool {
					synctest.Wait()
					select {
					case <-closed:
						return true
					default:
						return false
					}
				}
				time.Sleep(tc.closedAt - time.Second)
				assert.False(t, isClosed(), "closed before %v", tc.closedAt)
				time.Sleep(2 * time.Second)
				assert.True(t, isClosed(), "open after %v", tc.closedAt)

				cancel()
				require.NoError(t, <-served)
			})
		})
	}
}
