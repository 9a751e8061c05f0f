package relay

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications"
)

// An endpoint at MaxPending refuses the block: the registry is answered 503
// and, when it sends the events again once there is room, each endpoint gets
// each event once. The endpoint gives nothing up (the registry sends the
// events again): nothing in Dropped nor in its DeadLetter.
func TestRelayFullEndpointAnswers503(t *testing.T) {
	gate := make(chan struct{})
	full, roomy := newSink(t), newSink(t)
	held := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-gate
		full.Config.Handler.ServeHTTP(w, r)
	})
	dead := &deadLetters{}
	fullEndpoint := openEndpoint(t, "full", held, notifications.EndpointConfig{MaxPending: 1, DeadLetter: dead})
	r, url := newRelay(t, Config{}, fullEndpoint, openEndpoint(t, "roomy", roomy.URL, notifications.EndpointConfig{}))
	require.Equal(t, http.StatusOK, post(t, url, "", events("one", 1)))
	sent := events("two", 1)
	assert.Equal(t, http.StatusServiceUnavailable, post(t, url, "", sent), "the full endpoint cannot hold it")
	close(gate)
	require.Eventually(t, func() bool { return post(t, url, "", sent) == http.StatusOK }, 10*time.Second, 10*time.Millisecond,
		"the registry's retry is taken once there is room")
	require.NoError(t, r.Close())
	assert.Equal(t, []string{"one-0", "two-0"}, eventIDs(full.received()))
	assert.Equal(t, []string{"one-0", "two-0"}, eventIDs(roomy.received()), "the endpoint that took it first is not given it again")
	var m notifications.EndpointMetrics
	fullEndpoint.ReadMetrics(&m)
	assert.Zero(t, m.Dropped, "nothing given up")
	assert.Zero(t, dead.count.Load(), "nothing in the dead letter sink")
}

// deadLetters counts the events a DeadLetter sink is given.
type deadLetters struct{ count atomic.Int64 }

func (d *deadLetters) Write(events ...notifications.Event) error {
	d.count.Add(int64(len(events)))
	return nil
}

func (d *deadLetters) Close() error { return nil }

// Events an endpoint ignores do not count against its MaxPending: a full
// endpoint that ignores pulls does not hold them back from the others.
func TestRelayFullEndpointIgnoringTheEvents(t *testing.T) {
	gate := make(chan struct{})
	held := httptestServer(t, func(w http.ResponseWriter, r *http.Request) { <-gate })
	t.Cleanup(func() { close(gate) }) // before the server's Close, which waits for its handlers
	other := newSink(t)
	_, url := newRelay(t, Config{},
		openEndpoint(t, "full", held, notifications.EndpointConfig{MaxPending: 1, CloseTimeout: 100 * time.Millisecond, Ignore: notifications.IgnoreConfig{Actions: []string{notifications.EventActionPull}}}),
		openEndpoint(t, "other", other.URL, notifications.EndpointConfig{}))
	require.Equal(t, http.StatusOK, post(t, url, "", events("push", 1)), "full holds it, its webhook held")
	pulls := events("pull", 2)
	for i := range pulls {
		pulls[i].Action = notifications.EventActionPull
	}
	assert.Equal(t, http.StatusOK, post(t, url, "", pulls), "full ignores them: only the other endpoint holds them")
	require.Eventually(t, func() bool { return len(other.received()) == 3 }, 10*time.Second, time.Millisecond)
}

// A block larger than an endpoint's MaxPending, which it could never hold,
// is answered 413 (a regnotify sender then sends smaller batches), and no
// endpoint gets it.
func TestRelayBlockLargerThanMaxPending(t *testing.T) {
	small, other := newSink(t), newSink(t)
	r, url := newRelay(t, Config{},
		openEndpoint(t, "other", other.URL, notifications.EndpointConfig{}),
		openEndpoint(t, "small", small.URL, notifications.EndpointConfig{MaxPending: 2}))
	assert.Equal(t, http.StatusRequestEntityTooLarge, post(t, url, "", events("big", 3)))
	assert.Equal(t, http.StatusOK, post(t, url, "", events("fits", 2)))
	require.NoError(t, r.Close())
	assert.Equal(t, []string{"fits-0", "fits-1"}, eventIDs(small.received()))
	assert.Equal(t, []string{"fits-0", "fits-1"}, eventIDs(other.received()), "nothing of the refused block reached the other endpoint")
}
