package notifications

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// heldBlocks opens a Broadcaster of two endpoints of config to a receiver
// that answers nothing until release is called, writes events one per
// Write, and returns what the first endpoint's memory store holds then.
func heldBlocks(t *testing.T, config EndpointConfig, events []Event) (blocks []queuedBlock, release func(), b *Broadcaster, rc *receiver) {
	t.Helper()
	hold := make(chan struct{})
	rc = newReceiver(t, func(int, http.ResponseWriter) int { <-hold; return http.StatusOK })
	e1, err := OpenEndpoint("one", rc.URL, config)
	require.NoError(t, err)
	e2, err := OpenEndpoint("two", rc.URL, config)
	require.NoError(t, err)
	b = NewBroadcaster(e1, e2)
	for i := range events {
		require.NoError(t, b.Write(events[i]))
	}
	q := e1.Sink.(*eventQueue)
	eventually(t, func() bool { return q.store.len() == len(events) }, "the events are stored")
	blocks, err = q.store.peek(0, len(events))
	require.NoError(t, err)
	return blocks, func() { close(hold) }, b, rc
}

// An endpoint whose deliverer splices the JSON a Broadcaster encoded keeps
// that JSON alone while events wait, unless something reads the events'
// values on every delivery; either way the receiver gets every event.
func TestEndpointsOfABroadcasterHoldTheJSONAlone(t *testing.T) {
	tests := []struct {
		name      string
		configure func(*EndpointConfig)
		jsonAlone bool
	}{
		{"splicing", func(*EndpointConfig) {}, true},
		{"OnFinished", func(c *EndpointConfig) { c.OnFinished = func(Finished) {} }, false},
		{"MaxEventAge", func(c *EndpointConfig) { c.MaxEventAge = time.Hour }, false},
		{"signed", func(c *EndpointConfig) { c.SigningSecrets = []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"} }, false},
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
			assert.ElementsMatch(t, append(ids(events), ids(events)...), ids(rc.received()), "each endpoint delivered every event")
		})
	}
}

// Events kept as their JSON alone that are given up reach the dead letter
// sink decoded, equal to the events written.
func TestGivenUpEventsHeldAsJSONAreDecoded(t *testing.T) {
	rc := newReceiver(t, func(int, http.ResponseWriter) int { return http.StatusBadRequest })
	dead := &fakeSink{}
	config := fastConfig()
	config.Threshold = 1
	config.DeadLetter = dead
	e1, err := OpenEndpoint("one", rc.URL, config)
	require.NoError(t, err)
	e2, err := OpenEndpoint("two", rc.URL, config)
	require.NoError(t, err)
	b := NewBroadcaster(e1, e2)
	events := bridgeEvents(4)
	for i := range events {
		require.NoError(t, b.Write(events[i]))
	}
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
	for _, e := range []*Endpoint{e1, e2} {
		var m EndpointMetrics
		e.ReadMetrics(&m)
		assert.Equal(t, len(events), m.Events)
		assert.Equal(t, len(events), m.Dropped)
		assert.Zero(t, m.Pending)
	}
}

// Events held as their JSON alone that are still pending at Close are
// given up decoded, and counted out of Pending.
func TestPendingEventsHeldAsJSONAreGivenUpAtClose(t *testing.T) {
	dead := &fakeSink{}
	config := fastConfig()
	config.DeadLetter = dead
	config.CloseTimeout = time.Millisecond
	events := bridgeEvents(6)
	_, release, b, _ := heldBlocks(t, config, events)
	defer release()
	require.Error(t, b.Close())
	byID := map[string]int{}
	for _, e := range dead.events() {
		byID[e.ID]++
	}
	for _, want := range events {
		assert.Equal(t, 2, byID[want.ID], "event %s given up by both endpoints", want.ID)
	}
	for _, sink := range b.sinks {
		var m EndpointMetrics
		sink.(*Endpoint).ReadMetrics(&m)
		assert.Zero(t, m.Pending)
		assert.Equal(t, len(events), m.Dropped)
	}
}
