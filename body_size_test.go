package notifications

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The size the queue counts for a batch is never short of the body, and
// at most a few bytes over it, in either format, with or without the
// events' JSON.
func TestBodySizeBoundsTheBody(t *testing.T) {
	events := bridgeEvents(5)
	eventJSON, err := EncodeEvents(events)
	require.NoError(t, err)
	for _, tt := range []struct {
		name     string
		encoding bodyEncoding
	}{
		{"envelope", envelopeEncoding},
		{"cloudevents", cloudEventsEncoding},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for n := 1; n <= len(events); n++ {
				body, err := tt.encoding.appendBody(nil, events[:n])
				require.NoError(t, err)
				for _, js := range [][][]byte{nil, eventJSON[:n]} {
					size := tt.encoding.bodySize(events[:n], js)
					assert.GreaterOrEqual(t, size, len(body), "%d events", n)
					assert.LessOrEqual(t, size, len(body)+3, "%d events", n)
				}
			}
		})
	}
}

// A CloudEvents endpoint keeps every body within 1 MiB although each event
// is a third larger than in an envelope: a backlog that fits in one
// envelope of MaxBatch events goes out in several requests.
func TestCloudEventsBodiesStayUnderOneMiB(t *testing.T) {
	rc := newRawReceiver(t, true)
	config := fastConfig()
	config.WireFormat = FormatCloudEvents
	e, err := OpenEndpoint("ce", rc.URL, config)
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("first", 1)...)) // held while the rest queue up
	eventually(t, func() bool { return len(rc.received()) == 1 }, "the first request is out")
	var want []string
	for i := range 10 { // MaxBatch events: one envelope
		block := testEvents("block-"+string(rune('a'+i)), 100)
		for j := range block {
			block[j].Target.URL = strings.Repeat("u", 750) // about 1000 B of event JSON
		}
		want = append(want, ids(block)...)
		require.NoError(t, e.Write(block...))
	}
	events := make([]Event, 0, 1000)
	for range 10 {
		events = append(events, testEvents("x", 100)...)
	}
	for j := range events {
		events[j].Target.URL = strings.Repeat("u", 750)
	}
	envelope, err := envelopeEncoding.appendBody(nil, events)
	require.NoError(t, err)
	require.Less(t, len(envelope), maxEnvelopeBytes, "1000 of these events fit in one envelope")
	close(rc.hold)
	require.NoError(t, e.Close())

	var got []string
	bodies := rc.received()
	for _, body := range bodies[1:] {
		assert.LessOrEqual(t, len(body), maxEnvelopeBytes)
		var ces []struct {
			ID string `json:"id"`
		}
		require.NoError(t, json.Unmarshal(body, &ces))
		for _, ce := range ces {
			got = append(got, ce.ID)
		}
	}
	assert.Equal(t, want, got, "whole blocks, in order")
	assert.Greater(t, len(bodies), 2, "the backlog went out in several requests")
}

// An envelope endpoint encodes a backlog of events held in memory without
// sizing them first, and fits the blocks to 1 MiB only when the envelope
// of all of them would be larger: either way every body stays within
// 1 MiB and holds whole blocks, in order.
func TestEnvelopeBacklogBodiesStayUnderOneMiB(t *testing.T) {
	for _, tt := range []struct {
		name     string
		urlBytes int // about the size of each event's JSON, less 250 B
		requests int // for the backlog; 0: several
	}{
		{"fits in one envelope", 750, 1},
		{"needs several envelopes", 1500, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rc := newRawReceiver(t, true)
			e, err := OpenEndpoint("env", rc.URL, fastConfig())
			require.NoError(t, err)
			require.NoError(t, e.Write(testEvents("first", 1)...)) // held while the rest queue up
			eventually(t, func() bool { return len(rc.received()) == 1 }, "the first request is out")
			var want []string
			for i := range 10 { // MaxBatch events
				block := testEvents(fmt.Sprint("block-", i), 100)
				for j := range block {
					block[j].Target.URL = strings.Repeat("u", tt.urlBytes)
				}
				want = append(want, ids(block)...)
				require.NoError(t, e.Write(block...))
			}
			close(rc.hold)
			require.NoError(t, e.Close())

			var got []string
			bodies := rc.received()[1:]
			for _, body := range bodies {
				assert.LessOrEqual(t, len(body), maxEnvelopeBytes)
				var env Envelope
				require.NoError(t, json.Unmarshal(body, &env))
				assert.Zero(t, len(env.Events)%100, "whole blocks")
				got = append(got, ids(env.Events)...)
			}
			assert.Equal(t, want, got, "in order")
			if tt.requests > 0 {
				assert.Len(t, bodies, tt.requests)
			} else {
				assert.Greater(t, len(bodies), 1, "the backlog went out in several requests")
			}
		})
	}
}
