package notifications

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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
	encoder      Encoder      // deliverer, when it encodes ahead; else nil
	jsonEncoder  JSONEncoder  // deliverer, when it encodes from events' JSON; else nil
	splicer      splicer      // jsonEncoder, when it makes bodies of runs of JSON alone; else nil
	wire         bodyEncoding // how bodies are sized, for the body limit (see envelopeFit)
	ignore       IgnoreConfig
	keptJSON     *jsonArena // with an Ignore: the memory of the JSON of the events kept
	policy       BackoffPolicy
	threshold    int           // refusals of one event before it is given up
	maxAge       time.Duration // 0: no limit
	maxBatch     int
	maxPending   int
	full         error // what a Write past maxPending returns: ErrQueueFull, naming the endpoint
	closeTimeout time.Duration
	timeout      time.Duration // the HTTP deliverer's, for one request: see envelopeFit.answeredIn
	metrics      *endpointMetrics
	out          *outcomes
	log          logrus.FieldLogger
	storeRetry   time.Duration // wait before reading a store that failed again
	lookahead    bool          // take and encode the next batch while one is out
	measured     bool          // deliverer is an *httpDeliverer: its bodies have a known size

	// jsonAlone: a block written with its events' JSON is kept as that JSON
	// alone, as a spool keeps it, by an in-memory store when nothing reads the
	// events' values: the deliverer splices the JSON (it does not sign, nor
	// write CloudEvents), and there is no OnFinished, no DeadLetter sink and
	// no MaxEventAge. The events, the writer's memory, are then not held while
	// the block waits (a Broadcaster's endpoints hold its shared JSON, not the
	// events as well). They are decoded (appendEvents) only where a batch must
	// be cut by event (one a receiver refused, or paced for a slow one) or
	// joins blocks written without their JSON, encoded from the events.
	jsonAlone bool

	// Owned by the goroutine, and by the look-ahead goroutine it starts
	// and waits for (see deliverAhead), which makes the next batch: seq,
	// fit and spare are only touched by whichever of the two makes batches
	// (but for fit's atomics, which the delivery sets: see envelopeFit).
	seq       uint64        // of the last batch made
	fit       envelopeFit   // how many events, how many bytes, a batch is taken with
	failures  int           // attempts in a row that may succeed later (Retry), across batches
	ahead     *batch        // taken while the previous batch was out
	spare     []batchMemory // of batches done with, to flatten the next into (see recycle)
	failLog   failureLog
	abandoned int // events given up because ctx ended their delivery

	ctx    context.Context // cancelled when Close runs out of time
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine has ended

	mu      sync.Mutex
	cond    *sync.Cond   // signalled on push, Close and cancel
	closing atomic.Bool  // no more writes; set under mu, read with it or without (storeBlock)
	pushing atomic.Int64 // events of Writes storing their block now (outside the mutex)
	waiters atomic.Int32 // goroutines under mu about to wait on cond, or waiting
}

var _ EncodedSink = (*eventQueue)(nil)

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
		full:         fmt.Errorf("notifications: endpoint %q: %w", name, ErrQueueFull),
		closeTimeout: config.CloseTimeout,
		timeout:      config.Timeout,
		metrics:      metrics,
		out:          out,
		log:          config.Logger,
		storeRetry:   storeRetryInterval,
		done:         make(chan struct{}),
	}
	if !q.ignore.empty() {
		q.keptJSON = new(jsonArena)
	}
	if e, ok := d.(Encoder); ok {
		q.encoder = e
	}
	if e, ok := d.(JSONEncoder); ok {
		q.jsonEncoder = e
		if s, ok := e.(splicer); ok && s.splices() {
			q.splicer = s
		}
	}
	q.wire = envelopeEncoding
	if h, ok := d.(*httpDeliverer); ok {
		q.wire, q.measured = h.encoding, true
	}
	q.lookahead = q.encoder != nil || store.durable()
	q.jsonAlone = q.splicer != nil && !store.durable() && !out.readsEvents() && q.maxAge == 0
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
	return q.write(events, nil, stampNow())
}

// WriteEncoded is Write for events whose JSON objects are eventJSON (see
// EncodedSink): the queue keeps them with the events, or instead of them
// (see jsonAlone), and a deliverer that is a JSONEncoder sends them
// without encoding the events again. A spool stores them as they are.
// eventJSON not of the events' length is ignored.
func (q *eventQueue) WriteEncoded(events []Event, eventJSON [][]byte) error {
	if len(eventJSON) != len(events) {
		eventJSON = nil
	}
	return q.write(events, withJSON(eventJSON), stampNow())
}

// writeEncodedAt is WriteEncoded for a block written at at, with its
// JSON, one object per event (see stampedSink): a Broadcaster reads the
// clock once for all its endpoints.
func (q *eventQueue) writeEncodedAt(events []Event, js *blockJSON, at stamp) error {
	return q.write(events, js, at)
}

