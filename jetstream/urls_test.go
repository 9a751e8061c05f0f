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

// A server URL that does not parse is an error that quotes no part of it:
// the parser's own error quotes the URL, password included.
func TestMalformedURLErrorsHidePassword(t *testing.T) {
	for _, u := range []string{
		"nats://user:s3cret%zz@127.0.0.1:1", // bad escape
		"nats://user:s3 cret@127.0.0.1:1",   // space in the password
		"nats://user:s3cret@[::1:1",         // bad host
		"nats://127.0.0.2:1,nats://user:s3cret%zz@127.0.0.1:1",
	} {
		t.Run(u, func(t *testing.T) {
			_, err := NewEndpoint("x", Config{URL: u, Endpoint: testConfig()})
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "s3")
			assert.Contains(t, err.Error(), "does not parse")

			_, err = OpenIngress(IngressConfig{URL: u, Stream: "s", Durable: "d"})
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "s3")
			assert.Contains(t, err.Error(), "does not parse")
		})
	}
}
