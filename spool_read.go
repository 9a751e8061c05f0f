package notifications

import (
	"errors"
	"io"
	"os"
	"slices"
)

// Reading the spool back: peek reads the next batch from the segments,
// through the page cache, and pop records that it was delivered.

func (s *spool) peek(skip, maxEvents int) ([]queuedBlock, error) {
	skip = min(skip, len(s.peeked))
	s.peeked = s.peeked[:skip]
	pos, skipped := s.read, 0
	for _, b := range s.peeked {
		pos, skipped = b.end, skipped+b.events
	}
	var blocks []queuedBlock
	n := 0
	for s.events-skipped > n {
		b, next, err := s.readAt(pos)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(blocks) > 0 && n+len(b.events) > maxEvents {
			break
		}
		blocks = append(blocks, b)
		s.peeked = append(s.peeked, peekedBlock{end: next, events: len(b.events)})
		n += len(b.events)
		pos = next
	}
	if len(blocks) == 0 && skip == 0 && s.events > 0 {
		// What was counted at start was not found again (the file changed
		// under us): forget it rather than wait for it for ever.
		s.log.WithField("events", s.events).Error("notifications: spool: events counted but unreadable")
		s.events = 0
	}
	return blocks, nil
}

// readAt reads the first valid record at or after p and returns its block
// and the position after it. Damaged bytes before it are logged and, when no
// block of the current peek precedes them, skipped for good. It returns
// io.EOF when no record follows p.
func (s *spool) readAt(p position) (queuedBlock, position, error) {
	for {
		limit := s.segmentLimit(p.seq)
		if p.off >= limit {
			i := slices.Index(s.segs, p.seq)
			if i < 0 || i == len(s.segs)-1 {
				return queuedBlock{}, p, io.EOF
			}
			p = position{seq: s.segs[i+1]}
			continue
		}
		data, err := s.readSegment(p.seq, p.off, limit)
		if err != nil {
			return queuedBlock{}, p, err
		}
		b, size, err := decodeRecord(data)
		if err == nil {
			return b, position{seq: p.seq, off: p.off + int64(size)}, nil
		}
		if errors.Is(err, errRecordShort) && len(data) < recordHeaderSize {
			data = nil // a torn header: nothing to search
		}
		skip := int64(max(nextMagic(data, 1), 1))
		if len(data) == 0 {
			skip = limit - p.off
		}
		s.logSkip(p.seq, p.off, skip, err)
		p.off += skip
		if len(s.peeked) == 0 {
			s.read = p
		}
	}
}

// segmentLimit is how far segment seq may be read: the writer's segment up
// to what was written, the others to their end.
func (s *spool) segmentLimit(seq uint64) int64 {
	if seq == s.segs[len(s.segs)-1] {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.wSize
	}
	if fi, err := os.Stat(s.segmentPath(seq)); err == nil {
		return fi.Size()
	}
	return 0
}

// readSegment returns bytes of segment seq from off: the whole record when
// its header is readable and fits before limit, else everything up to limit
// (so that a damaged record can be skipped).
func (s *spool) readSegment(seq uint64, off, limit int64) ([]byte, error) {
	if s.r == nil || s.rSeq != seq {
		if s.r != nil {
			_ = s.r.Close()
		}
		f, err := os.Open(s.segmentPath(seq))
		if err != nil {
			s.r = nil
			return nil, err
		}
		s.r, s.rSeq = f, seq
	}
	var header [recordHeaderSize]byte
	want := limit - off
	if n, _ := s.r.ReadAt(header[:], off); n == recordHeaderSize {
		if size, _, err := parseRecordHeader(header[:]); err == nil && int64(size) <= want {
			want = int64(size)
		}
	}
	buf := make([]byte, want)
	n, err := s.r.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:n], nil
}

func (s *spool) pop(n int) error {
	if n == 0 {
		return nil
	}
	for _, b := range s.peeked[:n] {
		s.events -= b.events
	}
	s.read = s.peeked[n-1].end
	s.peeked = append(s.peeked[:0], s.peeked[n:]...)
	for len(s.segs) > 1 && s.segs[0] < s.read.seq {
		if s.r != nil && s.rSeq == s.segs[0] {
			_ = s.r.Close()
			s.r = nil
		}
		if err := os.Remove(s.segmentPath(s.segs[0])); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		s.segs = s.segs[1:]
	}
	return s.writeCursor(s.read)
}
