package notifications

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// eventQueue is an endpoint's Sink and the one owner of its delivery. Write
// stores blocks of events and returns at once; one goroutine takes them, in
// order, as batches of whole blocks (up to maxBatch events), delivers each
// batch with retries (retry.go) and commits it: only then does the batch
// leave the store, so a spooled batch survives a crash during its delivery.
// Each event's outcome is reported as soon as it is known (finished.go).
//
// One context stops everything: Close cancels it when closeTimeout runs
// out, which ends the request in flight, every wait, and the goroutine.
type eventQueue struct {
	name         string
	store        eventStore
	deliverer    Deliverer
	encoder      Encoder // deliverer, when it encodes ahead; else nil
	ignore       IgnoreConfig
	policy       BackoffPolicy
	threshold    int           // refusals of one event before it is given up
	maxAge       time.Duration // 0: no limit
	maxBatch     int
	maxPending   int
	closeTimeout time.Duration
	metrics      *endpointMetrics
	out          *outcomes
	log          logrus.FieldLogger
	storeRetry   time.Duration // wait before reading a store that failed again
	lookahead    bool          // take and encode the next batch while one is out

	// Owned by the goroutine.
	seq       uint64 // of the last batch made
	failures  int    // attempts in a row that may succeed later (Retry), across batches
	ahead     *batch // taken while the previous batch was out
	failLog   failureLog
	abandoned int // events given up because ctx ended their delivery

	ctx    context.Context // cancelled when Close runs out of time
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine has ended

	mu      sync.Mutex
	cond    *sync.Cond // signalled on push, Close and cancel
	closed  bool       // no more writes
	pushing int        // events of Writes storing their block now, outside the mutex
}

var _ Sink = (*eventQueue)(nil)

// newEventQueue starts the queue of endpoint name over store, delivering
// through d; store.len() events already in it count as pending. config
// has its defaults applied.
func newEventQueue(name string, d Deliverer, store eventStore, config EndpointConfig, metrics *endpointMetrics, out *outcomes) *eventQueue {
	q := &eventQueue{
		name:         name,
		store:        store,
		deliverer:    d,
		ignore:       config.Ignore.clone(),
		policy:       config.BackoffPolicy,
		threshold:    max(config.Threshold, 1),
		maxAge:       config.MaxEventAge,
		maxBatch:     max(config.MaxBatch, 1),
		maxPending:   config.MaxPending,
		closeTimeout: config.CloseTimeout,
		metrics:      metrics,
		out:          out,
		log:          config.Logger,
		storeRetry:   storeRetryInterval,
		done:         make(chan struct{}),
	}
	if e, ok := d.(Encoder); ok {
		q.encoder = e
	}
	q.lookahead = q.encoder != nil || store.durable()
	q.failLog = failureLog{log: config.Logger, interval: failureLogInterval, metrics: metrics}
	q.ctx, q.cancel = context.WithCancel(context.Background())
	q.cond = sync.NewCond(&q.mu)
	metrics.recovered(store.len())
	go q.run()
	return q
}

// Write stores the block, but for the events the endpoint ignores, and
// returns. With a spool, the block has reached the spool's file when Write
// returns nil. Write returns ErrSinkClosed itself after Close, whatever the
// block (even empty). A block that would take the endpoint past MaxPending
// is given up, and Write returns an error wrapping ErrQueueFull; a block the
// spool cannot store is given up too, and Write returns the spool's error.
// Either way the events went to the dead letter sink.
func (q *eventQueue) Write(events ...Event) error {
	kept, ignored := q.ignore.split(events)
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrSinkClosed
	}
	var err error
	switch {
	case len(kept) == 0:
		q.mu.Unlock()
	case q.maxPending > 0 && q.store.len()+q.pushing+len(kept) > q.maxPending:
		q.mu.Unlock()
		err = fmt.Errorf("notifications: endpoint %q: %w", q.name, ErrQueueFull)
	default:
		// The store encodes and writes outside the mutex, so that
		// concurrent Writes share one disk write; pushing keeps the
		// goroutine and Close waiting for them.
		// Counted before the push: once stored, the block may be
		// delivered before the push returns.
		q.pushing += len(kept)
		q.metrics.received(len(kept))
		q.mu.Unlock()
		err = q.store.push(queuedBlock{events: kept, written: time.Now()})
		q.mu.Lock()
		q.pushing -= len(kept)
		if err != nil {
			q.metrics.unreceived(len(kept))
			err = fmt.Errorf("notifications: endpoint %q: %w", q.name, err)
		}
		q.cond.Broadcast()
		q.mu.Unlock()
	}
	if len(ignored) > 0 {
		q.out.ignored(ignored)
	}
	if err != nil {
		q.out.givenUp(kept, 0, err)
	}
	return err
}

// batch is what the queue delivers at once: the events of whole blocks.
type batch struct {
	seq     uint64 // 1 for the endpoint's first batch, then one more each
	events  []Event
	blocks  int
	written time.Time // when its oldest block was written
	full    bool      // more blocks were waiting than fit in it
	enc     Encoded   // the encoder's form of events, once encoded
}

// release gives the batch's encoding back to the encoder.
func (b *batch) release() {
	if b.enc != nil {
		b.enc.Release()
		b.enc = nil
	}
}

