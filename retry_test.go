package notifications

import (
	"errors"
	"math"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordingPolicy is a BackoffPolicy that waits delay and records the
// failure counts it was asked about.
type recordingPolicy struct {
	delay time.Duration

	mu    sync.Mutex
	calls []int
}

func (p *recordingPolicy) Delay(consecutiveFailures int) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, consecutiveFailures)
	return p.delay
}

func (p *recordingPolicy) asked() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.calls...)
}

// openFake opens an endpoint over d whose outcomes go to the returned log,
// with the test logger and config's other fields.
func openFake(t *testing.T, name string, d Deliverer, config EndpointConfig) (*Endpoint, *finishedLog) {
	t.Helper()
	finished := &finishedLog{}
	config.OnFinished = finished.record
	if config.Logger == nil {
		config.Logger = testLogger()
	}
	e, err := NewDelivererEndpoint(name, "fake", d, config)
	require.NoError(t, err)
	return e, finished
}

func TestRetryWaitsAsTheBackoffPolicySays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDeliverer{answer: func(n int, _ []Event) Delivery {
			if n <= 3 {
				return Delivery{Outcome: Retry, Err: errTest}
			}
			return Delivery{Outcome: Accepted}
		}}
		policy := &recordingPolicy{delay: 10 * time.Second}
		e, finished := openFake(t, "policy", d, EndpointConfig{BackoffPolicy: policy, CloseTimeout: -1})
		start := time.Now()
		require.NoError(t, e.Write(testEvents("p", 2)...))
		require.NoError(t, e.Close())

		assert.Equal(t, 30*time.Second, time.Since(start), "three waits of the policy's delay")
		assert.Equal(t, []int{1, 2, 3}, policy.asked(), "the policy is asked after each failure")
		got := finished.byID(t)
		assert.True(t, got["p-0"].Delivered())
		assert.Equal(t, 4, got["p-0"].Attempts)
		assert.Same(t, policy, e.BackoffPolicy.(*recordingPolicy), "the endpoint keeps the policy it was given")
	})
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDeliverer{answer: func(n int, _ []Event) Delivery {
			if n == 1 {
				return Delivery{Outcome: Retry, Status: "429 Too Many Requests", RetryAfter: time.Hour, Err: errTest}
			}
			return Delivery{Outcome: Accepted}
		}}
		// Below Threshold the policy alone would retry at once.
		e, _ := openFake(t, "retry-after", d, EndpointConfig{Threshold: 100, Backoff: time.Millisecond, CloseTimeout: -1})
		start := time.Now()
		require.NoError(t, e.Write(testEvents("r", 1)...))
		time.Sleep(59 * time.Minute)
		synctest.Wait()
		assert.Equal(t, 1, d.tries(), "no second attempt before the hour")
		require.NoError(t, e.Close())
		assert.Equal(t, time.Hour, time.Since(start))
		assert.Equal(t, 2, d.tries())
	})
}

// TestCloseTimeoutStopsEverything: one context, cancelled when CloseTimeout
// runs out, ends the request in flight, or the backoff wait, and the queue.
func TestCloseTimeoutStopsEverything(t *testing.T) {
	for _, tt := range []struct {
		name     string
		d        func() *fakeDeliverer // made in the bubble, with its channel
		attempts int                   // Finished.Attempts of the first event: the attempts that carried it
	}{
		{"request in flight", func() *fakeDeliverer { return &fakeDeliverer{hold: make(chan struct{})} }, 0}, // cut short: not counted
		{"backoff wait", func() *fakeDeliverer { return &fakeDeliverer{answer: failWith(Retry, errTest)} }, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := tt.d()
				dead := &fakeSink{}
				config := EndpointConfig{Threshold: 1, Backoff: time.Hour, CloseTimeout: 5 * time.Second, DeadLetter: dead}
				e, finished := openFake(t, "close-timeout", d, config)
				require.NoError(t, e.Write(testEvents("a", 2)...))
				require.NoError(t, e.Write(testEvents("b", 3)...))
				synctest.Wait()
				start := time.Now()
				err := e.Close()
				assert.Equal(t, 5*time.Second, time.Since(start), "Close returns when CloseTimeout runs out")

				var undelivered *UndeliveredError
				require.ErrorAs(t, err, &undelivered)
				assert.Equal(t, 5, undelivered.Events)
				assert.False(t, undelivered.Spooled)
				assert.Len(t, dead.events(), 5)
				got := finished.byID(t)
				require.Len(t, got, 5)
				for id, f := range got {
					assert.ErrorIs(t, f.Err, ErrCloseTimeout, id)
				}
				assert.Equal(t, tt.attempts, got["a-0"].Attempts, "the attempts that carried it")
				var m EndpointMetrics
				e.ReadMetrics(&m)
				assert.Equal(t, 5, m.Dropped)
				assert.Zero(t, m.Pending)
				assert.Equal(t, 1, d.closed, "the deliverer is closed once")
			})
		})
	}
}

