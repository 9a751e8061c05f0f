package notifications

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openHeld opens an endpoint of config, with a spool when spooled, to a
// receiver that holds every request until release is closed.
func openHeld(t *testing.T, name string, config EndpointConfig, spooled bool) (e *Endpoint, rc *receiver, release chan struct{}) {
	t.Helper()
	release = make(chan struct{})
	rc = newReceiver(t, func(int, http.ResponseWriter) int {
		<-release
		return http.StatusOK
	})
	config.Timeout = time.Minute // the first request is held meanwhile
	config.Logger = testLogger()
	if spooled {
		config.SpoolDir = t.TempDir()
	}
	e, err := OpenEndpoint(name, rc.URL, config)
	require.NoError(t, err)
	return e, rc, release
}

func TestEndpointOverflowGoesToDeadLetter(t *testing.T) {
	for _, spooled := range []bool{false, true} {
		t.Run(fmt.Sprint("spool=", spooled), func(t *testing.T) {
			dead := &fakeSink{}
			config := fastConfig()
			config.MaxPending = 5
			config.DeadLetter = dead
			e, rc, release := openHeld(t, "overflow", config, spooled)
			require.NoError(t, e.Write(testEvents("a", 3)...))
			require.NoError(t, e.Write(testEvents("b", 2)...))
			err := e.Write(testEvents("c", 1)...)
			require.ErrorIs(t, err, ErrQueueFull, "Write says the block was not queued")
			assert.Contains(t, err.Error(), `"overflow"`, "the error names the endpoint")
			assert.ErrorIs(t, e.Write(testEvents("d", 4)...), ErrQueueFull)
			close(release)
			require.NoError(t, e.Close())

			assert.Equal(t, []string{"c-0", "d-0", "d-1", "d-2", "d-3"}, ids(dead.events()))
			assert.Equal(t, []string{"a-0", "a-1", "a-2", "b-0", "b-1"}, ids(rc.received()))
			var m EndpointMetrics
			e.ReadMetrics(&m)
			assert.Equal(t, 5, m.Dropped)
			assert.Equal(t, 5, m.Events, "dropped events were never pending")
		})
	}
}

// TestMaxPendingHoldsUnderConcurrentWrites: writers racing for the last
// places never take an endpoint past MaxPending, with or without a spool:
// exactly MaxPending events are taken while the receiver holds the first.
func TestMaxPendingHoldsUnderConcurrentWrites(t *testing.T) {
	for _, spooled := range []bool{false, true} {
		t.Run(fmt.Sprint("spool=", spooled), func(t *testing.T) {
			const maxPending, writers, writes = 100, 4, 100
			config := fastConfig()
			config.MaxPending = maxPending
			e, rc, release := openHeld(t, "bounded", config, spooled)
			var taken, full atomic.Int64
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for _, ev := range testEvents(fmt.Sprint("w", w), writes) {
						err := e.Write(ev)
						if errors.Is(err, ErrQueueFull) {
							full.Add(1)
						} else if assert.NoError(t, err) {
							taken.Add(1)
						}
					}
				})
			}
			wg.Wait()
			var m EndpointMetrics
			e.ReadMetrics(&m)
			assert.Equal(t, int64(maxPending), taken.Load(), "as many events taken as MaxPending")
			assert.Equal(t, int64(writers*writes-maxPending), full.Load())
			assert.Equal(t, maxPending, m.Pending)
			close(release)
			require.NoError(t, e.Close())
			assert.Equal(t, maxPending, len(rc.received()), "the events taken were delivered")
		})
	}
}

func TestEndpointIsolatesRejectedEvent(t *testing.T) {
	for _, code := range []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			var mu sync.Mutex
			var posts []int
			var accepted []Event
			// The receiver refuses every envelope holding "poison".
			srv := newUnstartedReceiver(t, nil)
			srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var env Envelope
				body, _ := io.ReadAll(r.Body)
				require.NoError(t, json.Unmarshal(body, &env))
				mu.Lock()
				posts = append(posts, len(env.Events))
				mu.Unlock()
				for _, ev := range env.Events {
					if ev.ID == "poison" {
						w.WriteHeader(code)
						return
					}
				}
				mu.Lock()
				accepted = append(accepted, env.Events...)
				mu.Unlock()
			})
			srv.Start()
			dead := &fakeSink{}
			config := fastConfig()
			config.DeadLetter = dead
			config.Logger = testLogger()
			e, err := OpenEndpoint("reject", srv.URL, config)
			require.NoError(t, err)
			block := testEvents("ok", 8)
			block[5].ID = "poison"
			require.NoError(t, e.Write(block...))
			require.NoError(t, e.Write(testEvents("after", 2)...))
			require.NoError(t, e.Close())

			want := append(ids(block[:5]), ids(block[6:])...)
			mu.Lock()
			defer mu.Unlock()
			assert.Equal(t, append(want, "after-0", "after-1"), ids(accepted), "everything but the poison, in order")
			assert.Equal(t, []string{"poison"}, ids(dead.events()))
			var m EndpointMetrics
			e.ReadMetrics(&m)
			assert.Equal(t, 1, m.Dropped)
			singles := 0
			for _, n := range posts {
				if n == 1 {
					singles++
				}
			}
			assert.LessOrEqual(t, singles, config.Threshold+2, "the poison alone was tried Threshold times")
			assert.Equal(t, maxEnvelopeBytes, e.Sink.(*eventQueue).fit.bodyLimit(),
				"a refused event, even with 413, teaches no body limit")
		})
	}
}

