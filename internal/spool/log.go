package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

var (
	// ErrLocked is returned by Open when another Log, in this process or
	// another, has the directory open.
	ErrLocked = errors.New("spool: directory in use by another log")

	// ErrClosed is returned by the methods of a closed Log.
	ErrClosed = errors.New("spool: log closed")

	// ErrSyncFailed is wrapped by Append's error once writing the log back
	// to disk failed (msync, fsync: an I/O error, a file system turned
	// read-only): the kernel may have dropped the pages it could not write,
	// so the log takes no more records rather than lose them unseen. What
	// it holds can still be read.
	ErrSyncFailed = errors.New("spool: writing to disk failed; no more records are taken")
)

const (
	// DefaultSegmentSize is the size past which a new segment is started.
	DefaultSegmentSize = 8 << 20
	// DefaultSyncEvery is the default of Options.SyncEvery.
	DefaultSyncEvery = time.Second

	segmentSuffix = ".seg"
	cursorName    = "cursor"
	lockName      = "lock"
	cursorSize    = 20
)

// Options tune a Log. Zero fields take their defaults.
type Options struct {
	// SyncEvery is the longest time from an append to the fsync that
	// makes it durable against a power cut. Default DefaultSyncEvery.
	SyncEvery time.Duration
	// SegmentSize is the size in bytes past which appends go to a new
	// segment, at most 1 GiB. Default DefaultSegmentSize.
	SegmentSize int64
	// Logger receives what recovery and reading skip. Default: logrus'
	// standard logger.
	Logger logrus.FieldLogger
	// MemoryBytes bounds the newest records kept in memory, with the value
	// passed to Append, so that a reader keeping up with the appenders
	// never reads the disk. Default DefaultMemoryBytes; negative: none.
	MemoryBytes int
	// BeforeSync, when set, is called on the log's goroutine before each
	// periodic sync of the segment being appended to (SyncEvery after a
	// write); when it returns an error, that sync is not done and the error
	// counts as its failure (see ErrSyncFailed). The syncs of sealed
	// segments, of the cursor and of Close do not call it. The tests of
	// packages built on the engine make syncs fail with it.
	BeforeSync func() error

	syncSegment func(s *segment, end int64) error // (*segment).sync; tests make it fail
}

// DefaultMemoryBytes is the default of Options.MemoryBytes.
const DefaultMemoryBytes = 4 << 20

// Position is a place in the log: a segment and a byte offset in it.
// Positions order as the log does.
type Position struct {
	Segment uint64
	Offset  int64
}

// Less reports whether p comes before q in the log.
func (p Position) Less(q Position) bool {
	return p.Segment < q.Segment || p.Segment == q.Segment && p.Offset < q.Offset
}

// Span is where an appended record lies: From its first byte to To, just
// after its last.
type Span struct{ From, To Position }

// Block is one record read back.
type Block struct {
	Stamp int64    // as passed to Append
	Items [][]byte // as passed to Append; read from disk, they share one buffer; nil from memory after AppendCopy
	Count int      // how many items the record holds
	Span  Span     // where the record lies
	// Value is what was passed to Append, when the block came from memory;
	// nil when it was read from the disk.
	Value any
}

