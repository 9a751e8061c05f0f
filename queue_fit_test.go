package notifications

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
		{"a body that fit keeps its count", 0, 1000, 1000 << 10, 1000},
		{"a body with room suggests more, less a margin", 0, 500, 600 << 10, 500 * 1024 / 600 * 15 / 16},
		{"a few huge events allow one", 0, 2, 3 << 20, 1},
		{"small events again lift the limit", 100, 100, 70 << 10, 1000},
		{"a limit is learnt again from each body", 870, 870, 950 << 10, 870 * 1024 / 950 * 15 / 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := envelopeFit{events: tt.start}
			f.measured(tt.n, tt.size, maxEnvelopeBytes, 1000)
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

// gatedReceiver records the body of every request and answers 200; the
// request that carries a gate's event waits until the gate is opened. With
// a limit, it answers 413 to a body over it, as a web framework's body
// limit does, and records nothing of it; so too to a body that holds the
// event poison, when set.
type gatedReceiver struct {
	*httptest.Server
	limit  int
	poison string

	mu       sync.Mutex
	bodies   [][]byte
	events   int
	tooLarge int // bodies answered 413
	gates    map[string]chan struct{}
}

func newGatedReceiver(t *testing.T, limit int) *gatedReceiver {
	rc := &gatedReceiver{limit: limit, gates: map[string]chan struct{}{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var env Envelope
		if err == nil {
			err = json.Unmarshal(body, &env)
		}
		if err != nil || len(env.Events) == 0 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		if rc.limit > 0 && len(body) > rc.limit || slices.ContainsFunc(env.Events, func(e Event) bool { return e.ID == rc.poison }) {
			rc.tooLarge++
			rc.mu.Unlock()
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		rc.bodies = append(rc.bodies, body)
		rc.events += len(env.Events)
		gate := rc.gates[env.Events[0].ID]
		rc.mu.Unlock()
		if gate != nil {
			select { // a test that failed before opening it ends the request
			case <-gate:
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

// gate returns the gate of the event id.
func (rc *gatedReceiver) gate(id string) chan struct{} {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.gates[id] = make(chan struct{})
	return rc.gates[id]
}

func (rc *gatedReceiver) received() (bodies [][]byte, events int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([][]byte(nil), rc.bodies...), rc.events
}

// sendBacklogs has an HTTP endpoint send rc each backlog of blocks:
// written while a gate event rc holds is out, then let go; the next
// backlog once all of it arrived. It returns the endpoint's queue, the
// envelopes rc took, their sizes, and the events the endpoint encoded.
func sendBacklogs(t *testing.T, rc *gatedReceiver, backlogs ...[][]Event) (q *eventQueue, envelopes []Envelope, sizes []int, encoded int64) {
	t.Helper()
	config := fastConfig().withDefaults()
	config.Timeout = time.Minute // a gate event is held meanwhile
	config.Logger = testLogger()
	h := newHTTPDeliverer(rc.URL, config)
	var n atomic.Int64
	appendBody := h.encoding.appendBody
	h.encoding.appendBody = func(dst []byte, events []Event) ([]byte, error) {
		n.Add(int64(len(events)))
		return appendBody(dst, events)
	}
	q, _, _ = newTestQueue(h, config)
	sent := 0
	for k, blocks := range backlogs {
		gateEvent := testEvents(fmt.Sprint("gate", k), 1)
		gate := rc.gate(gateEvent[0].ID)
		require.NoError(t, q.Write(gateEvent...))
		sent++
		eventually(t, func() bool { _, n := rc.received(); return n == sent }, "the gate event is out")
		for _, block := range blocks {
			require.NoError(t, q.Write(block...))
			sent += len(block)
		}
		close(gate)
		eventually(t, func() bool { return q.metrics.pending.Load() == 0 }, "the backlog is done with")
	}
	require.NoError(t, q.Close())
	bodies, _ := rc.received()
	for _, body := range bodies {
		var env Envelope
		require.NoError(t, json.Unmarshal(body, &env))
		envelopes, sizes = append(envelopes, env), append(sizes, len(body))
	}
	return q, envelopes, sizes, n.Load()
}

// largeEvents returns n events of about 1.2 KB of JSON each: 1000 of them
// take more than 1 MiB.
func largeEvents(prefix string, n int) []Event {
	events := testEvents(prefix, n)
	for i := range events {
		events[i].Target.URL = strings.Repeat("u", 1100)
	}
	return events
}

// TestLargeEventsEncodedOnce: a backlog of events of over a KiB each is
// sent in envelopes under 1 MiB, whole and in order, and each event is
// encoded about once: only the first batch that came out too large is
// encoded again.
func TestLargeEventsEncodedOnce(t *testing.T) {
	const backlog = 5000
	events := largeEvents("large", backlog)
	var blocks [][]Event
	for i := range events {
		blocks = append(blocks, events[i:i+1])
	}
	_, envelopes, sizes, encoded := sendBacklogs(t, newGatedReceiver(t, 0), blocks)

	var got []Event
	for _, env := range envelopes {
		got = append(got, env.Events...)
	}
	assert.Equal(t, append([]string{"gate0-0"}, ids(events)...), ids(got), "every event once, in order")
	assert.LessOrEqual(t, slices.Max(sizes), maxEnvelopeBytes, "every body within 1 MiB")
	assert.Greater(t, slices.Max(sizes), maxEnvelopeBytes*3/4, "bodies near 1 MiB")
	assert.LessOrEqual(t, encoded, int64(1+backlog+DefaultMaxBatch),
		"events encoded: only the first batch found too large is encoded again")
}

// TestEnvelopeFitLiftedWhenEventsShrink: the limit large events set is
// learnt again from the bodies that follow, even from a batch of one
// block: small events after them go MaxBatch to an envelope.
func TestEnvelopeFitLiftedWhenEventsShrink(t *testing.T) {
	huge := testEvents("huge", 2) // alone in a batch, they set a limit of one event
	for i := range huge {
		huge[i].Target.URL = strings.Repeat("h", 600<<10)
	}
	tests := []struct {
		name  string
		large [][]Event
	}{
		{"after large events", [][]Event{largeEvents("large", 1500)}},
		{"after huge events", [][]Event{huge[:1], huge[1:]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			small := testEvents("small", 3*DefaultMaxBatch)
			var blocks [][]Event
			for i := range small {
				blocks = append(blocks, small[i:i+1])
			}
			_, envelopes, _, _ := sendBacklogs(t, newGatedReceiver(t, 0), tt.large, blocks)
			most := 0
			for _, env := range envelopes {
				if strings.HasPrefix(env.Events[len(env.Events)-1].ID, "small-") {
					most = max(most, len(env.Events))
				}
			}
			assert.Equal(t, DefaultMaxBatch, most, "small events go MaxBatch to an envelope again")
		})
	}
}

func TestLearnBodyLimitOnlyLowers(t *testing.T) {
	var f envelopeFit
	assert.Equal(t, maxEnvelopeBytes, f.bodyLimit(), "1 MiB until a receiver shows less")
	for _, tt := range []struct{ learn, want int }{
		{0, maxEnvelopeBytes}, {-5, maxEnvelopeBytes}, {300 << 10, 300 << 10}, {500 << 10, 300 << 10}, {100 << 10, 100 << 10},
	} {
		f.learnBodyLimit(tt.learn)
		assert.Equal(t, tt.want, f.bodyLimit(), "after learning %d", tt.learn)
	}
}

// TestEndpointLearnsReceiverBodyLimit: a receiver that answers 413 to any
// body over 100 KiB (as a web framework's default limit does) gets a
// backlog in bodies it takes, every event once and in order, after a few
// 413s while the endpoint learns its limit, instead of having every batch
// split down to single events.
func TestEndpointLearnsReceiverBodyLimit(t *testing.T) {
	const limit, backlog = 100 << 10, 5000
	rc := newGatedReceiver(t, limit)
	events := testEvents("e", backlog)
	blocks := make([][]Event, len(events))
	for i := range events {
		events[i].Target.URL = strings.Repeat("u", 500) // ~650 B of JSON an event
		blocks[i] = events[i : i+1]
	}
	q, envelopes, sizes, _ := sendBacklogs(t, rc, blocks)

	var got []Event
	for _, env := range envelopes {
		got = append(got, env.Events...)
	}
	assert.Equal(t, append([]string{"gate0-0"}, ids(events)...), ids(got), "every event once, in order")
	learnt := q.fit.bodyLimit()
	assert.LessOrEqual(t, learnt, limit, "the limit learnt is the receiver's at most")
	assert.Greater(t, learnt, limit/2, "and more than half of it")
	assert.LessOrEqual(t, slices.Max(sizes), limit)
	ideal := backlog * 650 / limit
	rc.mu.Lock()
	defer rc.mu.Unlock()
	assert.LessOrEqual(t, len(envelopes)+rc.tooLarge, 2*ideal+20, "about as many POSTs as bodies of the limit's size (ideal %d)", ideal)
	assert.LessOrEqual(t, rc.tooLarge, 12, "413 answers only while the limit is learnt")
}

// TestEndpointBodyLimitNotLoweredByARefusedEvent: once the receiver's
// limit is learnt, a 413 to a body within it refuses that body's content:
// the event it holds is isolated and given up, and the limit stays.
func TestEndpointBodyLimitNotLoweredByARefusedEvent(t *testing.T) {
	const limit = 100 << 10
	rc := newGatedReceiver(t, limit)
	rc.poison = "b-500"
	var backlogs [2][][]Event
	for k, prefix := range []string{"a", "b"} {
		events := testEvents(prefix, 1000)
		for i := range events {
			events[i].Target.URL = strings.Repeat("u", 500)
			backlogs[k] = append(backlogs[k], events[i:i+1])
		}
	}
	q, envelopes, _, _ := sendBacklogs(t, rc, backlogs[0], backlogs[1])

	var got []string
	for _, env := range envelopes {
		got = append(got, ids(env.Events)...)
	}
	assert.NotContains(t, got, "b-500", "the refused event is given up")
	assert.Len(t, got, 2+1000+999, "every other event, and the two gate events, delivered")
	learnt := q.fit.bodyLimit()
	assert.LessOrEqual(t, learnt, limit, "the first backlog taught the limit")
	assert.Greater(t, learnt, limit/2, "and the refused event did not lower it")
}

// TestEndpointPacesASlowReceiver: a receiver that handles events one by
// one, a millisecond each, cannot answer a batch of 1000 within a 200 ms
// timeout. The endpoint used to send that batch again and again, each
// time handled in part, never answered: now batches halve until answers
// come in time, and the backlog gets through.
func TestEndpointPacesASlowReceiver(t *testing.T) {
	var (
		mu   sync.Mutex
		seen = map[string]int{}
	)
	gate := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env Envelope
		if body, err := io.ReadAll(r.Body); err != nil || json.Unmarshal(body, &env) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		for _, e := range env.Events {
			if e.ID == "first-0" {
				select {
				case <-gate:
				case <-r.Context().Done():
				}
			}
			select {
			case <-time.After(time.Millisecond): // handles it
			case <-r.Context().Done(): // the sender gave up
				return
			}
			mu.Lock()
			seen[e.ID]++
			mu.Unlock()
		}
	}))
	defer srv.Close()
	config := fastConfig()
	config.Timeout = 200 * time.Millisecond
	config.Logger = testLogger()
	e, err := OpenEndpoint("slow", srv.URL, config)
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("first", 1)...))
	const backlog = 1000
	events := testEvents("e", backlog)
	for i := range events {
		require.NoError(t, e.Write(events[i]))
	}
	close(gate)
	eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == backlog+1 }, "the backlog got through")
	require.NoError(t, e.Close())
	paced := e.Sink.(*eventQueue).fit.paced.Load()
	assert.Positive(t, paced, "batches are paced")
	assert.Less(t, paced, int64(200), "to what the receiver answers within the timeout")
}

