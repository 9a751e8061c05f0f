package notifications

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// eventQueue accepts blocks of events without blocking on delivery and hands
// them, in order, to the next sink from a goroutine of its own. When several
// blocks are waiting it hands over as many whole blocks as fit in maxBatch
// events. Blocks stay in the store until the next sink has finished with
// them, so a spooled block survives a crash during its delivery.
//
// Close stops accepting and waits, up to closeTimeout (negative: for ever),
// until everything was handed over and finished; then it closes the next
// sink.
type eventQueue struct {
	name         string
	next         Sink
	store        eventStore
	maxBatch     int
	maxPending   int
	closeTimeout time.Duration
	metrics      *endpointMetrics
	giveUp       giveUpFunc
	log          logrus.FieldLogger
	storeRetry   time.Duration // wait before reading a store that failed again

	// interrupted is the batch Close cut short, and unfinished those of its
	// events neither delivered nor given up. Set by the goroutine before it
	// ends; read by Close after.
	interrupted *batch
	unfinished  []Event

	prepare func(events []Event) // nil: the deliverer encodes when it delivers
	ahead   *batch               // prepared by write; used by take when still right

	mu      sync.Mutex
	cond    *sync.Cond
	closed  bool          // no more writes
	pushing int           // events of Writes storing their block now
	aborted bool          // Close ran out of time: stop handing over
	abort   chan struct{} // closed with aborted set: wakes pause
	done    chan struct{} // closed when the goroutine has ended
}

var _ Sink = (*eventQueue)(nil)

// newEventQueue starts a queue over store; store.len() events already in it
// count as pending. prepare, when not nil, gets the next batch ready while
// the current one is delivered.
func newEventQueue(name string, next Sink, store eventStore, config EndpointConfig, metrics *endpointMetrics, giveUp giveUpFunc, prepare func([]Event)) *eventQueue {
	q := &eventQueue{
		name:         name,
		next:         next,
		store:        store,
		maxBatch:     max(config.MaxBatch, 1),
		maxPending:   config.MaxPending,
		closeTimeout: config.CloseTimeout,
		metrics:      metrics,
		giveUp:       giveUp,
		log:          config.Logger,
		prepare:      prepare,
		storeRetry:   storeRetryInterval,
		abort:        make(chan struct{}),
		done:         make(chan struct{}),
	}
	q.cond = sync.NewCond(&q.mu)
	metrics.recovered(store.len())
	go q.run()
	return q
}

// Write stores the block and returns. With a spool, the block has reached
// the spool's file when Write returns nil. A block that would take the queue
// past maxPending is given up instead. Write fails after Close, and when the
// spool cannot be written: then the block is given up too.
func (q *eventQueue) Write(events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrSinkClosed
	}
	if q.maxPending > 0 && q.store.len()+q.pushing+len(events) > q.maxPending {
		q.mu.Unlock()
		q.giveUp(events, ErrQueueFull)
		return nil
	}
	// The store encodes and writes outside the mutex, so that concurrent
	// writers share one disk write; pushing keeps Close and the goroutine
	// waiting for them.
	q.pushing += len(events)
	q.mu.Unlock()
	err := q.store.push(queuedBlock{events: events, written: time.Now()})
	q.mu.Lock()
	q.pushing -= len(events)
	q.cond.Broadcast()
	q.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("notifications: endpoint %q: %w", q.name, err)
		q.giveUp(events, err) // counted and dead-lettered, not lost unseen
		return err
	}
	q.metrics.received(len(events))
	return nil
}

// run hands batches to the next sink until the queue is closed and empty,
// or aborted.
func (q *eventQueue) run() {
	defer close(q.done)
	for {
		b, ok := q.take()
		if !ok {
			return
		}
		err := q.write(b)
		if errors.Is(err, ErrSinkClosed) {
			// Aborted by Close: the batch stays in the store; Close learns
			// which of its events the retrying sink had not finished.
			q.interrupted = &b
			var ie *interruptedError
			if errors.As(err, &ie) {
				q.unfinished = ie.unfinished
			} else {
				q.unfinished = b.events
			}
			return
		}
		popErr := q.store.pop(b.blocks)
		q.metrics.finished(len(b.events))
		if err == nil {
			q.metrics.delivered(len(b.events), time.Since(b.written))
		} else {
			q.log.WithError(err).WithField("events", len(b.events)).Error("notifications: events not delivered")
		}
		if popErr != nil {
			q.log.WithError(popErr).Error("notifications: spool: cannot record delivery; events may be sent again after a restart")
		}
	}
}

// batch is what the queue hands to the next sink at once: the events of
// whole blocks, how many blocks, and when the first was written.
type batch struct {
	events  []Event
	blocks  int
	written time.Time
	trimmed bool // fitEnvelope left blocks out that maxBatch allowed
}