// Log is an open spool directory. See the package documentation.
type Log struct {
	dir  string
	opt  Options
	log  logrus.FieldLogger
	lock *os.File

	// mu guards what appenders, readers and the syncer share.
	mu        sync.Mutex
	cond      *sync.Cond // signalled when a segment was created, on Close, and on commits after Close began or while appenders wait for room in the ring
	closed    bool
	segs      []uint64         // segments from the acknowledged one to the writer's, oldest first
	sealed    map[uint64]int64 // sizes of the segments no longer appended to
	items     atomic.Int64     // items appended and not acknowledged; written under mu, read without
	lost      int              // items counted, then found unreadable
	start     Position         // where unacknowledged data starts
	end       Position         // the committed end: every record before it is written
	tail      []Block          // the newest committed records, in log order, for readers
	tailBase  []Block          // the array tail slides through
	tailLen   int              // bytes of tail's records
	w         *segment         // the writer's segment
	next      *segment         // created ahead, to follow w
	preparing bool             // a segment is being created (mu released meanwhile)
	toSeal    []*segment       // segments rotated away from, for the syncer to release
	cursor    *os.File

	// Appending (see reserve.go and append.go): the reservation word, the
	// writer's segment of each epoch modulo 4 (w's is the current
	// epoch's), the ring of reserved records and the tickets committed
	// (written under mu), whether an appender is committing, and who
	// waits for commits (written under mu): Close and the appenders
	// waiting for room in the ring.
	res        atomic.Uint64
	wsegs      [4]atomic.Pointer[segment]
	ring       []slot
	committed  atomic.Uint64
	committing atomic.Bool
	waiting    atomic.Int32          // see afterPut
	unsynced   atomic.Bool           // something to sync (a write, an Ack, a rotation) since the syncer last synced: see markDirty
	beforePut  func(ticket uint64)   // tests: called by an appender before its put
	syncFailed atomic.Pointer[error] // the first failed sync's error (see ErrSyncFailed)

	skipMu sync.Mutex
	skips  map[Position]struct{} // damaged records logged, so that each is logged once (see logSkip)

	rmu  sync.Mutex // the reader's file
	r    *os.File
	rSeq uint64

	kick       chan struct{} // a write made the log dirty
	want       chan struct{} // a rotation took the next segment
	done       chan struct{} // closed by Close: the syncer ends
	syncerDone chan struct{}
}

