package spool

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Appending: group commit. An appender encodes its record on its own, then
// adds it to the current group under the mutex. If no write is in progress
// it becomes the group's leader: it takes the group, releases the mutex,
// writes the whole group with one write(2), and wakes the group's members.
// Records that arrive meanwhile form the next group, written by one of
// their appenders once the leader is done. No appender returns before its
// own group was written.

// group is the records collected for one write.
type group struct {
	buf   []byte
	items int
	done  bool  // written, or failed
	err   error // why the group was not written whole
	seq   uint64
	base  int64 // offset of buf[0] in segment seq
	recs  []memRecord
}

// memRecord is what the tail keeps of a record of a group being written.
type memRecord struct {
	rel   int64 // offset in the group
	size  int
	stamp int64
	items [][]byte
	value any
}

// maxSpare bounds the group buffer kept for reuse.
const maxSpare = 4 << 20

var recordPool = sync.Pool{New: func() any { return new([]byte) }}

// Append writes one record holding stamp and items (at least one) and
// returns where it lies. When Append returns nil, the record was written
// with write(2): it survives a crash of the process, and an fsync follows
// within Options.SyncEvery. Concurrent appends share writes; their records
// follow each other in the log in the order they joined a group.
//
// The record, its items (which the caller must not modify afterwards) and
// value stay in memory while they fit in Options.MemoryBytes: Read returns
// them from there, value included, from the moment they are written.
func (l *Log) Append(stamp int64, items [][]byte, value any) (Span, error) {
	if len(items) == 0 {
		return Span{}, errors.New("spool: a record needs at least one item")
	}
	size := recordSize(items)
	if size-recordHeaderSize > MaxRecordPayload {
		return Span{}, fmt.Errorf("spool: a block of %d bytes is larger than a record may be", size)
	}
	rec := recordPool.Get().(*[]byte)
	*rec = appendRecord((*rec)[:0], stamp, items)

	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		recordPool.Put(rec)
		return Span{}, ErrClosed
	}
	g := l.cur
	rel := int64(len(g.buf))
	g.buf = append(g.buf, *rec...)
	g.items += len(items)
	if l.opt.MemoryBytes > 0 {
		g.recs = append(g.recs, memRecord{rel: rel, size: size, stamp: stamp, items: items, value: value})
	}
	recordPool.Put(rec)
	for !g.done {
		if !l.writing && l.cur == g {
			l.lead()
			continue
		}
		l.cond.Wait()
	}
	l.mu.Unlock()
	if g.err != nil {
		return Span{}, g.err
	}
	from := Position{Segment: g.seq, Offset: g.base + rel}
	return Span{From: from, To: Position{Segment: g.seq, Offset: from.Offset + int64(size)}}, nil
}

// lead writes the current group. It is called with mu held, by a member of
// the group, when no other write is in progress; it returns with mu held,
// the group done.
func (l *Log) lead() {
	g := l.cur
	l.cur = &group{buf: l.spare[:0]}
	l.spare = nil
	l.writing = true
	rotate := l.wSize > 0 && l.wSize+int64(len(g.buf)) > l.opt.SegmentSize
	l.mu.Unlock()

	var n int
	var err error
	if rotate {
		err = l.rotate()
	}
	if err == nil {
		n, err = l.w.Write(g.buf)
	}

	l.mu.Lock()
	g.seq, g.base = l.wSeq, l.wSize
	l.wSize += int64(n) // a partial write stays as a torn record that readers skip
	if err == nil {
		l.items += g.items
		l.remember(g)
	} else {
		g.err = fmt.Errorf("spool: %w", err)
	}
	if n > 0 && !l.dirty {
		l.dirty = true
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
	if cap(g.buf) <= maxSpare {
		l.spare = g.buf[:0]
	}
	g.buf = nil
	g.done = true
	l.writing = false
	l.cond.Broadcast()
}

// rotate starts the next segment and seals the writer's. Only a leader
// calls it, without mu.
func (l *Log) rotate() error {
	seq := l.wSeq + 1
	f, err := l.createSegment(seq)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.toSeal = append(l.toSeal, l.w) // the syncer fsyncs and closes it, off the appenders' path
	l.sealed[l.wSeq] = l.wSize
	l.w, l.wSeq, l.wSize = f, seq, 0
	l.segs = append(l.segs, seq)
	l.dirty = true
	select {
	case l.kick <- struct{}{}:
	default:
	}
	l.mu.Unlock()
	return nil
}

// syncLoop is the log's goroutine: after a write made the log dirty it
// waits SyncEvery, then fsyncs. It ends when Close closes done.
func (l *Log) syncLoop() {
	defer close(l.syncerDone)
	for {
		select {
		case <-l.kick:
		case <-l.done:
			return
		}
		l.waitSync()
	}
}

// waitSync waits SyncEvery (or until Close) and fsyncs what was written.
func (l *Log) waitSync() {
	select {
	case <-time.After(l.opt.SyncEvery):
	case <-l.done:
		return // Close syncs
	}
	l.mu.Lock()
	if !l.dirty {
		l.mu.Unlock()
		return
	}
	l.dirty = false
	w, sealed := l.w, l.toSeal
	l.toSeal = nil
	l.mu.Unlock()
	for _, f := range append(sealed, w) { // w stays open: only Close closes it
		if err := f.Sync(); err != nil {
			l.log.WithError(err).Error("notifications: spool: fsync failed")
		}
	}
	for _, f := range sealed {
		_ = f.Close()
	}
	_ = l.cursor.Sync() // closed only after this goroutine ended
}

// remember adds the records of a written group to the tail kept in memory,
// forgetting the oldest past Options.MemoryBytes. Called with mu held.
func (l *Log) remember(g *group) {
	for _, r := range g.recs {
		from := Position{Segment: g.seq, Offset: g.base + r.rel}
		l.tail = append(l.tail, Block{
			Stamp: r.stamp, Items: r.items, Value: r.value,
			Span: Span{From: from, To: Position{Segment: g.seq, Offset: from.Offset + int64(r.size)}},
		})
		l.tailLen += r.size
	}
	g.recs = nil
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

// inMemory returns the record kept in memory that starts at p, and
// otherwise the offset in p's segment where the next one kept starts (or
// -1). Called with mu held.
func (l *Log) inMemory(p Position) (Block, bool, int64) {
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
		return l.tail[i], true, 0
	}
	if i < len(l.tail) && l.tail[i].Span.From.Segment == p.Segment {
		return Block{}, false, l.tail[i].Span.From.Offset
	}
	return Block{}, false, -1
}
