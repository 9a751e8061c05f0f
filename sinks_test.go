package notifications

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestQueue(next Sink, maxBatch int) (*eventQueue, *endpointMetrics) {
	m := newEndpointMetrics()
	config := EndpointConfig{MaxBatch: maxBatch, CloseTimeout: -1, Logger: logrus.StandardLogger()}
	return newEventQueue("test", next, &memoryStore{}, config, m, noGiveUp, nil), m
}

// noGiveUp is a giveUpFunc for sinks that must not give anything up.
func noGiveUp(events []Event, reason error) {
	panic(fmt.Sprintf("%d events given up: %v", len(events), reason))
}

// givenUp records what a sink gave up.
type givenUp struct {
	mu      sync.Mutex
	events  []Event
	reasons []error
}

func (g *givenUp) giveUp(events []Event, reason error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.events = append(g.events, events...)
	g.reasons = append(g.reasons, reason)
}

func (g *givenUp) ids() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return ids(g.events)
}

func TestEventQueueDeliversInOrder(t *testing.T) {
	next := &fakeSink{}
	q, _ := newTestQueue(next, 1)
	var want []string
	for i := range 50 {
		block := testEvents(string(rune('a'+i%26))+"-"+time.Now().String(), 1+i%3)
		want = append(want, ids(block)...)
		require.NoError(t, q.Write(block...))
	}
	checkClose(t, q)
	assert.Equal(t, want, ids(next.events()), "Close flushes everything, in order")
	assert.Equal(t, 1, next.closed, "the next sink is closed once")
}

func TestEventQueueBatchesWholeBlocks(t *testing.T) {
	release := make(chan struct{})
	next := &fakeSink{block: release}
	q, m := newTestQueue(next, 5)
	blocks := [][]Event{testEvents("a", 2), testEvents("b", 2), testEvents("c", 2), testEvents("d", 4), testEvents("e", 1)}
	for _, b := range blocks {
		require.NoError(t, q.Write(b...))
	}
	var em EndpointMetrics
	m.read(&em)
	assert.Equal(t, 11, em.Pending)
	assert.Equal(t, 11, em.Events)
	close(release)
	require.NoError(t, q.Close())

	// The first block may have been taken alone before the others arrived;
	// after that, whole blocks are grouped up to five events.
	var sizes []int
	for _, b := range next.blocks {
		sizes = append(sizes, len(b))
	}
	assert.Contains(t, [][]int{{2, 4, 5}, {4, 2, 5}, {2, 2, 2, 5}}, sizes)
	m.read(&em)
	assert.Zero(t, em.Pending)
}

func TestEventQueueCloseRacingWrite(t *testing.T) {
	for range 20 {
		next := &fakeSink{}
		q, _ := newTestQueue(next, 10)
		var wg sync.WaitGroup
		accepted := make(chan int, 8)
		for w := range 8 {
			wg.Go(func() {
				n := 0
				for i := range 50 {
					if q.Write(testEvents(string(rune('a'+w)), 1+i%2)...) == nil {
						n += 1 + i%2
					}
				}
				accepted <- n
			})
		}
		require.NoError(t, q.Close())
		wg.Wait()
		close(accepted)
		total := 0
		for n := range accepted {
			total += n
		}
		assert.Len(t, next.events(), total, "every accepted event is delivered")
	}
}

func TestRetryingSinkRetriesUntilSuccess(t *testing.T) {
	next := &fakeSink{fail: func(n int) error {
		if n <= 4 {
			return errTest
		}
		return nil
	}}
	rs := newRetryingSink(next, ThresholdBackoff{Threshold: 2, Backoff: time.Millisecond}, 2, 0, noGiveUp)
	require.NoError(t, rs.Write(testEvents("x", 2)...))
	assert.Equal(t, 5, next.attempts())
	assert.Zero(t, rs.failures, "a success resets the count")
	checkClose(t, rs)
}

