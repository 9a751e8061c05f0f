package relay

import (
	"bufio"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// When the listener fails, Serve returns with the connections it accepted
// closed: a request on a kept-alive connection is not answered after that
// (the relay behind the handler is closing).
func TestServeStopsItsConnectionsWhenTheListenerFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() {
		served <- Serve(t.Context(), ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	answers := bufio.NewReader(conn)
	ask := func() (*http.Response, error) {
		req, err := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/", nil)
		require.NoError(t, err)
		if err := req.Write(conn); err != nil {
			return nil, err
		}
		return http.ReadResponse(answers, req)
	}
	resp, err := ask()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, resp.Body.Close())

	require.NoError(t, ln.Close())
	select {
	case err := <-served:
		assert.Error(t, err, "the listener's failure")
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return when its listener failed")
	}
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	if resp, err := ask(); err == nil {
		_ = resp.Body.Close()
		t.Errorf("a request on the kept-alive connection was answered %s after Serve returned", resp.Status)
	}
}
