package notifications

import (
	"sync/atomic"
	"time"
)

// Fitting batches in envelopes: a body carries at most maxEnvelopeBytes,
// however many events maxBatch allows, or less once the receiver showed a
// smaller limit of its own (see learnBodyLimit). The queue sizes a batch
// from its events' JSON when it has it (cheap: lengths), and otherwise
// encodes the batch and looks at the body, since measuring events costs as
// much as encoding them. What the bodies measured say fits is remembered,
// so that a backlog of large events is not encoded twice a batch.

// batchOf makes the next batch of the leading blocks that fit in an
// envelope. The events of blocks of JSON read back from a spool are
// decoded only when something needs them (see eventList). It runs outside
// the mutex.
func (q *eventQueue) batchOf(blocks []queuedBlock, more bool) *batch {
	q.seq++
	// A lone block is measured too while a limit holds, so that the limit
	// is learnt again when events shrink (it costs nothing: the block is
	// encoded anyway).
	if q.measured && (len(blocks) > 1 || q.fit.events > 0) && q.wire.measures(blocks) {
		b, tooLarge := q.encodedBatchOf(blocks, more)
		if b == nil && tooLarge { // once more, with what that body says fits
			b, _ = q.encodedBatchOf(q.fit.cut(blocks), true)
		}
		if b != nil {
			return b
		}
	}
	fitted := fitEnvelope(blocks, q.wire, q.fit.bodyLimit())
	return q.makeBatch(fitted, more || len(fitted) < len(blocks))
}

// encodedBatchOf makes the batch of all blocks, held in memory, and
// encodes it: sizing the events first would cost as much as encoding
// them. The size of the body is learnt (see envelopeFit). It returns nil,
// having kept no encoding, when the events cannot be encoded, or when the
// body would exceed the body limit (tooLarge) and there are several
// blocks: a block is never split, and goes alone whatever its size.
func (q *eventQueue) encodedBatchOf(blocks []queuedBlock, more bool) (b *batch, tooLarge bool) {
	b = q.makeBatch(blocks, more)
	enc, err := q.encode(b.part())
	if err == nil {
		if s, ok := enc.(*httpBatch); ok {
			size, limit := s.body.size(), q.fit.bodyLimit()
			q.fit.measured(b.n, size, limit, q.maxBatch)
			if size <= limit || len(blocks) == 1 {
				b.enc = enc
				return b, false
			}
			tooLarge = true
		}
		enc.Release()
	}
	q.recycle(b)
	return nil, tooLarge
}

// envelopeFit is how many events the queue takes from its store for a
// batch (see peekStore): maxBatch, until an encoded body says that fewer
// fit in the body limit. Every body encodedBatchOf measures sets it
// again: to what fits of events of the same average size, less a
// sixteenth for events a little larger, and never fewer than the body's
// own when it fit; as many as maxBatch or more lift it. Without it, a
// backlog of events of over a KiB each would have every batch of maxBatch
// events encoded, found too large, measured and encoded again. It is the
// goroutine's, as batches are (see eventQueue.seq), but for the body limit
// and the pace, which the delivery learns (from a 413, from an answer that
// did not come in time) while the look-ahead makes the next batch.
type envelopeFit struct {
	events int // the most events a batch is taken with; 0: maxBatch

	// maxBody is the most bytes of body a batch of several blocks takes
	// once the receiver refused a larger body (see learnBodyLimit); 0
	// until then: maxEnvelopeBytes.
	maxBody atomic.Int64

	// paced is the most events a batch is taken with since a batch of
	// several events got no answer in time (see unanswered); 0: no such
	// limit. The delivery sets it, the batch maker reads it.
	paced atomic.Int64
}

// unanswered learns that a part of n events, n > 1, got no answer within
// the request's timeout: a receiver that handles events one by one may
// need longer than the timeout for a full batch, and would never answer
// one in time (the same batch sent again and again, its events handled
// again each time). Batches take at most n/2 events from now on, until
// answers come fast again (see answeredIn).
func (f *envelopeFit) unanswered(n int) {
	half := int64(max(n/2, 1))
	if l := f.paced.Load(); l == 0 || half < l {
		f.paced.Store(half)
	}
}

