package notifications

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Broadcaster encodes each event once for its endpoints, and writes
// the events alone to sinks that are not EncodedSinks.
func TestBroadcasterSharesEncodedEvents(t *testing.T) {
	envelope, cloud := newRawReceiver(t, false), newRawReceiver(t, false)
	e1, err := OpenEndpoint("envelope", envelope.URL, fastConfig())
	require.NoError(t, err)
	config := fastConfig()
	config.WireFormat = FormatCloudEvents
	e2, err := OpenEndpoint("cloudevents", cloud.URL, config)
	require.NoError(t, err)
	plain := &fakeSink{}
	b := NewBroadcaster(e1, plain, e2)
	events := bridgeEvents(3)
	for i := range events {
		require.NoError(t, b.Write(events[i]))
	}
	checkClose(t, b)

	var got Envelope
	var envelopeIDs []string
	for _, body := range envelope.received() {
		require.NoError(t, json.Unmarshal(body, &got))
		envelopeIDs = append(envelopeIDs, ids(got.Events)...)
	}
	assert.Equal(t, ids(events), envelopeIDs)
	eventJSON, err := EncodeEvents(events)
	require.NoError(t, err)
	all := bytes.Join(cloud.received(), nil)
	for i := range events {
		assert.True(t, bytes.Contains(all, eventJSON[i]), "event %d is the data of its CloudEvent", i)
	}
	assert.Equal(t, ids(events), ids(plain.events()))
}

// A Broadcaster encodes only for sinks that use the JSON: endpoints whose
// Deliverer neither splices nor has a spool to store it would drop it.
func TestBroadcasterEncodesOnlyForSinksThatUseJSON(t *testing.T) {
	plain := func() Sink {
		e, err := NewDelivererEndpoint("plain", "discard", &fakeDeliverer{}, EndpointConfig{Logger: testLogger()})
		require.NoError(t, err)
		return e
	}
	webhook := func() Sink {
		e, err := OpenEndpoint("webhook", "http://127.0.0.1:1/", EndpointConfig{Logger: testLogger(), CloseTimeout: time.Millisecond})
		require.NoError(t, err)
		return e
	}
	for _, tt := range []struct {
		name  string
		sinks []Sink
		want  int
	}{
		{"two plain deliverers", []Sink{plain(), plain()}, 0},
		{"two webhooks", []Sink{webhook(), webhook()}, 2},
		{"a webhook and a plain sink", []Sink{webhook(), &fakeSink{}}, 1},
		{"nested", []Sink{NewBroadcaster(webhook()), plain()}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBroadcaster(tt.sinks...)
			assert.Equal(t, tt.want, b.encoded)
			_ = b.Close()
		})
	}
}
