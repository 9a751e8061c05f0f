package notifications

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// ErrSpoolLocked is returned when another endpoint, in this process or
// another, has the spool open.
var ErrSpoolLocked = errors.New("notifications: spool in use by another endpoint")

const (
	// defaultSegmentSize is the size past which the spool starts a new
	// segment file; a delivered segment is removed whole.
	defaultSegmentSize = 8 << 20

	segmentSuffix = ".seg"
	cursorName    = "cursor"
	lockName      = "lock"
)

// position is a place in the spool: a segment and an offset in it.
type position struct {
	seq uint64
	off int64
}

// peekedBlock is what pop needs of a block that peek returned.
type peekedBlock struct {
	end    position // just after the block's record
	events int
}

// spool is an eventStore on disk: an append-only log of records (see
// spool_record.go) in numbered segment files, with a cursor file recording
// how far delivery has got. Blocks are appended with write(2) before push
// returns; fsync runs at most syncEvery after a write. Reads go through the
// page cache, one batch at a time, so memory stays bounded whatever the
// backlog. A torn or corrupt record is logged and skipped.
//
// push, peek, pop, len and close are called under the queue's mutex; mu
// guards what the fsync timer shares with them.
type spool struct {
	dir        string
	log        logrus.FieldLogger
	syncEvery  time.Duration
	segmentMax int64
	lock       *os.File

	events int           // events stored, not yet popped
	segs   []uint64      // segments holding unread data, oldest first; the last is the writer's
	read   position      // where the next peek starts
	peeked []peekedBlock // the blocks of the last peek
	r      *os.File      // segment rSeq, open for reading
	rSeq   uint64
	cursor *os.File

	mu        sync.Mutex
	w         *os.File // the writer's segment, segs[len(segs)-1]
	wSize     int64
	dirty     bool // written since the last fsync
	syncTimer *time.Timer
	closed    bool
}

var _ eventStore = (*spool)(nil)

// spoolDirName escapes an endpoint name into one safe path element: letters,
// digits, '-' and '_' stay, every other byte becomes %XX.
func spoolDirName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// openSpool opens (creating it if need be) the spool of the endpoint name
// under root, locks it, and counts what a previous endpoint left.
func openSpool(root, name string, syncEvery time.Duration, log logrus.FieldLogger) (_ *spool, err error) {
	if name == "" {
		return nil, fmt.Errorf("%w: a spooled endpoint needs a name", ErrInvalidConfig)
	}
	dir := filepath.Join(root, spoolDirName(name))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &spool{dir: dir, log: log, syncEvery: syncEvery, segmentMax: defaultSegmentSize}
	if s.lock, err = os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o600); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	defer func() {
		if err != nil {
			s.closeFiles()
		}
	}()
	if err := lockFile(s.lock); err != nil {
		return nil, err
	}
	if s.cursor, err = os.OpenFile(filepath.Join(dir, cursorName), os.O_CREATE|os.O_RDWR, 0o600); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if err := s.recover(); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	next := uint64(1)
	if len(s.segs) > 0 {
		next = s.segs[len(s.segs)-1] + 1
	}
	if err := s.startSegment(next); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	return s, nil
}

// recover finds the segments, drops those the cursor says were delivered,
// and counts the events of the rest.
func (s *spool) recover() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if seq, ok := strings.CutSuffix(e.Name(), segmentSuffix); ok {
			if n, err := strconv.ParseUint(seq, 16, 64); err == nil {
				s.segs = append(s.segs, n)
			}
		}
	}
	slices.Sort(s.segs)
	s.read = s.readCursor()
	if !slices.Contains(s.segs, s.read.seq) {
		// A cursor whose segment is gone is stale (left by a crash while
		// an empty spool was being cleared): trust the segments instead.
		s.read = position{}
	}
	for len(s.segs) > 0 && s.segs[0] < s.read.seq {
		if err := os.Remove(s.segmentPath(s.segs[0])); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		s.segs = s.segs[1:]
	}
	if len(s.segs) == 0 || s.segs[0] != s.read.seq {
		s.read = position{}
		if len(s.segs) > 0 {
			s.read.seq = s.segs[0]
		}
	}
	for i, seq := range s.segs {
		from := int64(0)
		if i == 0 {
			from = s.read.off
		}
		n, err := s.countSegment(seq, from)
		if err != nil {
			return err
		}
		s.events += n
	}
	if s.events > 0 {
		s.log.WithField("events", s.events).Info("notifications: spool: delivering events left by a previous run")
	}
	return nil
}

// countSegment counts the events of the valid records of a segment from
// offset from, logging what it skips.
func (s *spool) countSegment(seq uint64, from int64) (int, error) {
	data, err := os.ReadFile(s.segmentPath(seq))
	if err != nil {
		return 0, err
	}
	if from > int64(len(data)) {
		from = int64(len(data))
	}
	count := 0
	for off := int(from); off < len(data); {
		size, n, err := parseRecordHeader(data[off:])
		if err == nil && off+size > len(data) {
			err = errRecordShort
		}
		if err == nil {
			err = checkRecord(data[off : off+size])
		}
		if err != nil {
			next := nextMagic(data, off+1)
			s.logSkip(seq, int64(off), int64(next-off), err)
			off = next
			continue
		}
		count += n
		off += size
	}
	return count, nil
}

