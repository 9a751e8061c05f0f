package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// Reading back: Read scans segments through the page cache, a chunk at a
// time, and returns whole blocks; Ack moves the start and removes the
// segments left wholly behind it.

// readChunk is how much a read asks for at once; a larger record is read
// whole.
const readChunk = 256 << 10

// visitFunc receives one valid record during a scan. take says whether the
// record is consumed (false: the scan stops before it); more whether the
// scan goes on after it.
type visitFunc func(stamp int64, items [][]byte, span Span) (take, more bool)

// scan reads segment seq (open as f) from off up to limit and calls visit
// for each valid record. Damaged bytes are logged and skipped. It returns
// the offset up to which records were consumed or skipped. When buf is not
// nil it is reused for every chunk, so visit must not keep items past the
// chunk; with oneChunk, scan returns after the first chunk it took a
// record from.
func (l *Log) scan(f *os.File, seq uint64, off, limit int64, buf *ReadBuffer, oneChunk bool, visit visitFunc) (int64, error) {
	need := readChunk
	for off < limit {
		want := int(min(limit-off, int64(need)))
		need = readChunk // a record larger than a chunk raises it for one read
		var data []byte
		var slab [][]byte // the items of the chunk's records
		if buf != nil {
			data, slab = buf.chunk(want)
		} else {
			data, slab = newChunk(want)
		}
		n, err := f.ReadAt(data, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return off, err
		}
		if n == 0 {
			return off, nil // the file is shorter than we thought
		}
		if n < want {
			limit = off + int64(n) // the file is shorter than we thought
		}
		data = data[:n]
		partial := off+int64(n) < limit // more of the segment follows data
		took := false
		p := 0
		for p < len(data) {
			at := off + int64(p)
			size, _, err := parseRecordHeader(data[p:])
			if err == nil && int64(size) > limit-at {
				err = fmt.Errorf("%w: %d bytes announced, %d left", errRecordShort, size, limit-at)
			} else if err == nil && p+size > len(data) {
				if p == 0 {
					need = size
				}
				break // read again from the record's start
			} else if errors.Is(err, errRecordShort) && partial {
				break // the chunk cut the header
			}
			if err != nil && data[p] == 0 {
				// Zeros where a record would start: the unused room of a
				// pre-allocated segment, or an append that never finished
				// (and so never returned nil). Not damage.
				p = nonZero(data, p)
				continue
			}
			if err == nil {
				var stamp int64
				var items [][]byte
				if stamp, items, _, err = decodeRecordInto(data[p:p+size], &slab); err == nil {
					take, more := visit(stamp, items, Span{From: Position{seq, at}, To: Position{seq, at + int64(size)}})
					if !take {
						return at, nil
					}
					took = true
					p += size
					if !more {
						return off + int64(p), nil
					}
					continue
				}
			}
			if oneChunk && took {
				return at, nil // the next read skips (and logs) what follows once
			}
			next := nextMagic(data, p+1)
			if next == len(data) && partial {
				next = max(p+1, len(data)-len(recordMagic)+1) // a magic may straddle the chunk's end
			}
			l.logSkip(seq, at, int64(next-p), err)
			p = next
		}
		off += int64(p)
		if oneChunk && took {
			return off, nil
		}
	}
	return off, nil
}

// nonZero returns the offset of the first byte after from that is not
// zero, or len(data).
func nonZero(data []byte, from int) int {
	for from < len(data) && data[from] == 0 {
		from++
	}
	return from
}

// nextMagic returns the offset of the next record magic at or after from,
// or len(data).
func nextMagic(data []byte, from int) int {
	if from >= len(data) {
		return len(data)
	}
	if i := bytes.Index(data[from:], recordMagic[:]); i >= 0 {
		return from + i
	}
	return len(data)
}

// Read returns the blocks from position from on, whole and in order, as
// many as hold at most maxItems items (but at least one block, when there
// is one). A position before Start reads from Start. It returns no blocks
// when nothing was appended after from. Reading from Start past damaged
// bytes moves Start past them, and if items were counted that no longer
// can be read, Len drops to zero (the caller may compare Len before and
// after to count them lost).
func (l *Log) Read(from Position, maxItems int) ([]Block, error) {
	return l.read(nil, from, maxItems)
}

// ReadInto is Read for a reader that copies what it keeps of the items:
// the records it reads from the disk are read into buf, and their items,
// and the slice of blocks returned, are valid until the next ReadInto with
// buf. It reads at most one chunk
// of the disk (of 256 KiB, or one record larger than that), so it may
// return fewer items than maxItems while more follow; it returns no
// blocks only where Read would. Blocks from memory are as Read returns
// them.
func (l *Log) ReadInto(buf *ReadBuffer, from Position, maxItems int) ([]Block, error) {
	return l.read(buf, from, maxItems)
}