// take waits for stored blocks and returns the next batch. It returns false
// once the queue is closed and empty, or aborted.
func (q *eventQueue) take() (batch, bool) {
	for {
		q.mu.Lock()
		for q.store.len() == 0 && !q.aborted && (!q.closed || q.pushing > 0) {
			q.cond.Wait()
		}
		if q.aborted || q.store.len() == 0 {
			q.mu.Unlock()
			return batch{}, false
		}
		q.mu.Unlock()
		// Reading a spool (the disk, decoding) runs outside the mutex, so
		// that Writes never wait for it.
		blocks, err := q.store.peek(q.maxBatch)
		if lost := q.store.takeLost(); lost > 0 {
			q.metrics.finished(lost)
			q.metrics.dropped(lost)
			q.log.WithField("events", lost).Error("notifications: spool: events lost to damaged records")
		}
		if err != nil {
			q.log.WithError(err).Error("notifications: spool unreadable; retrying")
			if !q.pause(q.storeRetry) {
				return batch{}, false
			}
			continue
		}
		if len(blocks) == 0 {
			continue
		}
		ahead := q.ahead
		q.ahead = nil
		if ahead != nil && (len(blocks) == ahead.blocks || ahead.trimmed && len(blocks) > ahead.blocks) {
			return *ahead, true // prepared while the previous batch was out, and still the right one
		}
		return q.batchOf(blocks), true
	}
}

// storeRetryInterval is the wait before reading a store that failed again.
const storeRetryInterval = time.Second

// pause waits for d, or until Close aborts the queue; it reports whether
// the queue may go on.
func (q *eventQueue) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-q.abort:
		return false
	}
}

// batchOf makes the batch of the leading blocks that fit in an envelope.
func (q *eventQueue) batchOf(blocks []queuedBlock) batch {
	fitted := q.fitEnvelope(blocks)
	return batch{events: flatten(fitted), blocks: len(fitted), written: fitted[0].written, trimmed: len(fitted) < len(blocks)}
}

// fitEnvelope returns the leading blocks whose events encode in at most
// maxEnvelopeBytes of envelope JSON, at least one block. It runs on the
// queue's goroutine, outside the mutex.
func (q *eventQueue) fitEnvelope(blocks []queuedBlock) []queuedBlock {
	if len(blocks) == 1 {
		return blocks
	}
	size := len(`{"events":[]}`) - 1 // each event adds a comma but the first
	for i, b := range blocks {
		for j := range b.events {
			size += eventJSONSize(&b.events[j]) + 1
		}
		if size > maxEnvelopeBytes && i > 0 {
			return blocks[:i]
		}
	}
	return blocks
}

// Close stops accepting events and waits until the queue has drained, or
// closeTimeout has passed: then it cancels the delivery in flight. It closes
// the next sink and the store. Events left undelivered are given up, or kept
// in a durable store; either way Close returns an *UndeliveredError.
func (q *eventQueue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return errAlreadyClosed
	}
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()

	nextClosed := false
	var errs []error
	if q.closeTimeout >= 0 {
		timer := time.NewTimer(q.closeTimeout)
		select {
		case <-q.done:
		case <-timer.C:
			q.mu.Lock()
			q.aborted = true
			close(q.abort)
			q.cond.Broadcast()
			q.mu.Unlock()
			errs = append(errs, q.next.Close()) // wakes retries, cancels the request in flight
			nextClosed = true
		}
		timer.Stop()
	}
	<-q.done
	if !nextClosed {
		errs = append(errs, q.next.Close())
	}

	q.mu.Lock()
	for q.pushing > 0 { // a Write that got in before Close is stored or refused
		q.cond.Wait()
	}
	left := q.store.len()
	durable := q.store.durable()
	var dropped []Event
	if left > 0 && !durable {
		dropped = q.takeAll()
		q.metrics.finished(len(dropped))
		if q.interrupted != nil { // of the batch cut short, only what is unfinished
			dropped = append(q.unfinished, dropped[len(q.interrupted.events):]...)
			left = len(dropped)
		}
	}
	errs = append(errs, q.store.close())
	q.mu.Unlock()
	if len(dropped) > 0 {
		q.giveUp(dropped, ErrCloseTimeout)
	}
	if left > 0 {
		errs = append(errs, &UndeliveredError{Endpoint: q.name, Events: left, Spooled: durable})
	}
	return errors.Join(errs...)
}

// takeAll removes and returns everything in the store. It is called under
// the mutex, for a store that will not keep it.
func (q *eventQueue) takeAll() []Event {
	var all []Event
	for q.store.len() > 0 {
		blocks, err := q.store.peek(q.store.len())
		if err != nil || len(blocks) == 0 {
			break
		}
		all = append(all, flatten(blocks)...)
		_ = q.store.pop(len(blocks))
	}
	return all
}
