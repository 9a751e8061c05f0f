package spool

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Appending: no appender waits for another one's write, and an appender
// takes no lock in the common case. An appender reserves its record's
// range at the end of the writer's segment, and a ticket, with one
// compare-and-swap of the reservation word (see reserve.go); it puts the
// record into its range — encoded straight into the mapped file, on Linux;
// written with pwrite from a buffer elsewhere — and marks its ticket's
// slot in the ring of pending records done. Committing makes records
// visible to readers (the committed end, the memory tail, Len) in ticket
// order, which is log order, as the slots from the committed ticket on
// are done; it is left to whoever needs them: a reader (nextAt), Len, the
// syncer before it syncs, and Close commit under the mutex what is done.
// An appender commits only when someone waits for it (Close, appenders
// waiting for room in the ring) or half the ring waits for a commit (see
// afterPut); one that finds another one committing leaves its record to
// it: a committer looks again at the next slot when it is done, so a
// record done while it committed is never left behind.
//
// The mutex is taken by an appender only to rotate (a record that does not
// fit: the segment is sealed where the word says its reservations end, and
// the next one, created and mapped ahead by the syncer goroutine, takes
// over; only when none is ready does an appender create it), when the ring
// is full (an appender descheduled mid-put holds the committed ticket back
// while the others go on: they wait for it), and to commit as above. The
// syncer releases a sealed segment (msync, unmap, cut to its data, fsync,
// close) once every ticket reserved in it was committed.
// Readers never touch a mapping: they pread the file, whose pages the
// mapping shares, so unmapping races no reader.

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
	if failed := l.syncFailed.Load(); failed != nil {
		return Span{}, fmt.Errorf("%w: %w", ErrSyncFailed, *failed)
	}
	size := recordSize(items)
	if size-recordHeaderSize > MaxRecordPayload {
		return Span{}, fmt.Errorf("spool: a block of %d bytes is larger than a record may be", size)
	}
	seg, ticket, span, err := l.reserve(int64(size))
	if err != nil {
		return Span{}, err
	}
	sl := &l.ring[ticket%ringSize]
	sl.block = Block{Span: span, Count: len(items)}
	sl.keep = l.opt.MemoryBytes > 0 && (keepItems || value != nil)
	if sl.keep {
		sl.block.Stamp, sl.block.Value = stamp, value
		if keepItems {
			sl.block.Items = items
		}
	}

	// The record is encoded straight into its range (see putRecord): no
	// buffer of ours, no allocation, in the appender's own time.
	if l.beforePut != nil {
		l.beforePut(ticket)
	}
	err = seg.putRecord(span.From.Offset, size, stamp, items)
	sl.failed = err != nil
	sl.done.Store(ticket + 1)
	l.afterPut(ticket)
	if err != nil {
		return Span{}, fmt.Errorf("spool: %w", err)
	}
	return span, nil
}

// afterPut is what an appender does once its record, of ticket ticket, is
// done: it leaves the commit to whoever needs the record next (a reader,
// Len, the syncer), unless someone waits for commits (Close, appenders
// waiting for room in the ring: they count themselves in waiting before
// they look at the ring, so that one of the two sees the other) or the
// records waiting for a commit fill half the ring; and it wakes the syncer
// when nothing has since it last synced, so that the record is synced
// within SyncEvery. An appender thus takes no lock, and in the common case
// writes no memory that another appender writes too but the reservation
// word (the unsynced flag once a sync, the committing flag when it
// commits).
func (l *Log) afterPut(ticket uint64) {
	if l.waiting.Load() > 0 || ticket >= l.committed.Load()+ringSize/2 {
		l.commit()
	}
	l.markDirty()
}

// markDirty records that there is something to sync and wakes the syncer,
// unless that was done since it last synced (a load, in the common case).
func (l *Log) markDirty() {
	if !l.unsynced.Load() && l.unsynced.CompareAndSwap(false, true) {
		select {
		case l.kick <- struct{}{}:
		default:
		}
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

// sync commits what was written, fsyncs it and releases the sealed
// segments whose tickets are all committed. It reports whether a sealed
// segment is left to release.
func (l *Log) sync() bool {
	// Cleared before the records are committed and the end is read: an
	// appender done after this wakes the syncer again. An appender that
	// woke it is synced even when its record cannot be committed yet (an
	// earlier one is still being written): the end read below covers it.
	if !l.unsynced.Swap(false) {
		return false
	}
	l.mu.Lock()
	l.commitLocked()
	// Only this goroutine, and Close after it ended, release w; what is
	// reserved in it may be past what is written yet (a later sync has it).
	w, wEnd := l.w, reservation(l.res.Load()).offset()
	var done []*segment
	for len(l.toSeal) > 0 && l.toSeal[0].sealedAt <= l.committed.Load() {
		done = append(done, l.toSeal[0])
		l.toSeal = l.toSeal[1:]
	}
	more := len(l.toSeal) > 0
	l.mu.Unlock()
	for _, s := range done {
		if err := s.release(); err != nil {
			l.log.WithError(err).Error("notifications: spool: sealing a segment failed")
			l.failSync(err)
		}
	}
	if err := l.opt.syncSegment(w, wEnd); err != nil {
		l.log.WithError(err).Error("notifications: spool: fsync failed; the spool takes no more events")
		l.failSync(err)
	}
	_ = l.cursor.Sync() // closed only after this goroutine ended
	return more
}

// failSync records the first failed sync: Append refuses from then on.
func (l *Log) failSync(err error) {
	l.syncFailed.CompareAndSwap(nil, &err)
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