// answeredIn learns that a part of n events was accepted in elapsed, of a
// request timeout of timeout: when a pace limit holds and the part took
// more than half of it, in under a quarter of the timeout, the limit
// doubles; at maxBatch it is lifted.
func (f *envelopeFit) answeredIn(n int, elapsed, timeout time.Duration, maxBatch int) {
	l := f.paced.Load()
	if l == 0 || int64(2*n) <= l || elapsed >= timeout/4 {
		return
	}
	if 2*l >= int64(maxBatch) {
		f.paced.Store(0)
		return
	}
	f.paced.Store(2 * l)
}

// liftPace ends the pace limit: a single event got no answer in time, so
// the delay was not the batches' size (an outage, say).
func (f *envelopeFit) liftPace() { f.paced.Store(0) }

// learntBodyLimit returns the body limit learnt from the receiver (see
// learnBodyLimit), or 0 when none was.
func (f *envelopeFit) learntBodyLimit() int64 { return f.maxBody.Load() }

// beyondBodyLimit reports whether a body of size bytes, which the
// receiver refused as too large, is larger than the body limit learnt, or
// no limit was learnt yet: else the refusal was of its content.
func (f *envelopeFit) beyondBodyLimit(size int) bool {
	l := f.learntBodyLimit()
	return l == 0 || int64(size) > l
}

// bodyLimit returns the most bytes of body a batch of several blocks takes.
func (f *envelopeFit) bodyLimit() int {
	if l := f.learntBodyLimit(); l > 0 {
		return int(l)
	}
	return maxEnvelopeBytes
}

// learnBodyLimit lowers the body limit to n bytes, when that is lower:
// the delivery (its one caller) calls it when the receiver answered 413
// Content Too Large to a body of several events and then accepted both
// halves of it, of about n bytes each (a refusal of an event's content,
// which some receivers answer with 413 too, leaves a half refused; and a
// 413 to a body within the limit learnt is taken for one). It holds for
// the life of the endpoint: a receiver's limit is its configuration.
func (f *envelopeFit) learnBodyLimit(n int) {
	if l := f.maxBody.Load(); n > 0 && (l == 0 || int64(n) < l) {
		f.maxBody.Store(int64(n))
	}
}

// limit returns how many events a batch is taken with, at most maxBatch.
func (f *envelopeFit) limit(maxBatch int) int {
	n := maxBatch
	if f.events > 0 {
		n = min(n, f.events)
	}
	if paced := int(f.paced.Load()); paced > 0 {
		n = min(n, paced)
	}
	return n
}

// measured learns from a body of n events that took size bytes, of a
// body limit of limit bytes.
func (f *envelopeFit) measured(n, size, limit, maxBatch int) {
	fit := int(int64(n) * int64(limit) / int64(max(size, 1)) * 15 / 16)
	if size <= limit {
		fit = max(fit, n) // what just fit is never cut
	}
	if fit >= maxBatch {
		f.events = 0
	} else {
		f.events = max(fit, 1)
	}
}

// cut returns the leading blocks that hold at most f.events events, at
// least one block.
func (f *envelopeFit) cut(blocks []queuedBlock) []queuedBlock {
	if f.events == 0 {
		return blocks
	}
	n := 0
	for i := range blocks {
		n += blocks[i].count()
		if n > f.events && i > 0 {
			return blocks[:i]
		}
	}
	return blocks
}

// fitEnvelope returns the leading blocks whose events take at most limit bytes
// of body in encoding, at least one block. A block held as its JSON alone
// (read back from a spool, or see eventQueue.jsonAlone) is measured by its
// JSON when encoding splices it; otherwise its events are decoded, in blocks,
// once. It runs outside the mutex.
func fitEnvelope(blocks []queuedBlock, encoding bodyEncoding, limit int) []queuedBlock {
	if len(blocks) == 1 {
		return blocks
	}
	size := encoding.overhead
	for i := range blocks {
		if blocks[i].events == nil && !encoding.spliced {
			blocks[i].events = appendEvents(nil, blocks[i])
		}
		b := blocks[i]
		json := b.encoded()
		if len(json) != b.count() {
			json = nil
		}
		size += encoding.bodySize(b.events, json) - encoding.overhead
		if size > limit && i > 0 {
			return blocks[:i]
		}
	}
	return blocks
}
