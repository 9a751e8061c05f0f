package notifications

import (
	"slices"
	"sync/atomic"
)

// queuedBlock is one written block with the time it was written.
type queuedBlock struct {
	// events are the block's events; nil for a block held as its events'
	// JSON alone (read back from a spool, or kept so by an in-memory
	// endpoint that reads no event's values: see eventQueue.jsonAlone),
	// until something needs their values: appendEvents decodes them.
	events  []Event
	written stamp

	// json is the events' JSON, when known: encoded by a Broadcaster
	// (whose endpoints share it), written with WriteEncoded, or read back
	// from a spool; else nil.
	json *blockJSON
}

// blockJSON is the JSON of a block's events: what a Broadcaster shares
// among its endpoints' blocks, which are thus no larger than a block of
// events alone.
type blockJSON struct {
	// objects is each event's JSON, the bytes an envelope carries (see
	// EncodeEvents).
	objects [][]byte

	// run is objects joined by commas, in the memory of a Broadcaster's
	// arena, when the block was written whole by one (see appendRun);
	// else nil. A spool keeps it only in memory.
	run []byte
}

// withJSON returns the JSON of a block of events whose objects are
// eventJSON, or nil when that is.
func withJSON(eventJSON [][]byte) *blockJSON {
	if eventJSON == nil {
		return nil
	}
	return &blockJSON{objects: eventJSON}
}

// eventJSON returns each event's JSON; nil for a nil j.
func (j *blockJSON) eventJSON() [][]byte {
	if j == nil {
		return nil
	}
	return j.objects
}

// encoded returns each event's JSON, when known; else nil.
func (b *queuedBlock) encoded() [][]byte { return b.json.eventJSON() }

// run returns the run of the block's JSON (see blockJSON), or nil.
func (b *queuedBlock) run() []byte {
	if b.json == nil {
		return nil
	}
	return b.json.run
}

// count returns how many events b holds.
func (b *queuedBlock) count() int {
	if b.events == nil {
		return len(b.encoded())
	}
	return len(b.events)
}

// decodedEvents counts the events appendEvents decoded from stored JSON;
// tests read it to see that a batch was delivered without decoding.
var decodedEvents atomic.Int64

// appendEvents appends the events of b to dst, decoding them from their
// JSON when b carries only that: the one place where events held as their
// JSON alone are decoded, read back from a spool or kept so in memory (see
// eventQueue.jsonAlone; events a spool stored in binary are decoded as it
// reads them, spool_codec.go). The spool checked the JSON's shape when it
// read the record, and JSON kept in memory is EncodeEvents' as
// WriteEncoded requires; an event whose JSON does not decode (which
// EncodeEvents never writes) is appended as far as it decoded.
func appendEvents(dst []Event, b queuedBlock) []Event {
	if b.events != nil {
		return append(dst, b.events...)
	}
	n, items := len(dst), b.encoded()
	dst = slices.Grow(dst, len(items))[:n+len(items)]
	clear(dst[n:]) // decodeEvent decodes into zero events
	for i, item := range items {
		_ = decodeEvent(item, &dst[n+i])
	}
	decodedEvents.Add(int64(len(items)))
	return dst
}

// eventStore holds an endpoint's pending blocks, oldest first. The queue
// calls push from the writers' goroutines, possibly several at once,
// outside its mutex (so that encoding and disk writes stay out of its
// critical section), len from any goroutine, and peek, pop and takeLost
// from its own goroutine and the look-ahead (outside the mutex, but under
// it at Close). A store synchronizes these calls itself, and counts a
// block in len once its push returned nil (a spool: once the blocks
// pushed before it are written too).
type eventStore interface {
	// push adds a block at the tail. When it returns nil the block is
	// stored: for a spool, written to its file.
	push(b queuedBlock) error

	// peek returns the blocks that follow the skip oldest, whole and in
	// order, as many as fit in maxEvents events (at least one block),
	// without removing them; nothing when there are none. skip is at most
	// the number of blocks the previous peeks returned and pop did not
	// remove: the queue peeks the batch it will deliver (skip 0) and, while
	// that batch is out, the one after it (skip: the first one's blocks).
	// Later pushes must not modify the blocks returned; the memory of
	// blocks returned may be used again once pop removed them, or a later
	// peek with a smaller skip no longer covers them (the queue reads a
	// batch's blocks only until then: it delivers a batch before removing
	// it, and drops a batch taken ahead before peeking it again).
	peek(skip, maxEvents int) ([]queuedBlock, error)

	// pop removes the n oldest blocks, which a peek returned. Blocks peeked
	// after them stay peeked.
	pop(n int) error

	// takeLost returns how many stored events were found unreadable (and
	// dropped from len) since the last call.
	takeLost() int

	// len returns how many events are stored.
	len() int

	// durable reports whether what is left at close is kept for the next
	// store opened on the same place.
	durable() bool

	// close releases the store. A durable store keeps what it holds.
	close() error
}

// flatten returns the events of blocks in order, sharing the block's memory
// when there is only one. Blocks may share memory with other sinks' copies,
// so it never appends to one.
func flatten(blocks []queuedBlock) []Event {
	if len(blocks) == 1 && blocks[0].events != nil {
		return blocks[0].events
	}
	return flattenInto(nil, blocks, 0)
}

// flattenInto returns the events of blocks in order, in dst's memory when
// it has room, else in new memory of at least size events.
func flattenInto(dst []Event, blocks []queuedBlock, size int) []Event {
	n := 0
	for _, b := range blocks {
		n += b.count()
	}
	out := dst[:0]
	if cap(out) < n {
		out = make([]Event, 0, max(n, size))
	}
	for _, b := range blocks {
		out = appendEvents(out, b)
	}
	return out
}

// flattenJSON returns the JSON of the events of blocks in order, as flatten
// returns the events, or nil when a block does not hold its events' JSON.
func flattenJSON(blocks []queuedBlock) [][]byte {
	if len(blocks) == 1 {
		if len(blocks[0].encoded()) != blocks[0].count() {
			return nil
		}
		return blocks[0].encoded()
	}
	json, _ := flattenJSONInto(nil, nil, blocks, 0, false)
	return json
}

// flattenJSONInto is flattenJSON in dst's memory when it has room, else
// in new memory of at least size objects, in one pass over the blocks
// (whose JSON each is a pointer away). With withRuns, it also returns the
// same JSON as runs (see appendRun), in runs' memory, when some block has
// a run; else runs empty.
func flattenJSONInto(dst, runs [][]byte, blocks []queuedBlock, size int, withRuns bool) ([][]byte, [][]byte) {
	n := 0
	for i := range blocks {
		if blocks[i].json == nil { // a block written with Write: nothing to flatten
			return nil, nil
		}
		n += blocks[i].count()
	}
	out := dst[:0]
	if cap(out) < n {
		out = make([][]byte, 0, max(n, size))
	}
	runs = runs[:0]
	joining := false // from the first block with a run on, runs holds the JSON too
	for i := range blocks {
		b := &blocks[i]
		objects := b.encoded()
		if len(objects) != b.count() {
			return nil, nil
		}
		if withRuns && !joining && b.run() != nil {
			runs, joining = append(runs, out...), true
		}
		out = append(out, objects...)
		if joining {
			runs = appendRun(runs, b)
		}
	}
	return out, runs
}
