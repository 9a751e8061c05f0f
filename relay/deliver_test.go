package relay

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications"
)

// outcomes records Deliver's done calls.
type outcomes struct {
	mu  sync.Mutex
	got map[int][]bool
}

func (o *outcomes) done(i int, ack bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.got == nil {
		o.got = map[int][]bool{}
	}
	o.got[i] = append(o.got[i], ack)
}

func (o *outcomes) snapshot() map[int][]bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[int][]bool{}
	for k, v := range o.got {
		out[k] = append([]bool(nil), v...)
	}
	return out
}

// trackedRelay returns a relay whose endpoints report to a tracker; gate,
// when not nil, holds the second endpoint's receiver until closed.
func trackedRelay(t *testing.T, gate chan struct{}) (*Relay, *sink, *sink) {
	t.Helper()
	tr := NewTracker(0)
	a, b := newSink(t), newSink(t)
	url := b.URL
	if gate != nil {
		held := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
			<-gate
			b.Config.Handler.ServeHTTP(w, r)
		})
		url = held
	}
	config := notifications.EndpointConfig{OnFinished: tr.Finished}
	r, _ := newRelay(t, Config{Tracker: tr}, openEndpoint(t, "a", a.URL, config), openEndpoint(t, "b", url, config))
	return r, a, b
}

func TestDeliverAcksOnceEveryEndpointDelivered(t *testing.T) {
	gate := make(chan struct{})
	r, a, b := trackedRelay(t, gate)
	var o outcomes
	require.NoError(t, r.Deliver(events("d", 3), o.done))
	require.Eventually(t, func() bool { return len(a.received()) == 3 }, 10*time.Second, time.Millisecond)
	assert.Empty(t, o.snapshot(), "no ack while an endpoint has not delivered")
	assert.Equal(t, 3, r.cfg.Tracker.Pending())
	close(gate)
	require.Eventually(t, func() bool { return len(o.snapshot()) == 3 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, map[int][]bool{0: {true}, 1: {true}, 2: {true}}, o.snapshot())
	assert.Len(t, b.received(), 3)
	assert.Zero(t, r.cfg.Tracker.Pending())
}

// An event one endpoint ignores (its IgnoreConfig reports it as ignored)
// is acked once the others delivered it.
func TestDeliverAcksWhatAnEndpointIgnores(t *testing.T) {
	tr := NewTracker(0)
	a, b := newSink(t), newSink(t)
	ignoring := notifications.EndpointConfig{OnFinished: tr.Finished,
		Ignore: notifications.IgnoreConfig{MediaTypes: []string{"application/octet-stream"}}}
	r, _ := newRelay(t, Config{Tracker: tr},
		openEndpoint(t, "a", a.URL, ignoring), openEndpoint(t, "b", b.URL, notifications.EndpointConfig{OnFinished: tr.Finished}))
	sent := events("ig", 1)
	sent[0].Target.MediaType = "application/octet-stream"
	var o outcomes
	require.NoError(t, r.Deliver(sent, o.done))
	require.Eventually(t, func() bool { return len(o.snapshot()) == 1 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, map[int][]bool{0: {true}}, o.snapshot())
	assert.Empty(t, a.received())
	assert.Len(t, b.received(), 1)
}

func TestDeliverDedupes(t *testing.T) {
	gate := make(chan struct{})
	r, a, _ := trackedRelay(t, gate)
	var first, again, later outcomes
	require.NoError(t, r.Deliver(events("x", 1), first.done))
	require.NoError(t, r.Deliver(events("x", 1), again.done), "the source sends it again while it is on its way")
	close(gate)
	require.Eventually(t, func() bool { return len(again.snapshot()) == 1 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, map[int][]bool{0: {true}}, first.snapshot())
	require.NoError(t, r.Deliver(events("x", 1), later.done))
	assert.Equal(t, map[int][]bool{0: {true}}, later.snapshot(), "acked lately: acked at once")
	require.NoError(t, r.Close())
	assert.Len(t, a.received(), 1, "sent once")
}

func TestDeliverAsksRetryWhenAnEndpointCannotTake(t *testing.T) {
	tr := NewTracker(0)
	a := newSink(t)
	config := notifications.EndpointConfig{OnFinished: tr.Finished}
	open := openEndpoint(t, "open", a.URL, config)
	closed := openEndpoint(t, "closed", a.URL, config)
	require.NoError(t, closed.Close())
	r, _ := newRelay(t, Config{Tracker: tr}, open, closed)
	var o outcomes
	require.NoError(t, r.Deliver(events("r", 2), o.done))
	require.Eventually(t, func() bool { return len(o.snapshot()) == 2 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, map[int][]bool{0: {false}, 1: {false}}, o.snapshot())
}

func TestDeliverWithoutTrackerOrID(t *testing.T) {
	a := newSink(t)
	r, _ := newRelay(t, Config{}, openEndpoint(t, "a", a.URL, notifications.EndpointConfig{}))
	assert.ErrorIs(t, r.Deliver(events("n", 1), func(int, bool) {}), ErrNoTracker)

	r2, _, _ := trackedRelay(t, nil)
	var o outcomes
	require.NoError(t, r2.Deliver([]notifications.Event{{Action: "push"}}, o.done))
	assert.Equal(t, map[int][]bool{0: {true}}, o.snapshot(), "an event without an ID is dropped")
}

func TestTrackerFinishedOutcomes(t *testing.T) {
	tests := []struct {
		name string
		err  error
		ack  bool
	}{
		{"delivered", nil, true},
		{"too old", notifications.ErrEventTooOld, true},
		{"rejected", fmt.Errorf("x: %w", notifications.ErrRejected), true},
		{"queue full", notifications.ErrQueueFull, false},
		{"close timeout", notifications.ErrCloseTimeout, false},
		{"anything else", errors.New("disk on fire"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(0)
			var got []bool
			require.True(t, tr.start("id", 1, func(ack bool) { got = append(got, ack) }))
			tr.Finished(notifications.Finished{Endpoint: "e", Events: []notifications.Event{{ID: "id"}}, Err: tt.err})
			assert.Equal(t, []bool{tt.ack}, got)
		})
	}
}
