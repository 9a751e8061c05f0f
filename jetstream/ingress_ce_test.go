package jetstream

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications"
)

// Registries that publish CloudEvents (Endpoint.Format) feed relays too: each
// message's structured CloudEvent is decoded as the receiver decodes it.
func TestIngressCloudEventMessages(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	nc, js := dial(t, s)
	createStream(t, js, "EVENTS", "registry.events.>")
	config := testConfig()
	config.WireFormat = notifications.FormatCloudEvents
	pub, err := NewEndpoint("pub", Config{Conn: nc, Endpoint: config})
	require.NoError(t, err)
	sent := testEvents("ce", 4)
	require.NoError(t, pub.Write(sent...))
	require.NoError(t, pub.Close())

	rc := newReceiver(t)
	in, stop := runFleetRelay(t, s.ClientURL(), rc.URL, testConfig())
	eventually(t, func() bool { return len(rc.received()) == 4 }, "every CloudEvent is relayed")
	got := rc.received()
	assert.Equal(t, eventIDs(sent), eventIDs(got))
	for i := range got {
		assert.Equal(t, sent[i].Action, got[i].Action, "the event is the CloudEvent's data")
		assert.Equal(t, sent[i].Target, got[i].Target)
		assert.Equal(t, sent[i].Request, got[i].Request)
	}
	assert.Zero(t, in.terminated.Load())
	require.NoError(t, stop())
}
