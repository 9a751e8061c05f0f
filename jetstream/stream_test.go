package jetstream

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A stream of another name that captures the subjects already (an
// operator's) takes the events: CreateStream's refusal (subjects overlap)
// does not stop the endpoint.
func TestCreateStreamWhenAnotherCapturesTheSubjects(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	_, js := dial(t, s)
	createStream(t, js, "OPS_OWNED", "registry.events.>")
	e, err := NewEndpoint("overlap", Config{URL: s.ClientURL(), CreateStream: &StreamConfig{Name: "REGISTRY_EVENTS"}, Endpoint: testConfig()})
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("o", 3)...))
	require.NoError(t, e.Close())
	assert.Equal(t, 3, streamCount(t, js, "OPS_OWNED"))
}

// An event whose action is longer than a subject may be (the server's
// control line is 4 KiB) is published under a cut subject, and the
// connection stays up for the events after it.
func TestLongActionKeepsTheConnection(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	_, js := dial(t, s)
	createStream(t, js, "EVENTS", "registry.events.>")
	e, err := NewEndpoint("long", Config{URL: s.ClientURL(), Endpoint: testConfig()})
	require.NoError(t, err)
	long := testEvents("long", 1)
	long[0].Action = strings.Repeat("p", 4100)
	require.NoError(t, e.Write(long...))
	require.NoError(t, e.Write(testEvents("after", 5)...))
	require.NoError(t, e.Close())
	msgs := streamMessages(t, js, "EVENTS")
	require.Len(t, msgs, 6)
	assert.Equal(t, "registry.events."+strings.Repeat("p", maxSubjectToken)+".manifest", msgs[0].Subject())
}
