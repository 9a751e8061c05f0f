package jetstream

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A message that is not one event (an envelope, an empty object, null) is
// an error, though a Nats-Msg-Id could give it an ID: the ingress
// terminates it rather than deliver an empty event. An event's JSON
// without an id takes that header's, even with no action (the endpoint
// publishes what it is given).
func TestDecodeMessageRefusesWhatIsNotAnEvent(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	_, js := dial(t, s)
	createStream(t, js, "EVENTS", "registry.events.>")
	tests := []struct {
		body    string
		wantErr bool
	}{
		{`{"events":[{"id":"a","action":"push"},{"id":"b","action":"push"}]}`, true},
		{`{}`, true},
		{`null`, true},
		{`{"id":"x","timestamp":"ghp_SECRET"}`, true},
		{`{"id":"x","target":{"size":"SECRET"}}`, true},
		{`{"id":"x","target":{"digest":SECRET}}`, true},
		{`{"action":"push","target":{"repository":"library/ubuntu"}}`, false},
		{`{"target":{"repository":"library/ubuntu"}}`, false}, // no action: still an event, as this module's endpoint publishes it
	}
	for i, tt := range tests {
		m := nats.NewMsg("registry.events.push.manifest")
		m.Header.Set(natsjs.MsgIDHeader, fmt.Sprint("m", i))
		m.Data = []byte(tt.body)
		_, err := js.PublishMsg(t.Context(), m)
		require.NoError(t, err)
	}
	msgs := streamMessages(t, js, "EVENTS")
	require.Len(t, msgs, len(tests))
	for i, tt := range tests {
		e, err := DecodeMessage(msgs[i])
		if tt.wantErr {
			if assert.Error(t, err, tt.body) {
				assert.NotContains(t, err.Error(), "SECRET", "the error is logged: it quotes nothing of the message")
			}
			continue
		}
		require.NoError(t, err, tt.body)
		assert.Equal(t, fmt.Sprint("m", i), e.ID, "the ID from Nats-Msg-Id")
		assert.Equal(t, "library/ubuntu", e.Target.Repository)
	}
}

// An event the deliverer cannot encode fails the batch with an error that
// quotes nothing of it: the endpoint logs that error.
func TestEncodeErrorQuotesNoEvent(t *testing.T) {
	for _, cloudEvents := range []bool{false, true} {
		d := &deliverer{prefix: DefaultSubjectPrefix, cloudEvents: cloudEvents}
		events := testEvents("Zq81x", 2)
		events[1].Timestamp = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		_, err := d.Encode(events)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "Zq81x", "the error quotes the event's ID")
		assert.NotContains(t, err.Error(), "10000-01-01", "the error quotes the event's time")
	}
}