// run delivers batches until the queue is closed and empty, or cancelled.
func (q *eventQueue) run() {
	defer close(q.done)
	defer q.dropAhead()
	for {
		b, ok := q.take()
		if !ok {
			return
		}
		unfinished := q.deliverAhead(b)
		if !q.commit(b, unfinished) {
			return
		}
	}
}

// take waits for stored blocks and returns the next batch: the one taken
// ahead when it is still the right one, else a fresh one. It returns false
// once the queue is closed and empty, or cancelled.
func (q *eventQueue) take() (*batch, bool) {
	for {
		q.mu.Lock()
		for q.store.len() == 0 && (!q.closed || q.pushing > 0) && q.ctx.Err() == nil {
			q.cond.Wait()
		}
		if q.ctx.Err() != nil || q.store.len() == 0 {
			q.mu.Unlock()
			return nil, false
		}
		if a := q.ahead; a != nil {
			q.ahead = nil
			if a.full || q.store.len() == len(a.events) {
				q.mu.Unlock()
				return a, true // nothing came since that would join it
			}
			a.release()
		}
		q.mu.Unlock()
		blocks, more, err := q.peekStore(0, 0)
		if err != nil {
			q.log.WithError(err).Error("notifications: spool unreadable; retrying")
			if !sleep(q.ctx, q.storeRetry) {
				return nil, false
			}
			continue
		}
		if len(blocks) > 0 {
			return q.batchOf(blocks, more), true
		}
	}
}

// storeRetryInterval is the wait before reading a store that failed again.
const storeRetryInterval = time.Second

// peekStore returns the blocks that follow the skip oldest, which hold
// skipped events, and whether more blocks wait behind them. It runs outside
// the mutex: reading a spool (the disk, decoding) never holds up Write.
func (q *eventQueue) peekStore(skip, skipped int) ([]queuedBlock, bool, error) {
	blocks, err := q.store.peek(skip, q.maxBatch)
	if lost := q.store.takeLost(); lost > 0 { // counted once, found unreadable
		q.metrics.finished(lost)
		q.metrics.dropped(lost)
		q.log.WithField("events", lost).Error("notifications: spool: events lost to damaged records")
	}
	n := 0
	for _, b := range blocks {
		n += len(b.events)
	}
	return blocks, q.store.len() > skipped+n, err
}

// batchOf makes the next batch of the leading blocks that fit in an
// envelope. It runs outside the mutex.
func (q *eventQueue) batchOf(blocks []queuedBlock, more bool) *batch {
	fitted := fitEnvelope(blocks)
	q.seq++
	return &batch{
		seq:     q.seq,
		events:  flatten(fitted),
		blocks:  len(fitted),
		written: fitted[0].written,
		full:    more || len(fitted) < len(blocks),
	}
}

// commit ends the delivery of b. Delivered, b leaves the store. Cut short
// by the context, b stays in a durable store, whole, for the next endpoint
// opened on it (its events already finished will be sent again); a memory
// store gives up its unfinished events. commit reports whether the queue
// goes on.
func (q *eventQueue) commit(b *batch, unfinished []Event) bool {
	b.release()
	if len(unfinished) > 0 && q.store.durable() {
		return false
	}
	err := q.store.pop(b.blocks)
	q.metrics.finished(len(b.events))
	if err != nil {
		q.log.WithError(err).Error("notifications: spool: cannot record delivery; events may be sent again after a restart")
	}
	if len(unfinished) > 0 {
		q.abandoned = len(unfinished)
		q.out.givenUp(unfinished, 0, ErrCloseTimeout)
		return false
	}
	return true
}

// fitEnvelope returns the leading blocks whose events encode in at most
// maxEnvelopeBytes of envelope JSON, at least one block. It runs outside
// the mutex.
func fitEnvelope(blocks []queuedBlock) []queuedBlock {
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
// the deliverer and the store. Events left undelivered are given up, or kept
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

	if q.closeTimeout >= 0 {
		timer := time.NewTimer(q.closeTimeout)
		select {
		case <-q.done:
		case <-timer.C:
			q.stop()
		}
		timer.Stop()
	}
	<-q.done
	q.cancel()
	errs := []error{q.deliverer.Close()}

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
	}
	errs = append(errs, q.store.close())
	q.mu.Unlock()
	if len(dropped) > 0 {
		q.out.givenUp(dropped, 0, ErrCloseTimeout)
	}
	if !durable {
		left += q.abandoned
	}
	if left > 0 {
		errs = append(errs, &UndeliveredError{Endpoint: q.name, Events: left, Spooled: durable})
	}
	return errors.Join(errs...)
}

// stop cancels the context and wakes the goroutine wherever it waits.
func (q *eventQueue) stop() {
	q.cancel()
	q.mu.Lock()
	q.cond.Broadcast()
	q.mu.Unlock()
}

// takeAll removes and returns everything in the store. It is called under
// the mutex, for a store that will not keep it.
func (q *eventQueue) takeAll() []Event {
	var all []Event
	for q.store.len() > 0 {
		blocks, err := q.store.peek(0, q.store.len())
		if err != nil || len(blocks) == 0 {
			break
		}
		all = append(all, flatten(blocks)...)
		_ = q.store.pop(len(blocks))
	}
	return all
}