func TestEnvelopeFitPacesUnansweredBatches(t *testing.T) {
	const timeout, maxBatch = time.Second, 1000
	tests := []struct {
		name  string
		paced int64
		learn func(f *envelopeFit)
		want  int
	}{
		{"no answer to 1000: 500", 0, func(f *envelopeFit) { f.unanswered(1000) }, 500},
		{"never raised by a larger part", 300, func(f *envelopeFit) { f.unanswered(1000) }, 300},
		{"a part of one: still one", 0, func(f *envelopeFit) { f.unanswered(1) }, 1},
		{"a full part answered fast doubles it", 200, func(f *envelopeFit) { f.answeredIn(200, 10*time.Millisecond, timeout, maxBatch) }, 400},
		{"at maxBatch it is lifted", 500, func(f *envelopeFit) { f.answeredIn(300, 10*time.Millisecond, timeout, maxBatch) }, maxBatch},
		{"a small part says nothing", 500, func(f *envelopeFit) { f.answeredIn(100, 10*time.Millisecond, timeout, maxBatch) }, 500},
		{"a slow answer says nothing", 200, func(f *envelopeFit) { f.answeredIn(200, 300*time.Millisecond, timeout, maxBatch) }, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f envelopeFit
			f.paced.Store(tt.paced)
			tt.learn(&f)
			assert.Equal(t, tt.want, f.limit(maxBatch))
		})
	}
}
