package jetstream

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A URL listing several servers, as the README shows it, connects to one
// that answers.
func TestEndpointURLList(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	_, js := dial(t, s)
	createStream(t, js, "EVENTS", "registry.events.>")
	e, err := NewEndpoint("list", Config{URL: "nats://127.0.0.1:1, " + s.ClientURL(), Endpoint: testConfig()})
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("list", 3)...))
	require.NoError(t, e.Close())
	assert.Equal(t, 3, streamCount(t, js, "EVENTS"))
}