func TestRetryingSinkCloseWakesBackoff(t *testing.T) {
	next := &fakeSink{fail: func(int) error { return errTest }}
	rs := newRetryingSink(next, ThresholdBackoff{Threshold: 1, Backoff: time.Hour}, 1, 0, noGiveUp)
	done := make(chan error, 1)
	go func() { done <- rs.Write(testEvents("x", 1)...) }()
	eventually(t, func() bool { return next.attempts() == 1 }, "first attempt")
	require.NoError(t, rs.Close())
	select {
	case err := <-done:
		assert.ErrorIs(t, err, ErrSinkClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not wake the backoff wait")
	}
	assert.Equal(t, 1, next.attempts(), "no attempt after Close")
}

func TestRetryingSinkHonoursRetryAfter(t *testing.T) {
	busy := &DeliveryError{Endpoint: "e", Delivery: Delivery{Outcome: Retry, Status: "429 Too Many Requests", RetryAfter: time.Hour, Err: errTest}}
	next := &fakeSink{fail: func(int) error { return busy }}
	rs := newRetryingSink(next, ThresholdBackoff{Threshold: 100, Backoff: time.Millisecond}, 100, 0, noGiveUp)
	go func() { _ = rs.Write(testEvents("x", 1)...) }()
	eventually(t, func() bool { return next.attempts() == 1 }, "first attempt")
	// Below the threshold the policy alone would retry at once; Retry-After
	// holds the second attempt back.
	assert.Never(t, func() bool { return next.attempts() > 1 }, 50*time.Millisecond, time.Millisecond)
	require.NoError(t, rs.Close())
}

func TestThresholdBackoffDelay(t *testing.T) {
	tests := []struct {
		name     string
		policy   ThresholdBackoff
		failures int
		want     time.Duration
	}{
		{"below threshold retries at once", ThresholdBackoff{Threshold: 3, Backoff: time.Second}, 2, 0},
		{"at threshold waits backoff", ThresholdBackoff{Threshold: 3, Backoff: time.Second}, 3, time.Second},
		{"fixed interval without max", ThresholdBackoff{Threshold: 3, Backoff: time.Second}, 30, time.Second},
		{"doubles after threshold", ThresholdBackoff{Threshold: 3, Backoff: time.Second, MaxBackoff: time.Minute}, 5, 4 * time.Second},
		{"capped at max", ThresholdBackoff{Threshold: 3, Backoff: time.Second, MaxBackoff: 10 * time.Second}, 50, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.policy.Delay(tt.failures))
		})
	}
}

func TestThresholdBackoffJitter(t *testing.T) {
	p := ThresholdBackoff{Threshold: 1, Backoff: time.Second, Jitter: 0.2}
	seen := map[time.Duration]bool{}
	for range 200 {
		d := p.Delay(1)
		require.GreaterOrEqual(t, d, 800*time.Millisecond)
		require.LessOrEqual(t, d, 1200*time.Millisecond)
		seen[d] = true
	}
	assert.Greater(t, len(seen), 1, "waits are spread")
}

func TestEventQueueKeepsEnvelopesUnderOneMiB(t *testing.T) {
	release := make(chan struct{})
	next := &fakeSink{block: release}
	q, _ := newTestQueue(next, 1000)
	big := strings.Repeat("x", 100<<10)                    // ~100 KiB of JSON an event
	require.NoError(t, q.Write(testEvents("first", 1)...)) // taken alone while the rest queue up
	var want []string
	for i := range 30 {
		block := testEvents(fmt.Sprint("big-", i), 1+i%2)
		for j := range block {
			block[j].Target.URL = big
		}
		want = append(want, ids(block)...)
		require.NoError(t, q.Write(block...))
	}
	close(release)
	require.NoError(t, q.Close())
	var got []string
	for _, b := range next.blocks {
		body, err := appendEnvelope(nil, b)
		require.NoError(t, err)
		if len(b) > 1 {
			assert.LessOrEqual(t, len(body), maxEnvelopeBytes, "a batch of several blocks stays under 1 MiB")
		}
		got = append(got, ids(b)...)
	}
	assert.Equal(t, append([]string{"first-0"}, want...), got, "whole blocks, in order")
	assert.Greater(t, len(next.blocks), 4, "the backlog went out in several envelopes")
}

func TestEventQueueSendsOversizedBlockAlone(t *testing.T) {
	next := &fakeSink{}
	q, _ := newTestQueue(next, 1000)
	block := testEvents("huge", 12)
	for i := range block {
		block[i].Target.URL = strings.Repeat("y", 100<<10)
	}
	require.NoError(t, q.Write(block...))
	require.NoError(t, q.Close())
	require.Len(t, next.blocks, 1, "a block is never split to batch it")
	assert.Len(t, next.blocks[0], 12)
}
