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
// EncodedSink): the queue keeps them with the events, and a deliverer that
// is a JSONEncoder sends them without encoding the events again. A spool
// stores them as they are. eventJSON not of the events' length is ignored.
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
	if q.closing.Load() { // looked at again where it counts
		return ErrSinkClosed
	}
	kept, keptJSON, ignored := q.ignore.splitEncoded(events, js.eventJSON())
	if len(ignored) > 0 {
		js = withJSON(keptJSON) // the kept objects are not one run
	}
	blk := queuedBlock{events: kept, written: at, json: js}
	var err error
	if len(kept) > 0 {
		err = q.storeBlock(blk)
	}
	if err == ErrSinkClosed {
		return err // nothing of it is the queue's to report
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
// counted it out of pushing, so that one of the two sees the other.
func (q *eventQueue) storeBlock(blk queuedBlock) error {
	n := len(blk.events)
	q.pushing.Add(int64(n))
	if q.closing.Load() { // Close counts on pushing only once closing is set
		q.donePushing(n)
		return ErrSinkClosed
	}
	// Counted before the push: once stored, the block may be delivered
	// before the push returns.
	if err := q.receive(n); err != nil {
		q.donePushing(n)
		return err
	}
	err := q.push(blk)
	q.donePushing(n)
	return err
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
		q.metrics.unreceived(len(blk.events))
		return fmt.Errorf("notifications: endpoint %q: %w", q.name, err)
	}
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

// batch is what the queue delivers at once: the events of whole blocks.
type batch struct {
	seq     uint64        // 1 for the endpoint's first batch, then one more each
	events  []Event       // nil until needed when the batch has its JSON (see eventList)
	n       int           // events in the batch
	json    [][]byte      // each event's JSON object, when every block held it; else nil
	runs    [][]byte      // json as runs (see appendRun), when the encoder splices and some block has one; else empty
	run1    [1][]byte     // the memory of runs for a batch of one block
	fitted  []queuedBlock // its blocks, until eventList flattens them
	room    int           // events the memory of a flattened batch holds at least
	blocks  int
	written stamp   // when its oldest block was written
	full    bool    // more blocks were waiting than fit in it
	enc     Encoded // the encoder's form of events, once encoded
	owned   bool    // events, json and runs are the queue's, not a written block's
}

// batchMemory is the memory of a batch of several blocks: its events and
// their JSON, flattened, and that JSON as runs.
type batchMemory struct {
	events []Event
	json   [][]byte
	runs   [][]byte
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
		q.waiters.Add(1) // before looking: see storeBlock
		for q.store.len() == 0 && (!q.closing.Load() || q.pushing.Load() > 0) && q.ctx.Err() == nil {
			q.cond.Wait()
		}
		q.waiters.Add(-1)
		if q.ctx.Err() != nil || q.store.len() == 0 {
			q.mu.Unlock()
			return nil, false
		}
		if a := q.ahead; a != nil {
			q.ahead = nil
			if a.full || q.store.len() == a.n {
				q.mu.Unlock()
				return a, true // nothing came since that would join it
			}
			a.release()
			q.recycle(a)
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
// skipped events, as many as fit's limit lets a batch have (at least one
// block), and whether more blocks wait behind them. It runs outside
// the mutex: reading a spool (the disk, decoding) never holds up Write.
func (q *eventQueue) peekStore(skip, skipped int) ([]queuedBlock, bool, error) {
	blocks, err := q.store.peek(skip, q.fit.limit(q.maxBatch))
	if lost := q.store.takeLost(); lost > 0 { // counted once, found unreadable
		q.metrics.finished(lost)
		q.metrics.dropped(lost)
		q.log.WithField("events", lost).Error("notifications: spool: events lost to damaged records")
	}
	n := 0
	for _, b := range blocks {
		n += b.count()
	}
	return blocks, q.store.len() > skipped+n, err
}

// makeBatch makes the batch of the fitted blocks; full says that more
// blocks wait behind them.
func (q *eventQueue) makeBatch(fitted []queuedBlock, full bool) *batch {
	b := &batch{
		seq:     q.seq,
		blocks:  len(fitted),
		written: fitted[0].written,
		full:    full,
	}
	for _, f := range fitted {
		b.n += f.count()
	}
	if len(fitted) == 1 && fitted[0].events != nil {
		b.events, b.json = fitted[0].events, flattenJSON(fitted)
		if run := fitted[0].run(); q.splicer != nil && run != nil {
			b.run1[0] = run
			b.runs = b.run1[:]
		}
		return b
	}
	var m batchMemory
	if k := len(q.spare); k > 0 {
		m, q.spare = q.spare[k-1], q.spare[:k-1]
	}
	// Room for a full batch, so that the memory serves the next ones.
	b.room = min(q.maxBatch, DefaultMaxBatch)
	b.json, b.runs = flattenJSONInto(m.json, m.runs, fitted, b.room, q.splicer != nil)
	b.owned = true
	b.fitted, b.events = fitted, m.events
	if b.json == nil || q.jsonEncoder == nil { // the events are needed now
		b.eventList()
	}
	return b
}

// eventList returns the events of b, flattening its blocks the first time
// they are needed: a batch that has its events' JSON and is accepted at
// its first attempt never needs them, unless OnFinished or MaxEventAge
// wants them.
func (b *batch) eventList() []Event {
	if b.fitted != nil {
		b.events = flattenInto(b.events, b.fitted, b.room)
		b.fitted = nil
	}
	return b.events
}

// part returns the part that is the whole batch, taking over its
// encoding.
func (b *batch) part() *part {
	p := &part{json: b.json, runs: b.runs, enc: b.enc}
	b.enc = nil
	if b.fitted != nil {
		p.lazy = b
	} else {
		p.events = b.events
	}
	return p
}

// maxSpare bounds the event slices the queue keeps for reuse: one batch
// out, one taken ahead.
const maxSpare = 2

// recycle keeps the memory of b, which the queue is done with, for a later
// batch; its events only when OnFinished cannot hold them (Finished.Events
// shares the batch's memory). Deliverers and encoders keep neither past
// the batch's release, and the dead letter sink gets a copy of events. It
// runs on the goroutine.
func (q *eventQueue) recycle(b *batch) {
	if b.owned && len(q.spare) < maxSpare {
		m := batchMemory{json: b.json[:0], runs: b.runs[:0]}
		if q.out.onFinished == nil || b.fitted != nil { // never handed out
			m.events = b.events[:0]
		}
		q.spare = append(q.spare, m)
	}
	b.events, b.json, b.runs, b.fitted, b.owned = nil, nil, nil, nil, false
}

// commit ends the delivery of b. Delivered, b leaves the store. Cut short
// by the context, b stays in a durable store, whole, for the next endpoint
// opened on it (its events already finished will be sent again); a memory
// store gives up its unfinished events, each part with the attempts that
// carried it. commit reports whether the queue goes on.
func (q *eventQueue) commit(b *batch, unfinished []*part) bool {
	b.release()
	if len(unfinished) > 0 && q.store.durable() {
		return false
	}
	left := make([][]Event, len(unfinished)) // read while b's blocks are the store's
	for i, p := range unfinished {
		left[i] = p.eventList()
	}
	err := q.store.pop(b.blocks)
	q.metrics.finished(b.n)
	if err != nil {
		q.log.WithError(err).Error("notifications: spool: cannot record delivery; events may be sent again after a restart")
	}
	if len(unfinished) > 0 {
		for i, p := range unfinished {
			q.abandoned += len(left[i])
			q.out.givenUp(left[i], p.attempts, ErrCloseTimeout)
		}
		return false
	}
	q.recycle(b)
	return true
}

// encode has the encoder encode the events of p, from their JSON objects
// when it has them and the encoder splices; without the events themselves
// when the encoder can (see splicer).
func (q *eventQueue) encode(p *part) (Encoded, error) {
	if p.json != nil && q.jsonEncoder != nil {
		if q.splicer != nil {
			pieces := p.json
			if len(p.runs) > 0 {
				pieces = p.runs
			}
			if enc, ok := q.splicer.spliceJSON(pieces, len(p.json)); ok {
				return enc, nil
			}
		}
		return q.jsonEncoder.EncodeJSON(p.eventList(), p.json)
	}
	return q.encoder.Encode(p.eventList())
}

// splicer is an encoder of this package that can make a batch from its
// events' JSON alone, or says it needs the events too. Each of pieces is
// the JSON of one or more of the n events, in order, joined by commas (see
// appendRun).
type splicer interface {
	spliceJSON(pieces [][]byte, n int) (Encoded, bool)

	// splices reports whether spliceJSON makes batches (else it always
	// says it needs the events).
	splices() bool
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
	if left > 0 && !durable {
		dropped = q.takeAll()
		q.metrics.finished(len(dropped))
	}
	errs = append(errs, q.store.close())
	q.mu.Unlock()
	if len(dropped) > 0 {
		q.out.givenUp(dropped, 0, ErrCloseTimeout)
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
