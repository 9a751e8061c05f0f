package notifications

import "time"

// The goroutine's side of the queue: it takes a batch of whole blocks from
// the store, delivers it (retry.go) and commits it, then takes the next.

// batch is what the queue delivers at once: the events of whole blocks.
type batch struct {
	seq      uint64        // 1 for the endpoint's first batch, then one more each
	events   []Event       // nil until needed when the batch has its JSON (see eventList)
	n        int           // events in the batch
	json     [][]byte      // each event's JSON object, when every block held it; else nil
	runs     [][]byte      // json as runs (see appendRun), when the encoder splices and some block has one; else empty
	run1     [1][]byte     // the memory of runs for a batch of one block
	fitted   []queuedBlock // its blocks, until eventList flattens them
	room     int           // events the memory of a flattened batch holds at least
	stored   []queuedBlock // its blocks as the store gave them
	finished int           // events at its head known finished, in order (see deliver)
	written  stamp         // when its oldest block was written
	full     bool          // more blocks were waiting than fit in it
	enc      Encoded       // the encoder's form of events, once encoded
	owned    bool          // events, json and runs are the queue's, not a written block's
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
			q.metrics.unreadable(err)
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
		stored:  fitted,
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
	b.events, b.json, b.runs, b.fitted, b.stored, b.owned = nil, nil, nil, nil, nil, false
}

// commit ends the delivery of b. Delivered, b leaves the store. Cut short
// by the context, b stays in a durable store for the next endpoint opened
// on it, but for its first blocks whose events are all finished (the
// spool takes blocks off whole: the finished events of the block cut
// short, and any after it, will be sent again); a memory store gives up
// its unfinished events, each part with the attempts that carried it.
// commit reports whether the queue goes on.
func (q *eventQueue) commit(b *batch, unfinished []*part) bool {
	b.release()
	if len(unfinished) > 0 && q.store.durable() {
		q.popFinished(b)
		return false
	}
	left := make([][]Event, len(unfinished)) // read while b's blocks are the store's
	for i, p := range unfinished {
		left[i] = q.reported(p)
	}
	q.pop(len(b.stored), b.n)
	if len(unfinished) > 0 {
		for i, p := range unfinished {
			q.abandoned += p.count()
			q.out.givenUpCounted(p.count(), left[i], p.attempts, ErrCloseTimeout)
		}
		return false
	}
	q.recycle(b)
	return true
}

// popFinished takes off the store the first blocks of b, cut short, whose
// events are all finished, so that the next endpoint opened on the spool
// does not send them again.
func (q *eventQueue) popFinished(b *batch) {
	blocks, events := 0, 0
	for _, blk := range b.stored {
		if events+blk.count() > b.finished {
			break
		}
		blocks, events = blocks+1, events+blk.count()
	}
	if blocks > 0 {
		q.pop(blocks, events)
	}
}

// pop takes the first blocks off the store, which hold events, all
// finished.
func (q *eventQueue) pop(blocks, events int) {
	err := q.store.pop(blocks)
	q.metrics.finished(events)
	if err != nil {
		q.log.WithError(err).Error("notifications: spool: cannot record delivery; events may be sent again after a restart")
	}
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
