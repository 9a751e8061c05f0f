package notifications

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Delivering one batch: attempts until every event is accepted or given up,
// or the queue's context ends. The outcome of each event is reported as
// soon as it is known; what the context cut short is returned.

// part is a run of a batch's events sent together: the whole batch or,
// after the destination refused a part of several events or did not
// answer it in time, one of its halves; or one of the pieces of a part
// larger than the receiver takes (see split and envelopeFit.unanswered).
type part struct {
	events   []Event
	lazy     *batch   // when set, the batch whose events these are, not yet flattened
	json     [][]byte // each event's JSON object, when known; else nil
	runs     [][]byte // json as runs (see appendRun), for a whole batch; else nil
	enc      Encoded  // the encoder's form of events, once encoded
	attempts int      // attempts that carried these events so far

	// suspect is set when the destination refused the part's parent and
	// accepted the half before this one: this half holds what was refused,
	// so it is split without being sent whole.
	suspect bool
	sibling *part // the half after this one, when this is a first half

	// tooLarge, for a half of a part refused as too large, counts the
	// halves accepted: both say what the receiver takes (learnBodyLimit).
	tooLarge *tooLargeSplit
}

// tooLargeSplit is a part the receiver refused as too large, split in two.
type tooLargeSplit struct {
	size     int // the refused part's body, in bytes
	accepted int // halves accepted so far
}

func (p *part) release() {
	if p.enc != nil {
		p.enc.Release()
		p.enc = nil
	}
}

// eventList returns the events of p, flattening them from its batch the
// first time.
func (p *part) eventList() []Event {
	if p.lazy != nil {
		p.events = p.lazy.eventList()
		p.lazy = nil
	}
	return p.events
}

// reported returns the events of p for the outcomes to report, or nil when
// nothing reads them (see outcomes.readsEvents): a part held as its JSON
// alone is not decoded for nobody.
func (q *eventQueue) reported(p *part) []Event {
	if !q.out.readsEvents() {
		return nil
	}
	return p.eventList()
}

// count returns how many events p holds.
func (p *part) count() int {
	if p.lazy != nil {
		return p.lazy.n
	}
	return len(p.events)
}

// halves splits p in two parts, the first the second's sibling (see
// suspect), keeping its attempt count.
func (p *part) halves() []*part {
	h := p.pieces(2)
	h[0].sibling = h[1]
	return h
}

// pieces splits p, of two events or more, in n parts of about as many
// events each (at least one event each), keeping its attempt count.
func (p *part) pieces(n int) []*part {
	p.eventList()
	n = min(n, len(p.events))
	out := make([]*part, 0, n)
	for i := range n {
		from, to := i*len(p.events)/n, (i+1)*len(p.events)/n
		piece := &part{events: p.events[from:to], attempts: p.attempts}
		if p.json != nil {
			piece.json = p.json[from:to]
		}
		out = append(out, piece)
	}
	return out
}

// piecesFor returns in how many parts amount goes when each may carry
// per at most: two at least, a part being cut because it carries too much.
func piecesFor(amount, per int64) int {
	return max(2, int((amount+per-1)/per))
}

// split splits p, which the destination refused (r), into parts sent on
// their own: halves (see suspect); when the receiver refused p as too
// large, halves that both count in one tooLargeSplit, or, once its body
// limit is known, as many parts as fit in it.
func (q *eventQueue) split(p *part, r result) []*part {
	if r.tooLargeSize == 0 {
		return p.halves()
	}
	if limit := q.fit.learntBodyLimit(); limit > 0 {
		return p.pieces(piecesFor(int64(r.tooLargeSize), limit))
	}
	h := p.pieces(2)
	h[0].tooLarge = &tooLargeSplit{size: r.tooLargeSize}
	h[1].tooLarge = h[0].tooLarge
	return h
}

// deliver sends the events of b until each is accepted or given up, and
// returns the parts of those neither, in order, with the attempts that
// carried them, when ctx ended first. A part the
// destination refuses (Reject) is split in halves (see split), each sent on its own, so
// that one refused event does not hold the others back; a single event
// refused threshold times is given up. A part of more events than the
// endpoint's pace allows (see envelopeFit.unanswered) is cut to it before
// it is sent. Events older than maxAge are given up before any attempt.
//
// Parts are finished in the order of their events (work is taken from the
// front, and what a part becomes goes back there): deliver counts in
// b.finished the events at the head of b that are finished, as long as
// that is sure, for commit.
func (q *eventQueue) deliver(ctx context.Context, b *batch) []*part {
	work := []*part{b.part()} // which owns b's encoding now
	inOrder := true           // every event before work[0] is finished
	finish := func(p *part) {
		if inOrder {
			b.finished += p.count()
		}
	}
	for len(work) > 0 {
		p := work[0]
		work = work[1:]
		if p.suspect && p.count() > 1 {
			p.release()
			work = append(p.halves(), work...)
			continue
		}
		if paced := q.fit.paced.Load(); paced > 0 && int64(p.count()) > paced {
			p.release()
			work = append(p.pieces(piecesFor(int64(p.count()), paced)), work...)
			continue
		}
		r := q.retry(ctx, p)
		p.release()
		switch r.verdict {
		case accepted:
			var events []Event
			if q.out.onFinished != nil {
				events = p.eventList()
			}
			q.out.delivered(p.count(), events, p.attempts, b.written)
			finish(p)
			if p.sibling != nil {
				p.sibling.suspect = true
			}
			if s := p.tooLarge; s != nil {
				if s.accepted++; s.accepted == 2 {
					q.fit.learnBodyLimit(s.size / 2)
				}
			}
			q.fit.answeredIn(p.count(), r.elapsed, q.timeout, q.maxBatch)
		case unanswered: // cut to the pace, at the top of the loop
			q.fit.unanswered(p.count())
			work = append([]*part{p}, work...)
		case refused:
			if p.count() > 1 {
				work = append(q.split(p, r), work...)
				continue
			}
			q.out.givenUpCounted(p.count(), q.reported(p), p.attempts, r.err)
			finish(p)
		case expired:
			kept, old := q.expired(p.eventList())
			q.out.givenUp(old, p.attempts, ErrEventTooOld)
			if len(kept) > 0 {
				work = append([]*part{{events: kept, attempts: p.attempts, sibling: p.sibling}}, work...)
				inOrder = false // the old events need not all come before the kept ones
			} else {
				finish(p)
			}
		case cancelled:
			for _, w := range work {
				w.release()
			}
			return append([]*part{p}, work...)
		}
	}
	return nil
}