// Open opens (creating it if need be) the log in dir, locks it, and
// recovers what a previous Log left: segments wholly before the cursor are
// removed, the items of the rest are counted (damaged records are logged,
// not counted). Appends go to a new segment. It returns an error wrapping
// ErrLocked when another Log holds dir.
func Open(dir string, opt Options) (_ *Log, err error) {
	if opt.SyncEvery <= 0 {
		opt.SyncEvery = DefaultSyncEvery
	}
	if opt.SegmentSize <= 0 {
		opt.SegmentSize = DefaultSegmentSize
	}
	opt.SegmentSize = min(opt.SegmentSize, maxSegmentSize)
	if opt.Logger == nil {
		opt.Logger = logrus.StandardLogger()
	}
	if opt.MemoryBytes == 0 {
		opt.MemoryBytes = DefaultMemoryBytes
	}
	if opt.syncSegment == nil {
		opt.syncSegment = (*segment).sync
	}
	if before, syncSegment := opt.BeforeSync, opt.syncSegment; before != nil {
		opt.syncSegment = func(s *segment, end int64) error {
			if err := before(); err != nil {
				return err
			}
			return syncSegment(s, end)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	l := &Log{
		dir: dir, opt: opt, log: opt.Logger, sealed: map[uint64]int64{},
		kick: make(chan struct{}, 1), want: make(chan struct{}, 1), done: make(chan struct{}), syncerDone: make(chan struct{}),
	}
	l.cond = sync.NewCond(&l.mu)
	if l.lock, err = os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o600); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	defer func() {
		if err != nil {
			l.closeFiles()
		}
	}()
	if err := lockFile(l.lock); err != nil {
		return nil, err
	}
	if l.cursor, err = os.OpenFile(filepath.Join(dir, cursorName), os.O_CREATE|os.O_RDWR, 0o600); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if err := l.recover(); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	next := uint64(1)
	if len(l.segs) > 0 {
		next = l.segs[len(l.segs)-1] + 1
	}
	if l.w, err = l.createSegment(next, opt.SegmentSize); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	l.wsegs[0].Store(l.w)
	l.ring = make([]slot, ringSize)
	l.end = Position{Segment: next}
	l.segs = append(l.segs, next)
	if len(l.segs) == 1 {
		l.start = Position{Segment: next}
	}
	go l.syncLoop()
	return l, nil
}

func (l *Log) segmentPath(seq uint64) string {
	return filepath.Join(l.dir, fmt.Sprintf("%016x%s", seq, segmentSuffix))
}

// createSegment creates segment seq with room for size bytes, syncing the
// directory so that the new file survives a power cut.
func (l *Log) createSegment(seq uint64, size int64) (*segment, error) {
	s, err := newSegment(l.segmentPath(seq), seq, size)
	if err != nil {
		return nil, err
	}
	if d, err := os.Open(l.dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return s, nil
}

func (l *Log) readCursor() Position {
	var buf [cursorSize]byte
	if _, err := l.cursor.ReadAt(buf[:], 0); err != nil {
		return Position{}
	}
	if crc32.Checksum(buf[:16], crcTable) != binary.BigEndian.Uint32(buf[16:]) {
		l.log.Warn("notifications: spool: cursor damaged; delivering from the oldest segment (some events may repeat)")
		return Position{}
	}
	return Position{Segment: binary.BigEndian.Uint64(buf[:]), Offset: int64(binary.BigEndian.Uint64(buf[8:]))}
}

// encodeCursor returns the cursor file's bytes for p.
func encodeCursor(p Position) [cursorSize]byte {
	var buf [cursorSize]byte
	binary.BigEndian.PutUint64(buf[:], p.Segment)
	binary.BigEndian.PutUint64(buf[8:], uint64(p.Offset))
	binary.BigEndian.PutUint32(buf[16:], crc32.Checksum(buf[:16], crcTable))
	return buf
}

// Len returns how many items were appended (or recovered) and not
// acknowledged: every record whose Append returned before Len was called
// counts, once the records before it are written too. It takes the mutex
// only when records were written since the last commit, to commit them
// (so a caller that calls it after each Append commits each record, as
// appenders used to).
func (l *Log) Len() int {
	if l.committable() {
		l.mu.Lock()
		l.commitLocked()
		l.mu.Unlock()
	}
	return int(l.items.Load())
}

// Lost returns how many items were counted (at open) and then found
// unreadable by Read, since Open.
func (l *Log) Lost() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// Start returns where the unacknowledged blocks start: the position to
// Read the oldest of them from.
func (l *Log) Start() Position {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.start
}

// Close waits for the appends in flight, fsyncs, closes the files and
// releases the lock. A log left without unacknowledged items is removed
// (but for its directory and lock file). A second Close returns ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closed = true
	l.res.Or(closedBit)
	l.cond.Broadcast() // appenders waiting for room in the ring return ErrClosed
	l.waiting.Add(1)   // appenders commit from here on (see afterPut)
	for {
		l.commitLocked()
		if !l.pendingLocked() && !l.preparing {
			break
		}
		l.cond.Wait()
	}
	l.waiting.Add(-1)
	l.mu.Unlock()
	close(l.done)
	<-l.syncerDone

	l.rmu.Lock()
	defer l.rmu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	wSize := reservation(l.res.Load()).offset()
	l.w.end = wSize
	wSeq := l.w.seq
	for _, s := range append(l.toSeal, l.w) {
		errs = append(errs, s.release())
	}
	l.toSeal, l.w = nil, nil
	if l.next != nil {
		l.next.discard()
		l.next = nil
	}
	errs = append(errs, l.cursor.Sync())
	// Files are removed while the lock is held, so that no log opens them
	// meanwhile; the cursor goes first, so that a crash in between leaves
	// segments without a cursor (all read again), never a stale cursor.
	l.closeData()
	l.tail, l.tailBase, l.tailLen = nil, nil, 0
	switch {
	case l.items.Load() == 0:
		errs = append(errs, os.Remove(filepath.Join(l.dir, cursorName)))
		for _, seq := range l.segs {
			errs = append(errs, os.Remove(l.segmentPath(seq)))
		}
	case wSize == 0: // the next open starts its own segment
		errs = append(errs, os.Remove(l.segmentPath(wSeq)))
	}
	l.unlock()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// closeFiles closes every file the log holds, releasing the lock last.
func (l *Log) closeFiles() {
	l.closeData()
	l.unlock()
}

// closeData closes the reader's and the cursor's files (the writer's
// segment is released before: Close, or never made: Open).
func (l *Log) closeData() {
	for _, f := range []*os.File{l.r, l.cursor} {
		if f != nil {
			_ = f.Close()
		}
	}
	l.r, l.cursor = nil, nil
}

// unlock releases the lock.
func (l *Log) unlock() {
	if l.lock != nil {
		unlockFile(l.lock)
		_ = l.lock.Close()
	}
}