// nextMagic returns the offset of the next record magic at or after from,
// or len(data).
func nextMagic(data []byte, from int) int {
	if from >= len(data) {
		return len(data)
	}
	if i := strings.Index(string(data[from:]), string(recordMagic[:])); i >= 0 {
		return from + i
	}
	return len(data)
}

func (s *spool) logSkip(seq uint64, off, n int64, err error) {
	s.log.WithError(err).WithFields(logrus.Fields{"segment": s.segmentPath(seq), "offset": off, "bytes": n}).
		Error("notifications: spool: skipping a damaged record")
}

func (s *spool) segmentPath(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%016x%s", seq, segmentSuffix))
}

// The cursor file holds the read position: seq, offset (uint64 each) and
// their CRC-32C. A missing or damaged cursor means "from the start".
const cursorSize = 20

func (s *spool) readCursor() position {
	var buf [cursorSize]byte
	if _, err := s.cursor.ReadAt(buf[:], 0); err != nil {
		return position{}
	}
	if crc32.Checksum(buf[:16], crcTable) != binary.BigEndian.Uint32(buf[16:]) {
		s.log.Warn("notifications: spool: cursor damaged; delivering from the oldest segment (some events may repeat)")
		return position{}
	}
	return position{seq: binary.BigEndian.Uint64(buf[:]), off: int64(binary.BigEndian.Uint64(buf[8:]))}
}

func (s *spool) writeCursor(p position) error {
	var buf [cursorSize]byte
	binary.BigEndian.PutUint64(buf[:], p.seq)
	binary.BigEndian.PutUint64(buf[8:], uint64(p.off))
	binary.BigEndian.PutUint32(buf[16:], crc32.Checksum(buf[:16], crcTable))
	_, err := s.cursor.WriteAt(buf[:], 0)
	return err
}

// startSegment makes segment seq the writer's, syncing the directory so
// that the new file survives a power cut.
func (s *spool) startSegment(seq uint64) error {
	f, err := os.OpenFile(s.segmentPath(seq), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if d, err := os.Open(s.dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	s.mu.Lock()
	old := s.w
	s.w, s.wSize = f, 0
	s.mu.Unlock()
	if old != nil {
		_ = old.Sync()
		_ = old.Close()
	}
	s.segs = append(s.segs, seq)
	if len(s.segs) == 1 {
		s.read = position{seq: seq}
	}
	return nil
}

func (s *spool) push(b queuedBlock) error {
	rec, err := encodeRecord(b)
	if err != nil {
		return fmt.Errorf("spool: encoding events: %w", err)
	}
	if len(rec)-recordHeaderSize > recordMaxPayload {
		return fmt.Errorf("spool: a block of %d bytes is larger than a record may be", len(rec))
	}
	if s.wSize > 0 && s.wSize+int64(len(rec)) > s.segmentMax {
		if err := s.startSegment(s.segs[len(s.segs)-1] + 1); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
	}
	n, err := s.w.Write(rec)
	s.mu.Lock()
	s.wSize += int64(n) // a partial write stays as a torn record that readers skip
	if n > 0 && !s.dirty {
		s.dirty = true
		s.syncTimer = time.AfterFunc(s.syncEvery, s.sync)
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.events += len(b.events)
	return nil
}

// sync flushes what was written since the last fsync to the disk. It runs
// on the fsync timer.
func (s *spool) sync() {
	s.mu.Lock()
	if s.closed || !s.dirty {
		s.mu.Unlock()
		return
	}
	s.dirty = false
	w := s.w
	s.mu.Unlock()
	if err := w.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
		s.log.WithError(err).Error("notifications: spool: fsync failed")
	}
	_ = s.cursor.Sync()
}

func (s *spool) len() int { return s.events }

func (s *spool) durable() bool { return true }

// close syncs and closes the spool's files and releases its lock. A spool
// left empty is removed, but for its directory.
func (s *spool) close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if s.syncTimer != nil {
		s.syncTimer.Stop()
	}
	s.mu.Unlock()
	var errs []error
	if s.w != nil {
		errs = append(errs, s.w.Sync())
	}
	errs = append(errs, s.cursor.Sync())
	// Files are removed while the lock is held, so that no endpoint opens
	// them meanwhile; the cursor goes first, so that a crash in between
	// leaves segments without a cursor (all delivered again), never a
	// stale cursor.
	for _, f := range []*os.File{s.r, s.w, s.cursor} {
		if f != nil {
			_ = f.Close()
		}
	}
	s.r, s.w, s.cursor = nil, nil, nil
	switch {
	case s.events == 0:
		errs = append(errs, os.Remove(filepath.Join(s.dir, cursorName)))
		for _, seq := range s.segs {
			errs = append(errs, os.Remove(s.segmentPath(seq)))
		}
	case s.wSize == 0: // the next open starts its own segment
		errs = append(errs, os.Remove(s.segmentPath(s.segs[len(s.segs)-1])))
	}
	s.closeFiles()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// closeFiles closes every file the spool holds, releasing the lock last.
func (s *spool) closeFiles() {
	for _, f := range []*os.File{s.r, s.w, s.cursor} {
		if f != nil {
			_ = f.Close()
		}
	}
	if s.lock != nil {
		unlockFile(s.lock)
		_ = s.lock.Close()
	}
}
