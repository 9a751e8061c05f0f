package notifications

// Looking ahead: while one batch is out, the queue takes the batch that
// follows it from the store (reading it from the spool, when there is one)
// and has the encoder encode it. With a backlog, the next request then
// starts as soon as the previous answer came, instead of waiting for the
// disk and the encoder while the receiver idles.

// deliverAhead delivers b and returns the parts left unfinished (see
// deliver). When the
// queue looks ahead and events wait behind b, a goroutine of its own, which
// ends before deliverAhead returns, meanwhile takes and encodes the batch
// after b. (Events written during the delivery are taken afterwards, by
// take.)
func (q *eventQueue) deliverAhead(b *batch) []*part {
	if !q.lookahead || q.store.len() <= b.n {
		return q.deliver(q.ctx, b)
	}
	ahead := make(chan *batch, 1)
	go func() { ahead <- q.prepare(b) }()
	unfinished := q.deliver(q.ctx, b)
	q.ahead = <-ahead
	return unfinished
}

// prepare takes the batch that follows b and encodes it, or returns nil
// when there is none yet or the store cannot be read (take reads it again).
func (q *eventQueue) prepare(b *batch) *batch {
	blocks, more, err := q.peekStore(len(b.stored), b.n)
	if err != nil || len(blocks) == 0 {
		return nil
	}
	next := q.batchOf(blocks, more)
	if q.encoder != nil && next.enc == nil {
		if enc, err := q.encode(next.part()); err == nil {
			next.enc = enc
		} // else the attempt meets the error itself
	}
	return next
}

// dropAhead releases the batch taken ahead, when the queue stops.
func (q *eventQueue) dropAhead() {
	if q.ahead != nil {
		q.ahead.release()
		q.ahead = nil
	}
}
