package notifications

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
