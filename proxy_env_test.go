package notifications

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// proxyChildEnv is set in the environment of the child process that
// TestEndpointUsesTheProxyFromTheEnvironment runs.
const proxyChildEnv = "REGNOTIFY_PROXY_CHILD"

// TestEndpointUsesTheProxyFromTheEnvironment: an endpoint without a
// Transport of its caller's sends through the proxy that HTTP_PROXY names.
// net/http reads the environment once per process, so the endpoint runs in
// a child process that has the variable from its start.
func TestEndpointUsesTheProxyFromTheEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	var mu sync.Mutex
	var requests []string
	events := 0
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env Envelope
		err := json.NewDecoder(r.Body).Decode(&env)
		mu.Lock()
		requests = append(requests, r.Method+" "+r.RequestURI)
		events += len(env.Events)
		mu.Unlock()
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer proxy.Close()

	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestProxyFromEnvironmentChild$", "-test.count=1", "-test.v", "-test.timeout=1m")
	// The last value of a variable counts: these replace any the test runs with.
	cmd.Env = append(os.Environ(), proxyChildEnv+"=1",
		"HTTP_PROXY="+proxy.URL, "http_proxy="+proxy.URL, "NO_PROXY=", "no_proxy=", "REQUEST_METHOD=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "--- PASS: TestProxyFromEnvironmentChild", "the child ran")

	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"POST http://hooks.example.test/events?tenant=acme"}, requests, "the proxy got the request for the endpoint's URL")
	assert.Equal(t, 2, events)
}

// TestProxyFromEnvironmentChild is the child of
// TestEndpointUsesTheProxyFromTheEnvironment: it delivers two events to a
// host that only the proxy knows.
func TestProxyFromEnvironmentChild(t *testing.T) {
	if os.Getenv(proxyChildEnv) == "" {
		t.Skip("run by TestEndpointUsesTheProxyFromTheEnvironment")
	}
	// No name is looked up in this process: a request that went around
	// the proxy fails here, and never leaves the machine.
	net.DefaultResolver.PreferGo = true
	net.DefaultResolver.Dial = func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no name lookups in this test")
	}
	e, err := OpenEndpoint("proxied", "http://hooks.example.test/events?tenant=acme", fastConfig())
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("proxied", 2)...))
	require.NoError(t, e.Close(), "delivered before Close returned")
}
