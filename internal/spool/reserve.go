package spool

import (
	"fmt"
	"sync/atomic"
)

// The reservation word packs what an appender reserves with: the next
// ticket (its low 24 bits), the writer segment's epoch (how many
// rotations, modulo 256: a word from before a rotation cannot match one
// after short of 2^24 reservations in between), whether the log is
// closed, and the bytes reserved in the writer's segment. A word and the
// segment of its epoch (wsegs) together say where a record goes; the
// compare-and-swap that moves the word on fails if anything changed since
// it was read.
type reservation uint64

const (
	offsetBits = 31
	closedBit  = 1 << offsetBits
	epochShift = offsetBits + 1
	ticketBits = 24
	ticketMask = 1<<ticketBits - 1
	// maxSegmentSize bounds a segment so that its offsets fit the word.
	maxSegmentSize = 1 << 30
)

func (w reservation) offset() int64  { return int64(w & (closedBit - 1)) }
func (w reservation) closed() bool   { return w&closedBit != 0 }
func (w reservation) epoch() uint8   { return uint8(w >> epochShift) }
func (w reservation) ticket() uint32 { return uint32(w>>(epochShift+8)) & ticketMask }

func makeReservation(ticket uint32, epoch uint8, offset int64) reservation {
	return reservation(uint64(ticket&ticketMask)<<(epochShift+8) | uint64(epoch)<<epochShift | uint64(offset))
}

// inFlight returns how many tickets w has reserved past committed, when
// committed was loaded after w (or under mu): at most w's ticket, unless
// the word moved on since, when the count is wrong (huge, or short by a
// multiple of 2^24 for a reader stalled that long) but the word's
// compare-and-swap fails anyway.
func inFlight(w reservation, committed uint64) uint64 {
	return uint64((w.ticket() - uint32(committed)) & ticketMask)
}

// ringSize is how many records may be reserved past the committed ticket;
// a power of two.
const ringSize = 1 << 11

// slot is a reserved record in the ring, at its ticket modulo ringSize.
type slot struct {
	done   atomic.Uint64 // its ticket + 1 once its put returned
	block  Block         // its span and count; the rest too when keep
	keep   bool          // the memory tail keeps the block (Options.MemoryBytes > 0)
	failed bool
}

// reserve reserves size bytes at the end of the writer's segment and a
// ticket, rotating first if they do not fit. It returns the segment, the
// ticket and the record's span.
func (l *Log) reserve(size int64) (*segment, uint64, Span, error) {
	for {
		w := reservation(l.res.Load())
		committed := l.committed.Load() // after the word: see inFlight
		seg := l.wsegs[w.epoch()%uint8(len(l.wsegs))].Load()
		ahead := inFlight(w, committed)
		if w.closed() || w.offset()+size > seg.size || ahead >= ringSize {
			l.mu.Lock()
			err := l.reserveSlow(size)
			l.mu.Unlock()
			if err != nil {
				return nil, 0, Span{}, err
			}
			continue
		}
		next := makeReservation(w.ticket()+1, w.epoch(), w.offset()+size)
		if l.res.CompareAndSwap(uint64(w), uint64(next)) {
			from := Position{Segment: seg.seq, Offset: w.offset()}
			return seg, committed + ahead, Span{From: from, To: Position{Segment: seg.seq, Offset: from.Offset + size}}, nil
		}
	}
}

// reserveSlow makes room for a reservation of size bytes: it returns once
// the ring has a free slot and the writer's segment room for size bytes,
// rotating if need be, or an error. Called with mu held; it may release
// mu while it waits.
func (l *Log) reserveSlow(size int64) error {
	for {
		// Committed first: then, under mu, it is at most the word's ticket.
		l.commitLocked()
		w := reservation(l.res.Load())
		if w.closed() {
			return ErrClosed
		}
		if inFlight(w, l.committed.Load()) >= ringSize {
			l.waiting.Add(1)
			// Looked at again once the appenders see the waiter: one
			// done before that commits nothing for it (see afterPut).
			l.commitLocked()
			if inFlight(w, l.committed.Load()) >= ringSize {
				l.cond.Wait()
			}
			l.waiting.Add(-1)
			continue
		}
		if w.offset()+size <= l.w.size {
			return nil
		}
		if err := l.rotate(w, size); err != nil {
			return err
		}
	}
}