// verdict is how the attempts of a part ended.
type verdict int

const (
	accepted   verdict = iota // the destination took every event of the part
	refused                   // the destination refused the part for good
	expired                   // some events passed maxAge before the next attempt
	cancelled                 // ctx ended before the part was accepted or refused
	unanswered                // no answer came in time to a part of several events: it is split
)

// result is what retry returns: the verdict and, for refused, the reason
// and, when the receiver refused the part as too large (413) unless a body
// limit learnt already holds the part's body, the size of that body; else 0.
type result struct {
	verdict      verdict
	err          error
	tooLargeSize int
	elapsed      time.Duration // for accepted: how long the attempt took
}

// retry attempts p until the destination accepts or refuses it, some of its
// events expire, or ctx ends: the Do loop of go-retryablehttp, returning a
// value. An attempt that may succeed later (Retry) counts as one more
// consecutive failure of the endpoint, across batches, and the next attempt
// waits as the backoff policy says, or as long as the destination asked
// with Retry-After; a part of several events that got no answer within
// the HTTP deliverer's timeout is, after that wait, returned unanswered,
// for deliver to send it in smaller parts (a single event's timeout lifts
// the pace: the delay was not the batch's size). A refusal is an answer:
// it resets the count and the next attempt does not wait, since the
// destination is up. A part of one event is refused after threshold
// refusals; a part of several at the first, for deliver to split it.
func (q *eventQueue) retry(ctx context.Context, p *part) result {
	refusals := 0
	for {
		if q.maxAge > 0 {
			if _, old := q.expired(p.eventList()); len(old) > 0 {
				return result{verdict: expired}
			}
		}
		start := time.Now()
		d, ok := q.attempt(ctx, p)
		if !ok {
			return result{verdict: cancelled}
		}
		switch d.Outcome {
		case Accepted:
			q.failures = 0
			return result{verdict: accepted, elapsed: time.Since(start)}
		case Reject:
			q.failures = 0
			if refusals++; p.count() > 1 || refusals >= q.threshold {
				r := result{verdict: refused, err: &DeliveryError{Endpoint: q.name, Delivery: d}}
				if b, ok := p.enc.(*httpBatch); ok && errors.Is(d.Err, errBodyTooLarge) {
					// A 413 to a body within the limit learnt already is
					// taken for a refusal of its content.
					if size := b.body.size(); q.fit.beyondBodyLimit(size) {
						r.tooLargeSize = size
					}
				}
				return r
			}
		default:
			q.failures++
			timedOut := errors.Is(d.Err, errNoAnswer)
			if timedOut && p.count() == 1 {
				q.fit.liftPace()
			}
			wait := max(q.policy.Delay(q.failures), d.RetryAfter)
			if !sleep(ctx, wait) {
				return result{verdict: cancelled}
			}
			if timedOut && p.count() > 1 {
				return result{verdict: unanswered}
			}
		}
	}
}

// attempt makes one delivery attempt of p, encoding it first when the
// deliverer encodes and p is not encoded yet, and counts it. It returns
// false, without counting, when ctx ended before or during the attempt
// and the attempt was not accepted: that is not the destination's answer.
func (q *eventQueue) attempt(ctx context.Context, p *part) (Delivery, bool) {
	if ctx.Err() != nil {
		return Delivery{}, false
	}
	var d Delivery
	switch {
	case q.encoder == nil:
		d = q.deliverer.Deliver(ctx, p.eventList())
	case p.enc == nil:
		enc, err := q.encode(p)
		if err != nil {
			d = Delivery{Outcome: Reject, Err: fmt.Errorf("encoding: %w", err)}
			break
		}
		p.enc = enc
		fallthrough
	default:
		d = q.encoder.DeliverEncoded(ctx, p.enc)
	}
	if d.Outcome != Accepted && ctx.Err() != nil {
		return d, false
	}
	p.attempts++
	q.metrics.attempted(p.count(), d)
	q.failLog.attempted(p.count(), d)
	return d, true
}

// expired returns the events of events that are not older than maxAge and
// those that are, each in order. Events without a timestamp never expire.
func (q *eventQueue) expired(events []Event) (kept, old []Event) {
	cutoff := time.Now().Add(-q.maxAge)
	for i, e := range events {
		if e.Timestamp.IsZero() || !e.Timestamp.Before(cutoff) {
			if old != nil {
				kept = append(kept, e)
			}
			continue
		}
		if old == nil {
			kept = append(make([]Event, 0, len(events)), events[:i]...)
		}
		old = append(old, e)
	}
	if old == nil {
		return events, nil
	}
	return kept, old
}

// sleep waits for d and reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