func (l *Log) read(buf *ReadBuffer, from Position, maxItems int) ([]Block, error) {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	fromStart := !l.start.Less(from)
	if fromStart {
		from = l.start
	}
	l.mu.Unlock()

	var out []Block
	if buf != nil {
		clear(buf.blocks) // the last read's: holds no block past this one
		out = buf.blocks[:0]
		defer func() { buf.blocks = out }()
	}
	n := 0
	pos := from
	for n < maxItems || len(out) == 0 {
		var added int
		var found bool
		var limit int64
		var next uint64
		var err error
		// Room for a run of records, made before nextAt takes the
		// mutex: the appenders never wait for an allocation of ours.
		out = slices.Grow(out, min(maxItems-n, memoryRun))
		out, added, found, limit, next, err = l.nextAt(pos, out, maxItems-n)
		if err != nil {
			return out, err
		}
		if found {
			if added == 0 {
				break
			}
			n += added
			pos = out[len(out)-1].Span.To
			continue
		}
		if pos.Offset >= limit {
			if next == 0 {
				break
			}
			pos = Position{Segment: next}
			continue
		}
		f, err := l.reader(pos.Segment)
		if err != nil {
			return out, fmt.Errorf("spool: %w", err)
		}
		stopped := false
		before := pos.Offset
		pos.Offset, err = l.scan(f, pos.Segment, pos.Offset, limit, buf, buf != nil, func(stamp int64, items [][]byte, span Span) (bool, bool) {
			if len(out) > 0 && n+len(items) > maxItems {
				stopped = true
				return false, false
			}
			out = append(out, Block{Stamp: stamp, Items: items, Count: len(items), Span: span})
			n += len(items)
			stopped = n >= maxItems
			return true, !stopped
		})
		if err != nil {
			return out, fmt.Errorf("spool: %w", err)
		}
		if stopped || (buf != nil && len(out) > 0) { // ReadInto: one chunk
			break
		}
		if pos.Offset == before && next != 0 { // the file is shorter than recorded
			pos = Position{Segment: next}
		} else if pos.Offset == before {
			break
		}
	}
	if len(out) == 0 && fromStart {
		l.skippedTo(pos)
	}
	return out, nil
}

// skippedTo records that a read from Start found no block before pos.
func (l *Log) skippedTo(pos Position) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.start.Less(pos) {
		l.start = pos
	}
	if items := int(l.items.Load()); items > 0 && !pos.Less(l.end) {
		// What was counted was not found again (the files changed under
		// us): forget it rather than wait for it for ever.
		l.log.WithField("events", items).Error("notifications: spool: events counted but unreadable")
		l.lost += items
		l.items.Store(0)
	}
}

// memoryRun is the most records Read copies from memory under one hold of
// the mutex.
const memoryRun = 128

// nextAt appends to out, when the record at p is kept in memory, it and
// the records kept after it that follow each other in its segment, holding
// at most budget items (at least one record when out is empty), as many as
// out has room for (at least one). Otherwise
// it returns how far p's segment may be read from the disk (up to the next
// record kept in memory, the committed end, or the segment's end) and the
// segment after it (0: none). One lock for a run of records: the reader
// keeps out of the appenders' way.
func (l *Log) nextAt(p Position, out []Block, budget int) (_ []Block, added int, found bool, limit int64, next uint64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.commitLocked() // appenders leave it to the reader (see afterPut)
	i, found, memory := l.inMemory(p)
	if found {
		for j := i; j < len(l.tail); j++ {
			b := l.tail[j]
			if j > i && b.Span.From != l.tail[j-1].Span.To {
				break
			}
			if len(out) > 0 && (added+b.Count > budget || len(out) == cap(out)) {
				break
			}
			out = append(out, b)
			added += b.Count
			if added >= budget {
				break
			}
		}
		return out, added, true, 0, 0, nil
	}
	limit, next, err = l.segmentEnd(p.Segment)
	if memory >= 0 && memory < limit {
		limit = memory
	}
	return out, 0, false, limit, next, err
}

// segmentEnd returns how far segment seq may be read (up to the committed
// end; sealed segments before it whole) and the segment after it (0: none,
// or not yet). Called with mu held.
func (l *Log) segmentEnd(seq uint64) (limit int64, next uint64, err error) {
	if seq > l.end.Segment {
		return 0, 0, nil
	}
	size, ok := l.sealed[seq]
	if seq == l.end.Segment && (!ok || l.end.Offset < size) {
		return l.end.Offset, 0, nil
	}
	if !ok {
		return 0, 0, fmt.Errorf("spool: segment %016x is not in the log", seq)
	}
	for _, s := range l.segs {
		if s > seq {
			return size, s, nil
		}
	}
	return size, 0, nil
}

// reader returns segment seq open for reading. Called with rmu held.
func (l *Log) reader(seq uint64) (*os.File, error) {
	if l.r != nil && l.rSeq == seq {
		return l.r, nil
	}
	if l.r != nil {
		_ = l.r.Close()
		l.r = nil
	}
	f, err := os.Open(l.segmentPath(seq))
	if err != nil {
		return nil, err
	}
	l.r, l.rSeq = f, seq
	return f, nil
}

// Ack records that the blocks before position to, holding items items, were
// consumed: Start moves to to, Len drops by items, the segments wholly
// before to are removed, and the cursor file records to (fsynced with the
// next sync). Positions at or before Start are ignored.
func (l *Log) Ack(to Position, items int) error {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if !l.start.Less(to) {
		l.mu.Unlock()
		return nil
	}
	l.start = to
	l.items.Store(max(l.items.Load()-int64(items), 0))
	for len(l.tail) > 0 && l.tail[0].Span.From.Less(to) {
		l.forgetOldest()
	}
	var gone []uint64
	for len(l.segs) > 1 && l.segs[0] < to.Segment {
		gone = append(gone, l.segs[0])
		delete(l.sealed, l.segs[0])
		l.segs = l.segs[1:]
	}
	l.mu.Unlock()

	var errs []error
	for _, seq := range gone {
		if l.r != nil && l.rSeq == seq {
			_ = l.r.Close()
			l.r = nil
		}
		if err := os.Remove(l.segmentPath(seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	buf := encodeCursor(to)
	_, err := l.cursor.WriteAt(buf[:], 0)
	l.markDirty() // the syncer fsyncs the cursor: a log only drained does too
	if err = errors.Join(append(errs, err)...); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}