// rotate seals the writer's segment where w says its reservations end and
// makes the next one the writer's, creating it (large enough for need
// bytes) if the syncer has not; or, when a segment is being created, waits
// for that and returns without rotating. It also returns without rotating
// when w is no longer the word: the caller looks again. Called with mu
// held; it releases mu while it waits or creates.
func (l *Log) rotate(w reservation, need int64) error {
	if l.next == nil {
		if l.preparing {
			// Once it is made, another appender may have rotated already:
			// the caller checks again whether its record fits.
			l.cond.Wait()
			return nil
		}
		s, err := l.prepareLocked(max(l.opt.SegmentSize, need))
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		l.next = s
		return nil // the word may have moved on meanwhile
	}
	epoch := w.epoch() + 1
	l.wsegs[epoch%uint8(len(l.wsegs))].Store(l.next) // before the word says so
	if !l.res.CompareAndSwap(uint64(w), uint64(makeReservation(w.ticket(), epoch, 0))) {
		return nil // an appender reserved meanwhile
	}
	l.w.end = w.offset()
	c := l.committed.Load()
	l.w.sealedAt = c + inFlight(w, c) // w's next ticket, the first past the segment
	l.toSeal = append(l.toSeal, l.w)
	l.sealed[l.w.seq] = w.offset()
	l.w, l.next = l.next, nil
	l.segs = append(l.segs, l.w.seq)
	l.markDirty()
	select { // the syncer prepares the next one
	case l.want <- struct{}{}:
	default:
	}
	return nil
}

// prepareLocked creates the segment after the writer's, of size bytes.
// Called with mu held and no creation under way; it releases mu meanwhile,
// and wakes those who waited for it.
func (l *Log) prepareLocked(size int64) (*segment, error) {
	l.preparing = true
	seq := l.w.seq + 1
	l.mu.Unlock()
	s, err := l.createSegment(seq, size)
	l.mu.Lock()
	l.preparing = false
	l.cond.Broadcast()
	return s, err
}

// commit commits the done records from the committed ticket on, if there
// are any (committable), unless another appender is committing: the
// committing flag elects one, which
// takes the mutex (waiting, if need be, for a reader, the syncer or Close)
// and, once it dropped the flag, looks again at the next ticket, so that
// a record done while it committed is never left behind: the appender of
// that record stored its done flag before it found the flag taken.
func (l *Log) commit() {
	for l.committable() && l.committing.CompareAndSwap(false, true) {
		l.mu.Lock()
		l.commitLocked()
		l.mu.Unlock()
		l.committing.Store(false)
	}
}

// committable reports whether the record at the committed ticket is done:
// there is something to commit, or a commit is under way. The committed
// ticket is read again after its slot: a slot is used again only once
// the committed ticket moved past it.
func (l *Log) committable() bool {
	for {
		c := l.committed.Load()
		done := l.ring[c%ringSize].done.Load() == c+1
		if l.committed.Load() == c {
			return done
		}
	}
}

// commitLocked commits the done records at the ring's committed ticket:
// the committed end moves past them, they count in Len and join the
// memory tail. A failed record's range stays in the segment as bytes
// readers skip. Called with mu held.
func (l *Log) commitLocked() {
	start := l.committed.Load()
	c := start
	for {
		sl := &l.ring[c%ringSize]
		if sl.done.Load() != c+1 {
			break
		}
		l.end = sl.block.Span.To
		if !sl.failed {
			l.items.Add(int64(sl.block.Count))
			if sl.keep {
				l.remember(sl.block)
			}
		}
		sl.block = Block{}
		c++
	}
	if c == start {
		return
	}
	l.committed.Store(c) // the appenders marked the log dirty (afterPut)
	if l.waiting.Load() > 0 {
		l.cond.Broadcast() // Close waits for the pending records; appenders for room
	}
}

// pendingLocked reports whether a reserved record is not committed yet.
// Called with mu held.
func (l *Log) pendingLocked() bool {
	return inFlight(reservation(l.res.Load()), l.committed.Load()) != 0
}
