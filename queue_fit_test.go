package notifications

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEnvelopeFitLearnsFromBodies(t *testing.T) {
	tests := []struct {
		name      string
		start     int // f.events before
		n, size   int // the body measured
		wantLimit int // of a queue of maxBatch 1000
	}{
		{"small events leave maxBatch", 0, 1000, 700 << 10, 1000},
		{"a body too large sets a limit", 0, 1000, 1200 << 10, 1000 * 1024 / 1200 * 15 / 16},
		{"a body just under the limit keeps a margin", 0, 1000, 1000 << 10, 1024 * 15 / 16},
		{"a few huge events allow one", 0, 2, 3 << 20, 1},
		{"small events again lift the limit", 100, 100, 70 << 10, 1000},
		{"a limit is learnt again from each body", 870, 870, 950 << 10, 870 * 1024 / 950 * 15 / 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := envelopeFit{events: tt.start}
			f.measured(tt.n, tt.size, 1000)
			assert.Equal(t, tt.wantLimit, f.limit(1000))
			assert.LessOrEqual(t, f.limit(10), 10, "never more than maxBatch")
		})
	}
}

func TestEnvelopeFitCutsWholeBlocks(t *testing.T) {
	blocks := []queuedBlock{
		{events: testEvents("a", 3)}, {events: testEvents("b", 3)}, {events: testEvents("c", 3)},
	}
	tests := []struct {
		limit, want int // blocks kept
	}{
		{0, 3}, {1, 1}, {3, 1}, {5, 1}, {6, 2}, {8, 2}, {9, 3}, {100, 3},
	}
	for _, tt := range tests {
		f := envelopeFit{events: tt.limit}
		assert.Len(t, f.cut(blocks), tt.want, "limit %d", tt.limit)
	}
}

// TestLargeEventsEncodedOnce: a backlog of events of over a KiB each,
// which 1000 to an envelope would take past 1 MiB, is sent in envelopes
// under 1 MiB, in order, and each event is encoded about once: only the
// first batch that came out too large is encoded again.
func TestLargeEventsEncodedOnce(t *testing.T) {
	release := make(chan struct{})
	var (
		mu      sync.Mutex
		got     []Event
		largest int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var env Envelope
		if err == nil {
			err = json.Unmarshal(body, &env)
		}
		if !assert.NoError(t, err) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		first := len(got) == 0
		got = append(got, env.Events...)
		largest = max(largest, len(body))
		mu.Unlock()
		if first {
			<-release
		}
	}))
	defer srv.Close()
	config := fastConfig().withDefaults()
	config.Logger = testLogger()
	h := newHTTPDeliverer(srv.URL, config)
	var encoded atomic.Int64
	appendBody := h.encoding.appendBody
	h.encoding.appendBody = func(dst []byte, events []Event) ([]byte, error) {
		encoded.Add(int64(len(events)))
		return appendBody(dst, events)
	}
	q, _, _ := newTestQueue(h, config)

	require.NoError(t, q.Write(testEvents("first", 1)...))
	eventually(t, func() bool { return encoded.Load() == 1 }, "the first event is out")
	const backlog = 5000
	events := testEvents("large", backlog)
	for i := range events {
		events[i].Target.URL = strings.Repeat("u", 1100)
		require.NoError(t, q.Write(events[i]))
	}
	close(release)
	require.NoError(t, q.Close())

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, backlog+1)
	assert.Equal(t, append([]string{"first-0"}, ids(events)...), ids(got), "every event once, in order")
	assert.LessOrEqual(t, largest, maxEnvelopeBytes, "every body within 1 MiB")
	assert.Greater(t, largest, maxEnvelopeBytes*3/4, "bodies near 1 MiB")
	assert.LessOrEqual(t, encoded.Load(), int64(1+backlog+DefaultMaxBatch),
		"events encoded: only the first batch found too large is encoded again")
}
