package relay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications"
)

// countingSink is a DeadLetter sink that counts the events it is given.
type countingSink struct{ n atomic.Int64 }

func (s *countingSink) Write(events ...notifications.Event) error {
	s.n.Add(int64(len(events)))
	return nil
}

func (s *countingSink) Close() error { return nil }

// Requests at once never take an endpoint past its MaxPending: the room is
// checked and taken under one lock, so the loser is answered 503 without
// its events being given up too (they went to the dead letter, counted in
// Dropped, then were delivered when the registry sent them again). The
// Ignore patterns make the check slow, which widened the window.
func TestConcurrentWritesGiveNothingUp(t *testing.T) {
	gate := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { <-gate }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(gate) }) // runs first: the held requests end before the server closes
	var patterns []string
	for i := range 50 {
		patterns = append(patterns, fmt.Sprintf("scratch%d/*", i))
	}
	dead := &countingSink{}
	e := openEndpoint(t, "held", srv.URL, notifications.EndpointConfig{MaxPending: 1000, DeadLetter: dead,
		Ignore: notifications.IgnoreConfig{Repositories: patterns}, CloseTimeout: 1})
	log, _ := quiet()
	r, err := New(Config{Targets: []Target{{Endpoint: e}}, Logger: log})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })

	start := make(chan struct{})
	var wg sync.WaitGroup
	var refused atomic.Int64
	for g := range 200 {
		wg.Go(func() {
			<-start
			if r.Write(events(fmt.Sprint("w", g), 97)) != nil {
				refused.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	var m notifications.EndpointMetrics
	e.ReadMetrics(&m)
	require.Positive(t, refused.Load(), "some requests found the endpoint full")
	assert.Zero(t, dead.n.Load(), "nothing answered 503 went to the dead letter")
	assert.Zero(t, m.Dropped)
	assert.LessOrEqual(t, e.Pending(), 1000)
}

// Every Handler of a relay is the same one, with one dedupe: a registry's
// retry through another ingress of the relay is not sent on again.
func TestHandlersShareTheDedupe(t *testing.T) {
	s := newSink(t)
	var delivered atomic.Int64 // counted by the endpoint: the sink's own receiver dedupes
	e := openEndpoint(t, "a", s.URL, notifications.EndpointConfig{OnFinished: func(f notifications.Finished) {
		if f.Err == nil {
			delivered.Add(int64(len(f.Events)))
		}
	}})
	log, _ := quiet()
	r, err := New(Config{Targets: []Target{{Endpoint: e}}, Logger: log})
	require.NoError(t, err)
	body, err := json.Marshal(notifications.Envelope{Events: events("retried", 1)})
	require.NoError(t, err)
	for _, h := range []http.Handler{r.Handler(), r.Handler()} {
		req := httptest.NewRequest(http.MethodPost, EventsPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", notifications.EventsMediaType)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		require.Equal(t, http.StatusOK, w.Code)
	}
	require.NoError(t, r.Close())
	assert.Equal(t, int64(1), delivered.Load(), "sent on once")
}

// The receiver's dedupe gets the memory to remember DedupeSize UUIDs: its
// own default, 16 MiB, held about 167,000, whatever relay.dedupesize said.
func TestDedupeBytesHoldDedupeSize(t *testing.T) {
	const perUUID = 36 + 64 // the receiver's count for a 36-byte ID
	for _, size := range []int{DefaultDedupeSize, 1_000_000} {
		assert.GreaterOrEqual(t, dedupeBytes(size), int64(size*perUUID), "dedupesize %d", size)
	}
}
