package notifications

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// errAlreadyClosed is returned by a second Close of any sink of this package.
var errAlreadyClosed = fmt.Errorf("%w: already closed", ErrSinkClosed)

// queuedBlock is one written block with the time it was written.
type queuedBlock struct {
	events  []Event
	written time.Time
}

// eventQueue accepts blocks of events without blocking and hands them, in
// order, to the next sink from a goroutine of its own. When several blocks
// are waiting it hands over as many whole blocks as fit in maxBatch events.
// Close stops accepting, waits until every queued block was handed over and
// finished, then closes the next sink.
type eventQueue struct {
	next     Sink
	maxBatch int
	metrics  *endpointMetrics
	log      logrus.FieldLogger

	mu     sync.Mutex
	cond   *sync.Cond
	blocks []queuedBlock // waiting blocks; blocks[head:] are live
	head   int
	closed bool
	done   chan struct{} // closed when the goroutine has ended
}

var _ Sink = (*eventQueue)(nil)

func newEventQueue(next Sink, maxBatch int, metrics *endpointMetrics, log logrus.FieldLogger) *eventQueue {
	q := &eventQueue{next: next, maxBatch: max(maxBatch, 1), metrics: metrics, log: log, done: make(chan struct{})}
	q.cond = sync.NewCond(&q.mu)
	go q.run()
	return q
}

// Write queues the block and returns at once. It fails only after Close.
func (q *eventQueue) Write(events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrSinkClosed
	}
	q.blocks = append(q.blocks, queuedBlock{events: events, written: time.Now()})
	q.metrics.received(len(events))
	q.cond.Signal()
	return nil
}

// Close stops accepting events, waits until the queue has drained, and closes
// the next sink.
func (q *eventQueue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return errAlreadyClosed
	}
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
	<-q.done
	return q.next.Close()
}

// run hands batches to the next sink until the queue is closed and empty.
func (q *eventQueue) run() {
	defer close(q.done)
	for {
		batch, written, ok := q.take()
		if !ok {
			return
		}
		if err := q.next.Write(batch...); err != nil {
			q.log.WithError(err).WithField("events", len(batch)).Error("notifications: events not delivered")
		} else {
			q.metrics.delivered(len(batch), time.Since(written))
		}
		q.metrics.finished(len(batch))
	}
}

// take waits for queued blocks and removes the next batch: whole blocks, in
// order, as many as fit in maxBatch events (always at least one block), with
// the time its first block was written. It returns false once the queue is
// closed and empty.
func (q *eventQueue) take() ([]Event, time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.head == len(q.blocks) && !q.closed {
		q.cond.Wait()
	}
	if q.head == len(q.blocks) {
		return nil, time.Time{}, false
	}
	end, n := q.head+1, len(q.blocks[q.head].events)
	for end < len(q.blocks) && n+len(q.blocks[end].events) <= q.maxBatch {
		n += len(q.blocks[end].events)
		end++
	}
	written := q.blocks[q.head].written
	var batch []Event
	if end == q.head+1 {
		batch = q.blocks[q.head].events
	} else {
		// Blocks may share memory with other sinks' copies: never append to one.
		batch = make([]Event, 0, n)
		for _, b := range q.blocks[q.head:end] {
			batch = append(batch, b.events...)
		}
	}
	clear(q.blocks[q.head:end])
	q.head = end
	if q.head > len(q.blocks)/2 { // keep the dead prefix from growing forever
		live := copy(q.blocks, q.blocks[q.head:])
		clear(q.blocks[live:])
		q.blocks, q.head = q.blocks[:live], 0
	}
	return batch, written, true
}

// retryingSink writes to the next sink until it succeeds or the retrying sink
// is closed, waiting between attempts as its policy says. The count of
// consecutive failures carries across writes; a success resets it.
type retryingSink struct {
	next   Sink
	policy BackoffPolicy

	mu       sync.Mutex
	failures int
	closed   bool
	closing  chan struct{} // closed by Close: wakes every wait
}

var _ Sink = (*retryingSink)(nil)

func newRetryingSink(next Sink, policy BackoffPolicy) *retryingSink {
	return &retryingSink{next: next, policy: policy, closing: make(chan struct{})}
}

// Write blocks until the events were written to the next sink, or returns
// ErrSinkClosed once the sink is closed.
func (rs *retryingSink) Write(events ...Event) error {
	for {
		err := rs.next.Write(events...)
		if err == nil {
			rs.mu.Lock()
			rs.failures = 0
			rs.mu.Unlock()
			return nil
		}
		if errors.Is(err, ErrSinkClosed) {
			return err
		}
		rs.mu.Lock()
		rs.failures++
		wait := max(rs.policy.Delay(rs.failures), retryAfter(err))
		rs.mu.Unlock()
		if !rs.sleep(wait) {
			return ErrSinkClosed
		}
	}
}

// sleep waits for d and reports whether the sink is still open.
func (rs *retryingSink) sleep(d time.Duration) bool {
	if d <= 0 {
		select {
		case <-rs.closing:
			return false
		default:
			return true
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-rs.closing:
		return false
	case <-t.C:
		return true
	}
}

// Close wakes a waiting Write and closes the next sink.
func (rs *retryingSink) Close() error {
	rs.mu.Lock()
	if rs.closed {
		rs.mu.Unlock()
		return errAlreadyClosed
	}
	rs.closed = true
	close(rs.closing)
	rs.mu.Unlock()
	return rs.next.Close()
}