// TestRejectionIsolationCost: one refused event in a batch of 1000 is
// isolated by splitting, without outage backoff, in a bounded number of
// attempts; every other event is delivered, in order.
func TestRejectionIsolationCost(t *testing.T) {
	const n, threshold = 1000, 3
	for _, poison := range []int{0, 137, 500, 999} {
		synctest.Test(t, func(t *testing.T) {
			d := &fakeDeliverer{answer: func(_ int, events []Event) Delivery {
				for _, e := range events {
					if e.ID == "poison" {
						return Delivery{Outcome: Reject, Status: "400 Bad Request", Err: errNotAccepted}
					}
				}
				return Delivery{Outcome: Accepted, Status: "200 OK"}
			}}
			policy := &recordingPolicy{delay: time.Hour}
			e, finished := openFake(t, "isolate", d, EndpointConfig{Threshold: threshold, BackoffPolicy: policy, MaxBatch: n})
			block := testEvents("ok", n)
			block[poison].ID = "poison"
			start := time.Now()
			require.NoError(t, e.Write(block...))
			require.NoError(t, e.Close())

			assert.Zero(t, time.Since(start), "refusals never wait")
			assert.Empty(t, policy.asked(), "refusals are not outage failures")
			want := append(ids(block[:poison:poison]), ids(block[poison+1:])...)
			assert.Equal(t, want, ids(d.events()), "everything but the poison, in order")
			got := finished.byID(t)
			assert.ErrorIs(t, got["poison"].Err, ErrRejected)
			var de *DeliveryError
			require.ErrorAs(t, got["poison"].Err, &de)
			assert.Equal(t, "400 Bad Request", de.Delivery.Status)
			bound := 2*int(math.Ceil(math.Log2(n))) + threshold
			assert.LessOrEqual(t, d.tries(), bound, "attempts to isolate one refused event")
			t.Logf("poison at %d: %d attempts (bound %d)", poison, d.tries(), bound)
		})
	}
}

func TestEndpointQueueFullIsAnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDeliverer{hold: make(chan struct{})}
		dead := &fakeSink{}
		e, finished := openFake(t, "full", d, EndpointConfig{MaxPending: 3, DeadLetter: dead})
		require.NoError(t, e.Write(testEvents("a", 3)...))
		err := e.Write(testEvents("b", 1)...)
		assert.ErrorIs(t, err, ErrQueueFull)
		assert.NotErrorIs(t, err, ErrSinkClosed)
		assert.Equal(t, []string{"b-0"}, ids(dead.events()), "the dead letter is kept")
		assert.ErrorIs(t, finished.byID(t)["b-0"].Err, ErrQueueFull)
		close(d.hold)
		require.NoError(t, e.Close())
	})
}

func TestLatencyObservesAcceptedEventsOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDeliverer{}
		e, _ := openFake(t, "latency-accepted", d, EndpointConfig{MaxEventAge: time.Minute})
		old := testEvents("old", 5)
		for i := range old {
			old[i].Timestamp = time.Now().Add(-time.Hour)
		}
		require.NoError(t, e.Write(old...))
		require.NoError(t, e.Write(testEvents("new", 2)...))
		require.NoError(t, e.Close())
		var h LatencyHistogram
		e.ReadDeliveryLatency(&h)
		assert.Equal(t, uint64(2), h.Count, "expired events are not observed")
		assert.Equal(t, 1, d.tries())
	})
}

func TestEndpointStatusPolicy(t *testing.T) {
	rc := newReceiver(t, func(int, http.ResponseWriter) int { return http.StatusTeapot })
	finished := &finishedLog{}
	config := fastConfig()
	config.Threshold = 1
	config.Logger = testLogger()
	config.OnFinished = finished.record
	config.StatusPolicy = func(code int) Outcome {
		if code == http.StatusTeapot {
			return Reject
		}
		return DefaultStatusPolicy(code)
	}
	e, err := OpenEndpoint("teapot", rc.URL, config)
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("t", 1)...))
	require.NoError(t, e.Close())
	f := finished.byID(t)["t-0"]
	assert.ErrorIs(t, f.Err, ErrRejected, "the policy refused the teapot at once")
	assert.Equal(t, 1, f.Attempts)
	assert.False(t, errors.Is(f.Err, ErrEventTooOld))
}

// TestRefusalsDoNotStartBackoff: refusals interleaved with a transient
// failure never add up to an outage: no backoff wait begins.
func TestRefusalsDoNotStartBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		alone := 0
		d := &fakeDeliverer{answer: func(_ int, events []Event) Delivery {
			for _, e := range events {
				if e.ID != "poison" {
					continue
				}
				if len(events) == 1 {
					if alone++; alone == 2 { // the poison alone meets one transient failure
						return Delivery{Outcome: Retry, Err: errTest}
					}
				}
				return Delivery{Outcome: Reject, Status: "400 Bad Request", Err: errNotAccepted}
			}
			return Delivery{Outcome: Accepted}
		}}
		e, finished := openFake(t, "no-backoff", d, EndpointConfig{Threshold: 3, Backoff: time.Hour, CloseTimeout: -1})
		block := testEvents("ok", 10)
		block[5].ID = "poison"
		start := time.Now()
		require.NoError(t, e.Write(block...))
		require.NoError(t, e.Close())
		assert.Zero(t, time.Since(start), "no backoff wait began")
		assert.ErrorIs(t, finished.byID(t)["poison"].Err, ErrRejected)
		assert.Len(t, d.events(), 9)
	})
}
