package notifications

// Preparing the next batch while the current one is out: with a backlog,
// the deliverer then starts the next request as soon as the previous answer
// came, instead of encoding first while the receiver waits.

// lookaheadStore is a store that can peek past blocks not yet popped.
type lookaheadStore interface {
	// peekAfter is peek, skipping the skip oldest blocks.
	peekAfter(skip, maxEvents int) []queuedBlock
}

// preparer is a Deliverer that can get a batch ready ahead of its Deliver.
type preparer interface {
	prepare(events []Event)
}

// write hands b to the next sink. When the deliverer can prepare and the
// store can look ahead, the next sink works on b on a goroutine of its own
// meanwhile, which ends before write returns, while this one takes the batch
// that follows b and has the deliverer prepare it.
func (q *eventQueue) write(b batch) error {
	store, ok := q.store.(lookaheadStore)
	if q.prepare == nil || !ok {
		return q.next.Write(b.events...)
	}
	result := make(chan error, 1)
	go func() { result <- q.next.Write(b.events...) }()

	blocks := store.peekAfter(b.blocks, q.maxBatch)
	if len(blocks) > 0 {
		ahead := q.batchOf(blocks)
		q.ahead = &ahead
		q.prepare(ahead.events)
	}
	return <-result
}