func TestEventQueueGivesUpOldEvents(t *testing.T) {
	next := &fakeDeliverer{}
	q, finished, dead := newTestQueue(next, EndpointConfig{MaxEventAge: time.Minute})
	now := time.Now()
	events := testEvents("e", 4)
	events[0].Timestamp = now.Add(-time.Hour)
	events[1].Timestamp = now
	events[2].Timestamp = now.Add(-2 * time.Minute)
	// events[3] has no timestamp: it never expires
	require.NoError(t, q.Write(events...))
	require.NoError(t, q.Close())
	assert.Equal(t, []string{"e-1", "e-3"}, ids(next.events()))
	assert.Equal(t, []string{"e-0", "e-2"}, ids(dead.events()))
	outcomes := finished.byID(t)
	assert.ErrorIs(t, outcomes["e-0"].Err, ErrEventTooOld)
	assert.Zero(t, outcomes["e-0"].Attempts, "given up before any attempt")
	assert.True(t, outcomes["e-1"].Delivered())
}

func TestEndpointCloseTimeout(t *testing.T) {
	hung := make(chan struct{})
	rc := newReceiver(t, func(int, http.ResponseWriter) int {
		<-hung
		return http.StatusOK
	})
	t.Cleanup(func() { close(hung) }) // runs before the receiver's Close
	dead := &fakeSink{}
	config := fastConfig()
	config.Timeout = time.Hour // only Close can end the request
	config.CloseTimeout = 30 * time.Millisecond
	config.DeadLetter = dead
	config.Logger = testLogger()
	e, err := OpenEndpoint("close-timeout", rc.URL, config)
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("a", 2)...))
	require.NoError(t, e.Write(testEvents("b", 3)...))

	done := make(chan error, 1)
	go func() { done <- e.Close() }()
	var err2 error
	select {
	case err2 = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung with a hung receiver")
	}
	var undelivered *UndeliveredError
	require.ErrorAs(t, err2, &undelivered)
	assert.Equal(t, 5, undelivered.Events)
	assert.False(t, undelivered.Spooled)
	assert.Contains(t, err2.Error(), "5 events")
	assert.Len(t, dead.events(), 5, "dropped events go to the dead letter sink")
	var m EndpointMetrics
	e.ReadMetrics(&m)
	assert.Equal(t, 5, m.Dropped)
	assert.Zero(t, m.Pending)
}

