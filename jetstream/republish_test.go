package jetstream

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/regnotify/notifications"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPartialFailureRepublishesOnlyUnacked delivers a batch of which the
// stream refuses some messages (one per subject, no more): the retry
// publishes only the messages that had no ack.
func TestPartialFailureRepublishesOnlyUnacked(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	nc, js := dial(t, s)
	limited := natsjs.StreamConfig{
		Name: "LIMITED", Subjects: []string{"registry.events.>"}, Storage: natsjs.FileStorage,
		MaxMsgsPerSubject: 1, Discard: natsjs.DiscardNew, DiscardNewPerSubject: true,
	}
	_, err := js.CreateStream(t.Context(), limited)
	require.NoError(t, err)

	published := countPublishes(t, nc)

	conn, err := nats.Connect(s.ClientURL())
	require.NoError(t, err)
	d, err := newDeliverer(conn, true, closedSignal(conn), Config{SubjectPrefix: DefaultSubjectPrefix}, 5*time.Second)
	require.NoError(t, err)

	events := testEvents("partial", 4) // push.manifest, push.blob, push.manifest, push.blob
	got := d.Deliver(t.Context(), events)
	assert.Equal(t, notifications.Retry, got.Outcome)
	assert.Regexp(t, `^error \d+$`, got.Status, "JetStream's refusal, counted as a failure")
	require.ErrorIs(t, got.Err, ErrNoAck)
	assert.Contains(t, got.Err.Error(), "2 of 4 events")
	assert.Equal(t, []string{"partial-0", "partial-1"}, msgIDs(streamMessages(t, js, "LIMITED")))

	limited.MaxMsgsPerSubject = 10
	_, err = js.UpdateStream(t.Context(), limited)
	require.NoError(t, err)
	got = d.Deliver(t.Context(), events) // the same batch again
	require.NoError(t, got.Err)
	assert.Equal(t, notifications.Delivery{Outcome: notifications.Accepted, Status: StatusAck}, got)
	require.NoError(t, d.Close())

	assert.Equal(t, eventIDs(events), msgIDs(streamMessages(t, js, "LIMITED")))
	assert.Equal(t, map[string]int{"partial-0": 1, "partial-1": 1, "partial-2": 2, "partial-3": 2}, published(),
		"only the unacknowledged messages are published again")
}

// TestRejectedEventIsSplitOffAndDeadLettered sends a batch with one event
// too large for the stream: the endpoint splits the rejected batch, the
// halves publish only what had no ack, and the large event goes to the dead
// letter sink.
func TestRejectedEventIsSplitOffAndDeadLettered(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	nc, js := dial(t, s)
	_, err := js.CreateStream(t.Context(), natsjs.StreamConfig{
		Name: "SMALL", Subjects: []string{"registry.events.>"}, Storage: natsjs.FileStorage, MaxMsgSize: 4096,
	})
	require.NoError(t, err)
	published := countPublishes(t, nc)

	dead := &recordingSink{}
	config := testConfig()
	config.DeadLetter = dead
	config.Logger = quietLogger() // the event given up is logged
	e, err := NewEndpoint("split", Config{URL: s.ClientURL(), Endpoint: config})
	require.NoError(t, err)
	events := testEvents("split", 4)
	events[1].Target.URL = "http://registry.test/" + strings.Repeat("x", 8192)
	require.NoError(t, e.Write(events...))
	require.NoError(t, e.Close())

	assert.Equal(t, []string{"split-0", "split-2", "split-3"}, msgIDs(streamMessages(t, js, "SMALL")))
	assert.Equal(t, []string{"split-1"}, eventIDs(dead.received()), "the refused event is given up to the dead letter sink")
	m := metrics(e)
	assert.Equal(t, 1, m.Dropped)
	assert.Positive(t, m.Statuses[fmt.Sprintf("error %d", natsjs.JSErrCodeStreamMessageExceedsMaximum)])
	counts := published()
	for _, id := range []string{"split-0", "split-2", "split-3"} {
		assert.Equal(t, 1, counts[id], "%s was acknowledged at once: never published again", id)
	}
}

func TestAckedIDsForgetsOldest(t *testing.T) {
	a := ackedIDs{ids: map[string]struct{}{}, limit: 3}
	for _, id := range []string{"a", "b", "c"} {
		a.add(id)
	}
	a.remove("b")
	a.add("d") // pushes "a" out
	for id, want := range map[string]bool{"a": false, "b": false, "c": true, "d": true} {
		assert.Equal(t, want, a.has(id), id)
	}
	for i := range 100 {
		a.add(strconv.Itoa(i))
	}
	assert.Len(t, a.ids, 3)
	assert.Len(t, a.order, 3)
}

// countPublishes subscribes to every event subject on nc and returns a
// function that reports how many times each Nats-Msg-Id was published.
func countPublishes(t *testing.T, nc *nats.Conn) func() map[string]int {
	var mu sync.Mutex
	counts := map[string]int{}
	sub, err := nc.Subscribe("registry.events.>", func(m *nats.Msg) {
		mu.Lock()
		counts[m.Header.Get("Nats-Msg-Id")]++
		mu.Unlock()
	})
	require.NoError(t, err)
	require.NoError(t, nc.Flush())
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return func() map[string]int {
		require.NoError(t, nc.Flush())
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(counts)
	}
}

// recordingSink is a Sink that keeps every event written to it.
type recordingSink struct {
	mu     sync.Mutex
	events []notifications.Event
}

func (r *recordingSink) Write(events ...notifications.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, events...)
	return nil
}

func (r *recordingSink) Close() error { return nil }

func (r *recordingSink) received() []notifications.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notifications.Event(nil), r.events...)
}
