package spool

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Appending: no appender waits for another one's I/O. An appender, under
// the mutex, reserves its record's range at the end of the writer's
// segment and a place in the pending queue. It puts the record into its
// range without the mutex — encoded straight into the mapped file, on
// Linux; written with pwrite from a buffer elsewhere — and then, under the
// mutex again, marks its place done. Records become visible to readers (the committed end, the
// memory tail, Len) in log order, as the pending queue's head is done.
//
// A segment that would overflow is sealed and the next one, created and
// mapped ahead by the syncer goroutine, takes over; only when none is ready
// does an appender create it. The syncer releases a sealed segment (msync,
// unmap, cut to its data, fsync, close) once no put into it is in flight.
// Readers never touch a mapping: they pread the file, whose pages the
// mapping shares, so unmapping races no reader.

// pending is a reserved record whose put may not have finished.
type pending struct {
	span   Span
	items  int
	done   bool
	failed bool
	block  Block // for the memory tail, when Options.MemoryBytes > 0
}

// maxIdlePending bounds the pending queue's capacity kept while it is
// empty. The queue grows past a few entries when an appender is
// descheduled mid-copy while the others go on (at full speed, thousands
// in a scheduler's time slice); keeping that room (at most about 4 MiB)
// spares the next such stall its allocations under the mutex.
const maxIdlePending = 1 << 15

// Append writes one record holding stamp and items (at least one) and
// returns where it lies. When Append returns nil, the record is in the
// kernel's page cache, in its segment file: it survives a crash of the
// process, and an fsync follows within Options.SyncEvery. Concurrent
// appends do not wait for each other's writes; their records follow each
// other in the log in the order they reserved their space.
//
// The record, its items (which the caller must not modify afterwards) and
// value stay in memory while they fit in Options.MemoryBytes: Read returns
// them from there, value included, once they and the records before them
// are written.
func (l *Log) Append(stamp int64, items [][]byte, value any) (Span, error) {
	return l.append(stamp, items, value, true)
}

// AppendCopy is Append for items the caller reuses as soon as it returns
// (an encoding buffer, say): they are written to the file and not kept.
// The memory keeps value alone, when it is not nil: Read returns such a
// block from memory with its Value and Count and without Items, and from
// the disk with its Items as usual. With a nil value the record is read
// from the disk only.
func (l *Log) AppendCopy(stamp int64, items [][]byte, value any) (Span, error) {
	return l.append(stamp, items, value, false)
}

func (l *Log) append(stamp int64, items [][]byte, value any, keepItems bool) (Span, error) {
	if len(items) == 0 {
		return Span{}, errors.New("spool: a record needs at least one item")
	}
	size := recordSize(items)
	if size-recordHeaderSize > MaxRecordPayload {
		return Span{}, fmt.Errorf("spool: a block of %d bytes is larger than a record may be", size)
	}

	l.mu.Lock()
	seg, ticket, err := l.reserve(int64(size))
	if err != nil {
		l.mu.Unlock()
		return Span{}, err
	}
	p := &l.pending[ticket-l.pHead]
	p.items = len(items)
	if l.opt.MemoryBytes > 0 && (keepItems || value != nil) {
		p.block = Block{Stamp: stamp, Value: value, Span: p.span, Count: len(items)}
		if keepItems {
			p.block.Items = items
		}
	}
	span := p.span
	l.mu.Unlock()

	// The record is encoded straight into its range (see putRecord): no
	// buffer of ours, no allocation, in the appender's own time.
	err = seg.putRecord(span.From.Offset, size, stamp, items)

	l.mu.Lock()
	l.finish(ticket, err != nil)
	l.mu.Unlock()
	if err != nil {
		return Span{}, fmt.Errorf("spool: %w", err)
	}
	return span, nil
}

// reserve reserves size bytes at the end of the writer's segment, rotating
// first if they do not fit, and queues them as pending. It returns the
// segment and the pending record's ticket. Called with mu held; it may
// release mu while it waits for a segment.
func (l *Log) reserve(size int64) (*segment, uint64, error) {
	for {
		if l.closed {
			return nil, 0, ErrClosed
		}
		if l.wSize+size <= l.w.size {
			break
		}
		if err := l.rotate(size); err != nil {
			return nil, 0, err
		}
	}
	from := Position{Segment: l.w.seq, Offset: l.wSize}
	l.wSize += size
	ticket := l.pHead + uint64(len(l.pending))
	l.pending = append(l.pending, pending{span: Span{From: from, To: Position{Segment: from.Segment, Offset: l.wSize}}})
	return l.w, ticket, nil
}

// rotate seals the writer's segment and makes the next one the writer's,
// creating it (large enough for need bytes) if the syncer has not; or, when
// a segment is being created, waits for that and returns without rotating.
// Called with mu held; it releases mu while it waits or creates.
func (l *Log) rotate(need int64) error {
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
	}
	l.w.end = l.wSize
	l.toSeal = append(l.toSeal, l.w)
	l.sealed[l.w.seq] = l.wSize
	l.w, l.wSize, l.next = l.next, 0, nil
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

