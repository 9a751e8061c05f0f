package notifications

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// README, Configuration: "`MaxEventAge` | 0 (no limit) | events whose
// `Timestamp` is older are given up instead of retried"; and Delivery
// guarantee: events are given up — "counted in `Dropped`, logged ..., and
// handed to `DeadLetter`" — "when they are older than `MaxEventAge`".
//
// Events that pass MaxEventAge while the receiver is down, in a batch of
// events that do not, are given up at the next attempt (ErrEventTooOld,
// with the attempts that carried them) and never sent again; the others go
// on being retried and are delivered once the receiver recovers, as is a
// later batch, but for its events that expired while it waited (those
// before any attempt).
func TestEventsExpiringDuringRetriesAreGivenUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		recovered := start.Add(45 * time.Second)
		var mu sync.Mutex
		var sent [][]string // the events of every attempt
		d := &fakeDeliverer{answer: func(_ int, events []Event) Delivery {
			mu.Lock()
			sent = append(sent, ids(events))
			mu.Unlock()
			if time.Now().Before(recovered) {
				return Delivery{Outcome: Retry, Status: "503 Service Unavailable", Err: errTest}
			}
			return Delivery{Outcome: Accepted, Status: "200 OK"}
		}}
		dead := &fakeSink{}
		policy := &recordingPolicy{delay: 10 * time.Second} // attempts at 0s, 10s, 20s, ...
		e, finished := openFake(t, "expiry", d, EndpointConfig{
			MaxEventAge: time.Minute, BackoffPolicy: policy, DeadLetter: dead, CloseTimeout: -1,
		})

		first := testEvents("a", 4)
		first[0].Timestamp = start.Add(-45 * time.Second) // too old from 15s: after attempts at 0s and 10s
		first[1].Timestamp = start                        // too old from 60s: after the recovery
		first[2].Timestamp = start.Add(-55 * time.Second) // too old from 5s: after the attempt at 0s
		// first[3] has no timestamp: it never expires
		require.NoError(t, e.Write(first...))
		synctest.Wait() // the first batch is out, its first attempt failed
		second := testEvents("b", 2)
		second[0].Timestamp = start                        // delivered at 50s
		second[1].Timestamp = start.Add(-20 * time.Second) // too old from 40s, waiting behind the first batch
		require.NoError(t, e.Write(second...))
		require.NoError(t, e.Close())

		assert.Equal(t, 50*time.Second, time.Since(start), "delivered at the first attempt after the recovery")
		mu.Lock()
		assert.Equal(t, [][]string{
			{"a-0", "a-1", "a-2", "a-3"},                                   // 0s
			{"a-0", "a-1", "a-3"},                                          // 10s: a-2 given up
			{"a-1", "a-3"}, {"a-1", "a-3"}, {"a-1", "a-3"}, {"a-1", "a-3"}, // 20s to 50s: a-0 given up
			{"b-0"}, // 50s: b-1 given up
		}, sent, "expired events are never sent again")
		mu.Unlock()
		assert.Equal(t, []string{"a-1", "a-3", "b-0"}, ids(d.events()), "the newer events are delivered, in order")

		got := finished.byID(t)
		require.Len(t, got, 6, "every event finished once")
		for id, attempts := range map[string]int{"a-2": 1, "a-0": 2, "b-1": 0} {
			assert.ErrorIs(t, got[id].Err, ErrEventTooOld, id)
			assert.False(t, got[id].Delivered(), id)
			assert.Equal(t, attempts, got[id].Attempts, "%s: the attempts that carried it", id)
		}
		for id, attempts := range map[string]int{"a-1": 6, "a-3": 6, "b-0": 1} {
			assert.True(t, got[id].Delivered(), id)
			assert.Equal(t, attempts, got[id].Attempts, id)
		}
		assert.Equal(t, []string{"a-2", "a-0", "b-1"}, ids(dead.events()), "the dead letter, as they were given up")

		var m EndpointMetrics
		e.ReadMetrics(&m)
		assert.Equal(t, 3, m.Dropped)
		assert.Zero(t, m.Pending)
	})
}

// README, Configuration: "`MaxEventAge` | 0 (no limit) | events whose
// `Timestamp` is older are given up instead of retried".
//
// The same through HTTP, where a batch goes out encoded: an event that
// expires while a receiver answers 503 is given up and the rest of its
// batch, encoded again without it, is delivered once the receiver recovers.
// The receiver recovers as soon as OnFinished reports the old event, so
// the attempts count exactly.
func TestEventsExpiringDuringHTTPRetriesAreGivenUp(t *testing.T) {
	const maxAge, margin = 2 * time.Second, 500 * time.Millisecond
	var oldGone atomic.Bool
	now := time.Now()
	rc := newReceiver(t, func(n int, _ http.ResponseWriter) int {
		if n == 1 {
			// The first attempt carried e-1: it answers once e-1 is
			// too old, however late it came.
			time.Sleep(time.Until(now.Add(margin)))
		}
		if !oldGone.Load() {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	finished := &finishedLog{}
	dead := &fakeSink{}
	config := fastConfig()
	config.Logger = testLogger()
	config.MaxEventAge = maxAge
	config.BackoffPolicy = &recordingPolicy{delay: 5 * time.Millisecond}
	config.DeadLetter = dead
	config.OnFinished = func(f Finished) {
		finished.record(f)
		for _, ev := range f.Events {
			if ev.ID == "e-1" {
				oldGone.Store(true)
			}
		}
	}
	e, err := OpenEndpoint("expiry-http", rc.URL, config)
	require.NoError(t, err)

	events := testEvents("e", 3)
	events[0].Timestamp = now
	events[1].Timestamp = now.Add(-maxAge + margin) // too old after margin, while the receiver answers 503
	events[2].Timestamp = now
	require.NoError(t, e.Write(events...))
	require.NoError(t, e.Close())

	got := finished.byID(t)
	require.Len(t, got, 3)
	old := got["e-1"]
	assert.ErrorIs(t, old.Err, ErrEventTooOld)
	assert.Positive(t, old.Attempts, "given up after attempts, not before")
	rc.mu.Lock()
	requests := rc.requests
	rc.mu.Unlock()
	assert.Equal(t, requests-1, old.Attempts, "every 503 carried it, the accepted request did not")
	for _, id := range []string{"e-0", "e-2"} {
		assert.True(t, got[id].Delivered(), id)
		assert.Equal(t, requests, got[id].Attempts, id)
	}
	assert.Equal(t, []string{"e-0", "e-2"}, ids(rc.received()), "the rest of its batch, without it")
	assert.Equal(t, []string{"e-1"}, ids(dead.events()))
	var m EndpointMetrics
	e.ReadMetrics(&m)
	assert.Equal(t, 1, m.Dropped)
	assert.Zero(t, m.Pending)
}
