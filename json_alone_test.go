package notifications

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// endpointPair opens two endpoints of config to url and a Broadcaster of
// them, and writes events to it one per Write.
func endpointPair(t *testing.T, url string, config EndpointConfig, events []Event) (b *Broadcaster, e1, e2 *Endpoint) {
	t.Helper()
	e1, err := OpenEndpoint("one", url, config)
	require.NoError(t, err)
	e2, err = OpenEndpoint("two", url, config)
	require.NoError(t, err)
	b = NewBroadcaster(e1, e2)
	for i := range events {
		require.NoError(t, b.Write(events[i]))
	}
	return b, e1, e2
}

// heldBlocks opens a Broadcaster of two endpoints of config to a receiver
// that answers nothing until release is called, writes events one per
// Write, and returns what the first endpoint's memory store holds then.
// The events fit in the store's first chunk (minChunkBlocks), so that
// peeking them from the test neither copies them nor disturbs the
// queue's own peeks.
func heldBlocks(t *testing.T, config EndpointConfig, events []Event) (blocks []queuedBlock, release func(), b *Broadcaster, rc *receiver) {
	t.Helper()
	require.Less(t, len(events), minChunkBlocks)
	config.Timeout = time.Minute // no attempt times out, however slow the machine, to be sent again
	hold := make(chan struct{})
	rc = newReceiver(t, func(int, http.ResponseWriter) int { <-hold; return http.StatusOK })
	b, e1, _ := endpointPair(t, rc.URL, config, events)
	q := e1.Sink.(*eventQueue)
	eventually(t, func() bool { return q.store.len() == len(events) }, "the events are stored")
	blocks, err := q.store.peek(0, len(events))
	require.NoError(t, err)
	return blocks, func() { close(hold) }, b, rc
}

// An endpoint whose deliverer splices the JSON a Broadcaster encoded keeps
// that JSON alone while events wait, unless something reads the events'
// values; either way the receiver gets every event.
func TestEndpointsOfABroadcasterHoldTheJSONAlone(t *testing.T) {
	tests := []struct {
		name      string
		configure func(*EndpointConfig)
		jsonAlone bool
	}{
		{"splicing", func(*EndpointConfig) {}, true},
		{"OnFinished", func(c *EndpointConfig) { c.OnFinished = func(Finished) {} }, false},
		{"DeadLetter", func(c *EndpointConfig) { c.DeadLetter = &fakeSink{} }, false},
		{"MaxEventAge", func(c *EndpointConfig) { c.MaxEventAge = time.Hour }, false},
		{"signed", func(c *EndpointConfig) { c.SigningSecrets = []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"} }, false},
		{"CloudEvents", func(c *EndpointConfig) { c.WireFormat = FormatCloudEvents }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config := fastConfig()
			tt.configure(&config)
			events := bridgeEvents(5)
			blocks, release, b, rc := heldBlocks(t, config, events)
			held := 0
			for _, blk := range blocks {
				require.NotNil(t, blk.json, "a block written by a Broadcaster has its JSON")
				held += blk.count()
				assert.Equal(t, !tt.jsonAlone, blk.events != nil, "a block holds its events")
			}
			assert.Equal(t, len(events), held)
			release()
			checkClose(t, b)
			if tt.name != "CloudEvents" { // the test receiver decodes envelopes
				assert.ElementsMatch(t, append(ids(events), ids(events)...), ids(rc.received()), "each endpoint delivered every event")
			}
		})
	}
}

// The dead letter sink gets the events as they were written, not decoded
// from their JSON: their times keep their Location.
func TestDeadLetterGetsTheEventsWritten(t *testing.T) {
	rc := newReceiver(t, func(int, http.ResponseWriter) int { return http.StatusBadRequest })
	dead := &fakeSink{}
	config := fastConfig()
	config.Threshold = 1
	config.DeadLetter = dead
	events := bridgeEvents(4)
	for i := range events {
		events[i].Timestamp = time.Date(2026, 12, 2, 17, 0, i, 0, time.FixedZone("CET", 3600))
	}
	b, _, _ := endpointPair(t, rc.URL, config, events)
	eventually(t, func() bool { return len(dead.events()) == 2*len(events) }, "every event is given up by both endpoints")
	checkClose(t, b)

	byID := map[string][]Event{}
	for _, e := range dead.events() {
		byID[e.ID] = append(byID[e.ID], e)
	}
	for _, want := range events {
		require.Len(t, byID[want.ID], 2, "event %s", want.ID)
		for _, got := range byID[want.ID] {
			assert.Equal(t, want, got)
		}
	}
}

// Events held as their JSON alone that are refused, or still pending at
// Close, are counted out of Pending into Dropped; with nothing to read
// them, those left at Close are not decoded.
func TestEventsHeldAsJSONAloneAreCountedWhenGivenUp(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		rc := newReceiver(t, func(int, http.ResponseWriter) int { return http.StatusBadRequest })
		config := fastConfig()
		config.Threshold = 1
		events := bridgeEvents(4)
		b, e1, e2 := endpointPair(t, rc.URL, config, events)
		for _, e := range []*Endpoint{e1, e2} {
			eventually(t, func() bool { return e.Pending() == 0 }, "every event is given up")
		}
		checkClose(t, b)
		for _, e := range []*Endpoint{e1, e2} {
			var m EndpointMetrics
			e.ReadMetrics(&m)
			assert.Equal(t, len(events), m.Events)
			assert.Equal(t, len(events), m.Dropped)
			assert.Zero(t, m.Pending)
		}
	})
	t.Run("left at Close", func(t *testing.T) {
		config := fastConfig()
		config.CloseTimeout = time.Millisecond
		events := bridgeEvents(50)
		blocks, release, b, _ := heldBlocks(t, config, events)
		defer release()
		for _, blk := range blocks {
			require.Nil(t, blk.events, "held as its JSON alone")
		}
		before := decodedEvents.Load()
		var undelivered *UndeliveredError
		require.ErrorAs(t, b.Close(), &undelivered)
		assert.Zero(t, decodedEvents.Load()-before, "events decoded at Close for nobody")
		for _, sink := range b.sinks {
			var m EndpointMetrics
			sink.(*Endpoint).ReadMetrics(&m)
			assert.Zero(t, m.Pending)
			assert.Equal(t, len(events), m.Dropped)
		}
	})
}
