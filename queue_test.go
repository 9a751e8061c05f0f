package notifications

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEventQueueDeliversInOrder(t *testing.T) {
	next := &fakeDeliverer{}
	q, _, _ := newTestQueue(next, EndpointConfig{MaxBatch: 1})
	var want []string
	for i := range 50 {
		block := testEvents(string(rune('a'+i%26))+"-"+time.Now().String(), 1+i%3)
		want = append(want, ids(block)...)
		require.NoError(t, q.Write(block...))
	}
	checkClose(t, q)
	assert.Equal(t, want, ids(next.events()), "Close flushes everything, in order")
	assert.Equal(t, 1, next.closed, "the deliverer is closed once")
}

func TestEventQueueBatchesWholeBlocks(t *testing.T) {
	release := make(chan struct{})
	next := &fakeDeliverer{hold: release}
	q, _, _ := newTestQueue(next, EndpointConfig{MaxBatch: 5})
	m := q.metrics
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
	assert.Contains(t, [][]int{{2, 4, 5}, {4, 2, 5}, {2, 2, 2, 5}}, next.sizes())
	m.read(&em)
	assert.Zero(t, em.Pending)
}

func TestEventQueueCloseRacingWrite(t *testing.T) {
	for range 20 {
		next := &fakeDeliverer{}
		q, _, _ := newTestQueue(next, EndpointConfig{MaxBatch: 10})
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
	next := &fakeDeliverer{hold: release}
	q, _, _ := newTestQueue(next, EndpointConfig{MaxBatch: 1000})
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
	for _, b := range next.batches {
		body, err := appendEnvelope(nil, b)
		require.NoError(t, err)
		if len(b) > 1 {
			assert.LessOrEqual(t, len(body), maxEnvelopeBytes, "a batch of several blocks stays under 1 MiB")
		}
		got = append(got, ids(b)...)
	}
	assert.Equal(t, append([]string{"first-0"}, want...), got, "whole blocks, in order")
	assert.Greater(t, len(next.batches), 4, "the backlog went out in several envelopes")
}

func TestEventQueueSendsOversizedBlockAlone(t *testing.T) {
	next := &fakeDeliverer{}
	q, _, _ := newTestQueue(next, EndpointConfig{MaxBatch: 1000})
	block := testEvents("huge", 12)
	for i := range block {
		block[i].Target.URL = strings.Repeat("y", 100<<10)
	}
	require.NoError(t, q.Write(block...))
	require.NoError(t, q.Close())
	assert.Equal(t, []int{12}, next.sizes(), "a block is never split to batch it")
}

// TestNoStalePromises: text that described the pipeline before it owned
// its outcomes is gone (Write can fail: ErrQueueFull; the queue has no
// "events not delivered" path: every event ends delivered or given up).
func TestNoStalePromises(t *testing.T) {
	for file, stale := range map[string]string{
		"endpoint.go": "always succeed",
		"queue.go":    "events not delivered",
	} {
		src, err := os.ReadFile(file)
		require.NoError(t, err)
		assert.NotContains(t, string(src), stale, file)
	}
}

// refusingStore is a memory store whose push waits for release, then
// refuses the block.
type refusingStore struct {
	memoryStore
	pushing, release chan struct{}
}

func (s *refusingStore) push(queuedBlock) error {
	s.pushing <- struct{}{}
	<-s.release
	return errTest
}

// Events only grows: a block the store refuses was never counted in it, not
// even while the push was under way (a scrape then, and one after, saw the
// counter go down, which Prometheus reads as a reset).
func TestEventsCountedOnceStored(t *testing.T) {
	store := &refusingStore{pushing: make(chan struct{}), release: make(chan struct{})}
	q, _, dead := newTestQueueOver(&fakeDeliverer{}, store, EndpointConfig{})
	written := make(chan error, 1)
	go func() { written <- q.Write(testEvents("refused", 5)...) }()
	<-store.pushing
	var m EndpointMetrics
	q.metrics.read(&m)
	assert.Zero(t, m.Events, "not counted while the store may still refuse it")
	assert.Equal(t, 5, m.Pending, "counted as pending: a delivery may take it before the push returns")
	close(store.release)
	require.ErrorIs(t, <-written, errTest)
	q.metrics.read(&m)
	assert.Zero(t, m.Events)
	assert.Zero(t, m.Pending)
	assert.Equal(t, 5, m.Dropped)
	assert.Len(t, dead.events(), 5)
	require.NoError(t, q.Close())
}