func TestEndpointConcurrentClose(t *testing.T) {
	rc := newReceiver(t, nil)
	e := NewEndpoint("concurrent-close", rc.URL, fastConfig())
	require.NoError(t, e.Write(testEvents("a", 3)...))
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- e.Close() }()
	}
	var nils, closed int
	for range 4 {
		err := <-errs
		switch {
		case err == nil:
			nils++
		case errors.Is(err, ErrSinkClosed):
			closed++
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	assert.Equal(t, 1, nils, "exactly one Close does the work")
	assert.Equal(t, 3, closed)
	assert.Len(t, rc.received(), 3)
}

func TestOpenEndpointValidates(t *testing.T) {
	tests := []struct {
		name   string
		url    string
		config EndpointConfig
	}{
		{"relative URL", "/hooks", EndpointConfig{}},
		{"no host", "http:///hooks", EndpointConfig{}},
		{"ftp", "ftp://example.com/", EndpointConfig{}},
		{"unparsable", "http://[::1", EndpointConfig{}},
		{"negative MaxPending", "http://127.0.0.1:1/", EndpointConfig{MaxPending: -1}},
		{"negative Threshold", "http://127.0.0.1:1/", EndpointConfig{Threshold: -1}},
		{"negative MaxBackoff", "http://127.0.0.1:1/", EndpointConfig{MaxBackoff: -1}},
		{"negative MaxEventAge", "http://127.0.0.1:1/", EndpointConfig{MaxEventAge: -1}},
		{"negative MaxBatch", "http://127.0.0.1:1/", EndpointConfig{MaxBatch: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := OpenEndpoint("v", tt.url, tt.config)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.Nil(t, e)
		})
	}
}

// TestEndpointChaos delivers 5,000 events through a receiver that answers at
// random: every event arrives, in order, with duplicates only where an
// answer was lost after the receiver took the envelope.
func TestEndpointChaos(t *testing.T) {
	const total = 5000
	rng := rand.New(rand.NewPCG(1, 2))
	var mu sync.Mutex
	var received []Event
	lostAnswers, busy := 0, 0
	srv := newUnstartedReceiver(t, nil)
	const timeout = 500 * time.Millisecond
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		mu.Lock()
		roll := rng.IntN(100)
		mu.Unlock()
		switch {
		case roll < 10:
			w.WriteHeader(http.StatusInternalServerError)
		case roll < 15:
			// The first asks for a second's pause; the rest for none.
			mu.Lock()
			busy++
			wait := busy <= 1
			mu.Unlock()
			if wait {
				w.Header().Set("Retry-After", "1")
			} else {
				w.Header().Set("Retry-After", "0")
			}
			w.WriteHeader(http.StatusTooManyRequests)
		case roll < 20: // drop the connection before taking the envelope
			hangUpConn(w)
		case roll < 21: // slow answer, past the endpoint's timeout
			time.Sleep(timeout + 100*time.Millisecond)
			w.WriteHeader(http.StatusOK)
		default:
			var env Envelope
			if err := json.Unmarshal(body, &env); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			mu.Lock()
			received = append(received, env.Events...)
			// Took it, but the answer is lost: dropped on purpose, or so late
			// that the sender may have given up on it.
			lost := roll < 26 || time.Since(start) > timeout/2
			if lost {
				lostAnswers += len(env.Events)
			}
			mu.Unlock()
			if lost {
				hangUpConn(w)
				return
			}
			w.WriteHeader(http.StatusOK)
		}
	})
	srv.Start()

	config := EndpointConfig{Timeout: timeout, Threshold: 3, Backoff: time.Millisecond, MaxBatch: 50, CloseTimeout: -1, Logger: testLogger()}
	e, err := OpenEndpoint("chaos", srv.URL, config)
	require.NoError(t, err)
	var want []string
	for i := 0; len(want) < total; i++ {
		block := testEvents(fmt.Sprint("chaos-", i), 1+i%4)
		want = append(want, ids(block)...)
		require.NoError(t, e.Write(block...))
	}
	require.NoError(t, e.Close())

	mu.Lock()
	defer mu.Unlock()
	got := ids(received)
	// Remove the duplicates: an event may be received again only after an
	// attempt whose answer was lost (or timed out) — never out of order.
	seen := map[string]bool{}
	var firsts []string
	dups := 0
	for _, id := range got {
		if seen[id] {
			dups++
			continue
		}
		seen[id] = true
		firsts = append(firsts, id)
	}
	assert.Equal(t, want, firsts, "every event, in order")
	assert.LessOrEqual(t, dups, lostAnswers, "duplicates only where an answer was lost")
	var m EndpointMetrics
	e.ReadMetrics(&m)
	assert.Equal(t, total, m.Successes)
	assert.Zero(t, m.Dropped)
	t.Logf("%d events in %d receipts, %d duplicates, %d events in lost answers, failures=%d errors=%d",
		total, len(got), dups, lostAnswers, m.Failures, m.Errors)
}

// hangUpConn drops the connection without an answer.
func hangUpConn(w http.ResponseWriter) {
	if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
		_ = conn.Close()
	}
}

// TestEndpointCloseTimeoutGivesUpEachEventOnce: an event the retrying sink
// already gave up is not given up again when Close cuts its batch short.
func TestEndpointCloseTimeoutGivesUpEachEventOnce(t *testing.T) {
	hung := make(chan struct{})
	srv := newUnstartedReceiver(t, nil)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env Envelope
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &env)
		for _, e := range env.Events {
			if e.ID == "poison" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
		}
		<-hung // everything else waits for Close
	})
	srv.Start()
	t.Cleanup(func() { close(hung) })

	dead := &fakeSink{}
	config := fastConfig()
	config.Timeout = time.Hour
	config.CloseTimeout = 100 * time.Millisecond
	config.DeadLetter = dead
	config.Logger = testLogger()
	e, err := OpenEndpoint("once", srv.URL, config)
	require.NoError(t, err)
	block := testEvents("ok", 2)
	block[0].ID = "poison"
	require.NoError(t, e.Write(block...))
	eventually(t, func() bool { return len(dead.events()) == 1 }, "the poison is given up")

	err = e.Close()
	var undelivered *UndeliveredError
	require.ErrorAs(t, err, &undelivered)
	assert.Equal(t, 1, undelivered.Events, "only the event still unfinished")
	assert.Equal(t, []string{"poison", "ok-1"}, ids(dead.events()), "each event given up once")
	var m EndpointMetrics
	e.ReadMetrics(&m)
	assert.Equal(t, 2, m.Dropped)
	assert.Zero(t, m.Pending)
}