// finish marks the pending record of ticket done and commits the done
// records at the queue's head: the committed end moves past them, they
// count in Len and join the memory tail. A failed record's range stays in
// the segment as bytes readers skip. Called with mu held.
func (l *Log) finish(ticket uint64, failed bool) {
	p := &l.pending[ticket-l.pHead]
	p.done, p.failed = true, failed
	n := 0
	for ; n < len(l.pending) && l.pending[n].done; n++ {
		p := &l.pending[n]
		l.end = p.span.To
		if !p.failed {
			l.items.Add(int64(p.items))
			if p.block.Count > 0 {
				l.remember(p.block)
			}
		}
	}
	if n == 0 {
		return
	}
	rest := copy(l.pending, l.pending[n:])
	clear(l.pending[rest:])
	l.pending = l.pending[:rest]
	if rest == 0 && cap(l.pending) > maxIdlePending {
		l.pending = nil // grown while an appender was descheduled mid-copy: let it go
	}
	l.pHead += uint64(n)
	l.markDirty()
	if l.closed {
		l.cond.Broadcast() // Close waits for the pending records
	}
}

// markDirty records that there is something to fsync and wakes the
// syncer. Called with mu held.
func (l *Log) markDirty() {
	if l.dirty {
		return
	}
	l.dirty = true
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// syncLoop is the log's goroutine. It keeps the next segment ready, and
// after a write made the log dirty it waits SyncEvery, then fsyncs and
// releases the sealed segments. It ends when Close closes done.
func (l *Log) syncLoop() {
	defer close(l.syncerDone)
	var tick <-chan time.Time
	for {
		l.prepareNext()
		select {
		case <-l.kick:
			if tick == nil {
				tick = time.After(l.opt.SyncEvery)
			}
		case <-l.want:
		case <-tick:
			tick = nil
			if l.sync() {
				tick = time.After(l.opt.SyncEvery)
			}
		case <-l.done:
			return // Close syncs
		}
	}
}

// prepareNext creates the next segment if none is ready.
func (l *Log) prepareNext() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.next != nil || l.preparing || l.closed {
		return
	}
	s, err := l.prepareLocked(l.opt.SegmentSize)
	if err != nil {
		// The appender that needs it tries again and returns the error.
		l.log.WithError(err).Error("notifications: spool: creating the next segment failed")
		return
	}
	l.next = s
}

// sync fsyncs what was written and releases the sealed segments no put is
// in flight for. It reports whether a sealed segment is left to release.
func (l *Log) sync() bool {
	l.mu.Lock()
	if !l.dirty {
		l.mu.Unlock()
		return false
	}
	l.dirty = false
	w, wEnd := l.w, l.wSize // only this goroutine, and Close after it ended, release w
	var done []*segment
	for len(l.toSeal) > 0 && (len(l.pending) == 0 || l.toSeal[0].seq < l.pending[0].span.From.Segment) {
		done = append(done, l.toSeal[0])
		l.toSeal = l.toSeal[1:]
	}
	more := len(l.toSeal) > 0
	l.mu.Unlock()
	for _, s := range done {
		if err := s.release(); err != nil {
			l.log.WithError(err).Error("notifications: spool: sealing a segment failed")
		}
	}
	if err := w.sync(wEnd); err != nil {
		l.log.WithError(err).Error("notifications: spool: fsync failed")
	}
	_ = l.cursor.Sync() // closed only after this goroutine ended
	return more
}

// remember adds a committed record to the tail kept in memory, forgetting
// the oldest past Options.MemoryBytes. Called with mu held.
func (l *Log) remember(b Block) {
	if len(l.tail) == cap(l.tail) {
		// The tail slides through its array as the oldest are forgotten:
		// move it back to the array's front rather than grow a new one.
		if len(l.tail) <= cap(l.tailBase)/2 {
			n := copy(l.tailBase, l.tail)
			clear(l.tailBase[n:])
			l.tail = l.tailBase[:n]
		} else {
			l.tailBase = make([]Block, max(2*len(l.tail), 64))
			l.tail = l.tailBase[:copy(l.tailBase, l.tail)]
		}
	}
	l.tail = append(l.tail, b)
	l.tailLen += int(b.Span.To.Offset - b.Span.From.Offset)
	for len(l.tail) > 0 && l.tailLen > l.opt.MemoryBytes {
		l.forgetOldest()
	}
}

// forgetOldest drops the oldest record kept in memory. Called with mu held.
func (l *Log) forgetOldest() {
	l.tailLen -= int(l.tail[0].Span.To.Offset - l.tail[0].Span.From.Offset)
	l.tail[0] = Block{}
	l.tail = l.tail[1:]
}

// inMemory returns the index in the tail of the record kept in memory that
// starts at p, and otherwise the offset in p's segment where the next one
// kept starts (or -1). Called with mu held.
func (l *Log) inMemory(p Position) (int, bool, int64) {
	i, found := slices.BinarySearchFunc(l.tail, p, func(b Block, p Position) int {
		switch {
		case b.Span.From.Less(p):
			return -1
		case p.Less(b.Span.From):
			return 1
		}
		return 0
	})
	if found {
		return i, true, 0
	}
	if i < len(l.tail) && l.tail[i].Span.From.Segment == p.Segment {
		return i, false, l.tail[i].Span.From.Offset
	}
	return i, false, -1
}