// write is Write, with the events' JSON when known (else nil), of a block
// written at at.
func (q *eventQueue) write(events []Event, js *blockJSON, at stamp) error {
	// Counted in pushing until its events are stored or reported: Close
	// waits for that before it closes the reports, so that no report of a
	// Write follows Close.
	n := len(events)
	q.pushing.Add(int64(n))
	defer q.donePushing(n)
	if q.closing.Load() { // Close counts on pushing only once closing is set
		return ErrSinkClosed
	}
	kept, keptJSON, ignored := q.ignore.splitEncoded(events, js.eventJSON())
	if q.keptJSON != nil && len(kept) > 0 && keptJSON != nil {
		// Copied, so as not to hold the memory the kept objects share with
		// events this endpoint ignored, now or in other Writes: a
		// Broadcaster's arena chunk, EncodeEvents' buffer of a whole block.
		js = q.keptJSON.copyOf(keptJSON)
	}
	blk := queuedBlock{events: kept, written: at, json: js}
	if q.jsonAlone && js != nil && len(js.objects) == len(kept) {
		blk.events = nil // see jsonAlone
	}
	var err error
	if len(kept) > 0 {
		err = q.storeBlock(blk)
	}
	if len(ignored) > 0 {
		q.out.ignored(ignored)
	}
	if err != nil {
		q.out.givenUp(kept, 0, err)
	}
	return err
}

// storeBlock stores a block without the mutex: a Write shares no lock of
// the queue's with the goroutine, nor any with another Write but for the
// store's own (MaxPending is checked on the pending count, an atomic: see
// receive). The goroutine is woken when a Write's block counts in
// store.len() (a memory store counts a block once its push returned; the
// spool's Len counts every record whose append returned, once the records
// before it are written too, and those are the blocks of Writes still
// counted in pushing: one log per endpoint, whose appenders are this
// queue's Writes). It takes the mutex only to wake the goroutine, or Close, when
// they wait: each counts itself in waiters before it looks at the store
// and pushing, and a Write looks at waiters after it stored its block and
// counted it out of pushing (write does), so that one of the two sees the
// other.
func (q *eventQueue) storeBlock(blk queuedBlock) error {
	// Counted before the push: once stored, the block may be delivered
	// before the push returns.
	if err := q.receive(blk.count()); err != nil {
		return err
	}
	return q.push(blk)
}

// receive counts n events written as received and pending, within
// MaxPending: past it, it counts nothing and returns an error wrapping
// ErrQueueFull. The pending count is exactly what the store holds and the
// Writes storing their blocks now hold (events leave it as they leave the
// store), so concurrent Writes never take the endpoint past MaxPending
// together.
func (q *eventQueue) receive(n int) error {
	if q.maxPending <= 0 {
		q.metrics.received(n)
		return nil
	}
	if !q.metrics.receivedWithin(n, q.maxPending) {
		return q.full
	}
	return nil
}

// push stores blk, of kept events, and counts them out of the metrics if
// that fails.
func (q *eventQueue) push(blk queuedBlock) error {
	if err := q.store.push(blk); err != nil {
		q.metrics.unreceived(blk.count())
		return fmt.Errorf("notifications: endpoint %q: %w", q.name, err)
	}
	q.metrics.stored(blk.count())
	return nil
}

// donePushing counts n events out of pushing and wakes whoever waits.
func (q *eventQueue) donePushing(n int) {
	q.pushing.Add(-int64(n))
	if q.waiters.Load() > 0 {
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	}
}

// Close stops accepting events and waits until the queue has drained, or
// closeTimeout has passed: then it cancels the delivery in flight. It closes
// the deliverer and the store. Events left undelivered are given up, or kept
// in a durable store; either way Close returns an *UndeliveredError.
func (q *eventQueue) Close() error {
	q.mu.Lock()
	if q.closing.Swap(true) {
		q.mu.Unlock()
		return errAlreadyClosed
	}
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
	q.waiters.Add(1)
	for q.pushing.Load() > 0 { // a Write that got in before Close is stored or refused
		q.cond.Wait()
	}
	q.waiters.Add(-1)
	left := q.store.len()
	durable := q.store.durable()
	var dropped []Event
	droppedN := 0
	if left > 0 && !durable {
		dropped, droppedN = q.takeAll(q.out.readsEvents())
		q.metrics.finished(droppedN)
	}
	errs = append(errs, q.store.close())
	q.mu.Unlock()
	if droppedN > 0 {
		q.out.givenUpCounted(droppedN, dropped, 0, ErrCloseTimeout)
	}
	q.out.close()
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

// takeAll removes everything in the store and returns how many events it
// held, and the events themselves when read says something reads them (a
// block held as its JSON alone is then decoded; else nil). It is called
// under the mutex, for a store that will not keep it.
func (q *eventQueue) takeAll(read bool) ([]Event, int) {
	var all []Event
	held := q.store.len()
	for q.store.len() > 0 {
		blocks, err := q.store.peek(0, q.store.len())
		if err != nil || len(blocks) == 0 {
			break
		}
		if read {
			all = append(all, flatten(blocks)...)
		}
		_ = q.store.pop(len(blocks))
	}
	return all, held - q.store.len()
}
