package spool

// Recovery, at Open: the segments a previous run left, from the cursor on,
// scanned record by record, counted, and cut where their last valid
// record ends.

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// recover finds the segments, drops those the cursor says were consumed,
// and counts the items of the rest.
func (l *Log) recover() error {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		// Only names this package writes: a stray "bad.seg" or "1.seg"
		// is not a segment (one was taken for segment 0xbad, which Open
		// then failed to read, or for segment 1 twice).
		if seq, ok := strings.CutSuffix(e.Name(), segmentSuffix); ok && len(seq) == 16 && e.Type().IsRegular() {
			if n, err := strconv.ParseUint(seq, 16, 64); err == nil {
				l.segs = append(l.segs, n)
			}
		}
	}
	slices.Sort(l.segs)
	l.start = l.readCursor()
	if !slices.Contains(l.segs, l.start.Segment) {
		// No cursor, or a stale one (its segment is gone: left by a crash
		// while an empty log was being cleared): trust the segments.
		l.start = Position{}
		if len(l.segs) > 0 {
			l.start.Segment = l.segs[0]
		}
	}
	for len(l.segs) > 0 && l.segs[0] < l.start.Segment {
		if err := os.Remove(l.segmentPath(l.segs[0])); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		l.segs = l.segs[1:]
	}
	var buf ReadBuffer
	for i, seq := range l.segs {
		from := int64(0)
		if i == 0 {
			from = l.start.Offset
		}
		size, n, err := l.recoverSegment(seq, from, &buf)
		if err != nil {
			return err
		}
		l.sealed[seq] = size
		l.items.Add(int64(n))
	}
	if n := l.items.Load(); n > 0 {
		l.log.WithField("events", n).Info("notifications: spool: delivering events left by a previous run")
	}
	return nil
}

// recoverSegment returns where the data of segment seq ends (after its
// last valid record, or at from) and the item count of its valid records
// from offset from, reading through buf. A segment a crash left at its
// pre-allocated size, zeros after its data, is cut to its data: each crash
// left two segments whole (the writer's, the next one made ahead), and a
// spool whose process kept dying grew by that much every time, its zeros
// read again at every open. What is cut is zeros, or the room of appends
// that never returned.
func (l *Log) recoverSegment(seq uint64, from int64, buf *ReadBuffer) (int64, int, error) {
	path := l.segmentPath(seq)
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	count, end := 0, min(from, fi.Size())
	_, err = l.scan(f, seq, end, fi.Size(), buf, false, func(_ int64, items [][]byte, span Span) (bool, bool) {
		count += len(items)
		end = span.To.Offset
		return true, true
	})
	if err == nil && fi.Size() > end {
		if err := os.Truncate(path, end); err != nil {
			return 0, 0, fmt.Errorf("spool: cutting segment %016x to its records: %w", seq, err)
		}
	}
	return end, count, err
}
