package notifications

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/regnotify/notifications/internal/spool"
	"github.com/sirupsen/logrus"
)

// ErrSpoolLocked is returned when another endpoint, in this process or
// (where there is flock) another, has the spool open.
var ErrSpoolLocked = errors.New("notifications: spool in use by another endpoint")

// spoolStore is the eventStore of a spooled endpoint, over the storage
// engine in internal/spool. A block is one record; each event is one item:
// for a block written with its JSON (a Broadcaster's), that JSON exactly
// as an envelope carries it, so that a batch read back can be sent by
// splicing stored bytes (JSONEncoder); for any other, the event's binary
// form (spool_codec.go), the cheapest for a Write to store.
//
// The engine keeps the newest records in memory with their block, so that
// a reader keeping up with the writers never reads the disk; a backlog is
// read back from the disk a batch at a time, binary events decoded as they
// are read, JSON ones only when something needs their values
// (appendEvents).
type spoolStore struct {
	log    *spool.Log
	logger logrus.FieldLogger

	// lend says that the events of binary records read from the disk may
	// share the memory they were read into (a readLoan) for as long as
	// they are peeked (see eventStore.peek), instead of being copied out
	// of it: set, before the first peek, for an endpoint where nothing
	// keeps events past their delivery (see newEndpoint).
	lend bool

	mu      sync.Mutex // guards what follows
	peeked  []peekedBlock
	readBuf spool.ReadBuffer // without lend: the disk's records are read into it, and decoded from it
	loans   []*readLoan      // with lend: loans no peeked block holds, for the next reads
	lost    int              // events of undecodable blocks, since takeLost
	seen    int              // the engine's Lost at the last takeLost

	// undecodable is where the last record logged as not decoding starts,
	// when one was: a batch read ahead stops before such a record, which
	// the next read meets again, and each is logged once.
	undecodable       spool.Position
	loggedUndecodable bool
}

// peekedBlock is what pop needs of a block that peek returned.
type peekedBlock struct {
	end    spool.Position // just after the block's record
	events int            // events acknowledged with it
	loan   *readLoan      // the memory its events share, when lent; else nil
}

// readLoan is the memory of one read from the disk when the store lends
// it: the records are read into buf and their events decoded into slab,
// sharing buf's bytes. It is read into again only once no peeked block
// holds it, that is once the queue popped, or peeked again, every block
// decoded from it: the queue reads a block's events only until then.
type readLoan struct {
	buf  spool.ReadBuffer
	slab []Event
	held int // peeked blocks decoded from it
}

// maxIdleLoans bounds the loans kept for the next reads: a batch being
// delivered and one taken ahead hold a few each (a read is at most
// 256 KiB of records).
const maxIdleLoans = 4

var _ eventStore = (*spoolStore)(nil)

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

// testHookSpoolSync, set by tests only, is read when a spool is opened: the
// spool calls it before each periodic sync until it is closed, and an error
// it returns fails that sync (see spool.Options.BeforeSync).
var testHookSpoolSync func() error

// openSpool opens (creating it if need be) the spool of the endpoint name
// under root, locks it, and counts what a previous endpoint left.
func openSpool(root, name string, syncEvery time.Duration, log logrus.FieldLogger) (*spoolStore, error) {
	return openSpoolMemory(root, name, syncEvery, log, 0)
}

// openSpoolMemory is openSpool keeping memoryBytes of the newest records
// in memory (0: the engine's default; negative: none).
func openSpoolMemory(root, name string, syncEvery time.Duration, log logrus.FieldLogger, memoryBytes int) (*spoolStore, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: a spooled endpoint needs a name", ErrInvalidConfig)
	}
	dir := filepath.Join(root, spoolDirName(name))
	l, err := spool.Open(dir, spool.Options{SyncEvery: syncEvery, Logger: log, MemoryBytes: memoryBytes, BeforeSync: testHookSpoolSync})
	if errors.Is(err, spool.ErrLocked) {
		return nil, fmt.Errorf("%w: %s", ErrSpoolLocked, dir)
	}
	if err != nil {
		return nil, err
	}
	return &spoolStore{log: l, logger: log}, nil
}

// push appends the block to the log; it returns once the record is in the
// kernel. It may run on several goroutines at once, none waiting for
// another's write. A block that comes with its JSON is stored, and kept in
// memory, as it is; otherwise its events are written in their binary form
// (spool_codec.go), outside any lock, into a buffer used again by the next
// push, and the memory keeps the events as they came, as the address of
// the first (the queue encodes them at delivery, as from a memory store):
// the spool allocates nothing for a Write.
func (s *spoolStore) push(b queuedBlock) error {
	if items := b.encoded(); items != nil {
		_, err := s.log.Append(b.written.wallNanos(), items, b)
		return err
	}
	sc := takeEncodeScratch()
	defer sc.give()
	var err error
	if sc.buf, sc.ends, err = appendBinaryEvents(sc.buf[:0], sc.ends[:0], b.events); err != nil {
		return fmt.Errorf("spool: encoding events: %w", err)
	}
	sc.items = splitObjects(sc.items[:0], sc.buf, sc.ends)
	// The memory keeps the events as their first one's address (with the
	// record's count, the block again: see memoryBlock): a pointer goes
	// into the engine's value as it is, where a queuedBlock would be
	// copied to memory of its own, an allocation a Write.
	var first *Event
	if len(b.events) > 0 { // else the engine refuses the record
		first = &b.events[0]
	}
	_, err = s.log.AppendCopy(b.written.wallNanos(), sc.items, first)
	return err
}

// memoryBlock returns the block of r, a record read back from the memory
// the spool keeps, and whether r was one (else it was read from the disk).
// The block of a binary record comes back with its written time from the
// record's (the wall clock's reading), as from the disk.
func memoryBlock(r spool.Block) (queuedBlock, bool) {
	switch v := r.Value.(type) {
	case queuedBlock:
		return v, true
	case *Event: // push's: the first of r.Count events in a row (never nil: push appends no empty block)
		return queuedBlock{events: unsafe.Slice(v, r.Count), written: stampOfWall(r.Stamp)}, true
	}
	return queuedBlock{}, false
}

func (s *spoolStore) peek(skip, maxEvents int) ([]queuedBlock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	skip = min(skip, len(s.peeked))
	s.unpeek(s.peeked[skip:])
	s.peeked = s.peeked[:skip]
	from := s.log.Start()
	if len(s.peeked) > 0 {
		from = s.peeked[len(s.peeked)-1].end
	}
	return s.readFrom(from, maxEvents, len(s.peeked) == 0)
}

// readFrom returns the blocks from p on, whole, at most maxEvents events
// (at least one block): from memory where it has them, else from the disk.
// A block read from the disk carries its events decoded from their binary
// form, or its events' JSON only, decoded when something needs the values
// (see appendEvents). A block whose items are neither is logged and, when
// it comes first and fromStart, acknowledged as lost. The blocks returned
// are added to those peeked.
func (s *spoolStore) readFrom(p spool.Position, maxEvents int, fromStart bool) ([]queuedBlock, error) {
	var blocks []queuedBlock
	n := 0
	add := func(b queuedBlock, end spool.Position, loan *readLoan) bool {
		if len(blocks) > 0 && n+b.count() > maxEvents {
			return false
		}
		if loan != nil {
			loan.held++
		}
		blocks = append(blocks, b)
		s.peeked = append(s.peeked, peekedBlock{end: end, events: b.count(), loan: loan})
		n += b.count()
		p = end
		return true
	}
	var loan *readLoan // the read's, when lending
	defer func() {
		if loan != nil {
			s.keepIdle(loan)
		}
	}()
	for n < maxEvents || len(blocks) == 0 {
		readBuf := &s.readBuf
		if s.lend {
			if loan == nil || loan.held > 0 { // else no block of the last read holds it
				loan = s.takeLoan()
			}
			readBuf = &loan.buf
		}
		read, err := s.log.ReadInto(readBuf, p, max(maxEvents-n, 1))
		if err != nil && len(blocks) == 0 {
			return nil, err
		}
		if err != nil || len(read) == 0 {
			break
		}
		if blocks == nil {
			blocks = make([]queuedBlock, 0, len(read))
		}
		var slab []Event // the events decoded from this read share it
		if loan != nil {
			slab = loan.slabFor(read)
		} else if k := binaryCount(read); k > 0 {
			slab = make([]Event, k)
		}
		for _, r := range read {
			b, ok := memoryBlock(r)
			var lent *readLoan
			if !ok {
				if b, slab, ok = blockOf(r, slab, loan != nil); !ok {
					if !s.loggedUndecodable || s.undecodable != r.Span.From {
						s.undecodable, s.loggedUndecodable = r.Span.From, true
						s.logger.WithField("events", len(r.Items)).Error("notifications: spool: a record of events that do not decode")
					}
					if len(blocks) > 0 || !fromStart {
						return blocks, nil
					}
					if err := s.log.Ack(r.Span.To, len(r.Items)); err != nil {
						return nil, err
					}
					s.lost += len(r.Items)
					p = r.Span.To
					continue
				}
				switch {
				case b.json != nil:
					// JSON sent as it is: the buffer is its now, never
					// read into again (binary records are copied out as
					// they are decoded, or share a loan's memory).
					*readBuf = spool.ReadBuffer{}
				case loan != nil:
					lent = loan
				}
			}
			if !add(b, r.Span.To, lent) {
				return blocks, nil
			}
		}
	}
	return blocks, nil
}

// blockOf returns the block of r, a record read from the disk: its events
// decoded from their binary form, or their JSON kept to be sent as it is.
// It reports false for a record that is neither. Decoded events are taken
// from slab, zero events enough for r's binary items (see binaryCount);
// it returns what is left of slab. With shared, their strings are r's
// bytes (see decodeBinaryEventShared).
func blockOf(r spool.Block, slab []Event, shared bool) (queuedBlock, []Event, bool) {
	b := queuedBlock{written: stampOfWall(r.Stamp)}
	switch {
	case jsonObjects(r.Items):
		b.json = withJSON(r.Items)
	case binaryItems(r.Items):
		b.events, slab = slab[:len(r.Items):len(r.Items)], slab[len(r.Items):]
		decode := decodeBinaryEvent
		if shared {
			decode = decodeBinaryEventShared
		}
		for i, item := range r.Items {
			if decode(item, &b.events[i]) != nil {
				clear(b.events)
				return queuedBlock{}, slab, false
			}
		}
	default:
		return queuedBlock{}, slab, false
	}
	return b, slab, true
}

// binaryCount returns how many events the binary records of read, those
// read from the disk, hold: the events blockOf decodes from it.
func binaryCount(read []spool.Block) int {
	n := 0
	for _, r := range read {
		if r.Value == nil && binaryItems(r.Items) {
			n += len(r.Items)
		}
	}
	return n
}

// takeLoan returns a loan no peeked block holds, to read into.
func (s *spoolStore) takeLoan() *readLoan {
	if k := len(s.loans); k > 0 {
		loan := s.loans[k-1]
		s.loans[k-1] = nil
		s.loans = s.loans[:k-1]
		return loan
	}
	return new(readLoan)
}

// keepIdle keeps loan for the next reads when no peeked block holds it
// (and fewer than maxIdleLoans are kept).
func (s *spoolStore) keepIdle(loan *readLoan) {
	if loan.held == 0 && len(s.loans) < maxIdleLoans {
		s.loans = append(s.loans, loan)
	}
}

// unpeek lets go of blocks no longer peeked (popped, or to be peeked
// again): a loan none of them holds any more is kept for the next reads.
func (s *spoolStore) unpeek(blocks []peekedBlock) {
	for i := range blocks {
		if loan := blocks[i].loan; loan != nil {
			blocks[i].loan = nil
			if loan.held--; loan.held == 0 {
				s.keepIdle(loan)
			}
		}
	}
}

// slabFor returns the loan's zeroed events for the binary records of
// read, made larger when they do not fit.
func (loan *readLoan) slabFor(read []spool.Block) []Event {
	n := binaryCount(read)
	if cap(loan.slab) < n {
		loan.slab = make([]Event, n)
	}
	slab := loan.slab[:n]
	clear(slab)
	return slab
}

// jsonObjects reports whether items, a record's, is not empty and each
// item is framed as a JSON object, as EncodeEvents writes them: what the
// spool checks of a record read back before sending it as it is. The
// record's checksum vouches for the rest.
func jsonObjects(items [][]byte) bool {
	for _, item := range items {
		if len(item) < 2 || item[0] != '{' || item[len(item)-1] != '}' {
			return false
		}
	}
	return len(items) > 0
}

func (s *spoolStore) pop(n int) error {
	if n == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	end, events := s.peeked[n-1].end, 0
	for _, b := range s.peeked[:n] {
		events += b.events
	}
	s.unpeek(s.peeked[:n])
	s.peeked = append(s.peeked[:0], s.peeked[n:]...) // what was peeked ahead stays peeked
	return s.log.Ack(end, events)
}

func (s *spoolStore) takeLost() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	total := s.log.Lost()
	n := s.lost + total - s.seen
	s.lost, s.seen = 0, total
	return n
}

func (s *spoolStore) len() int { return s.log.Len() }

func (s *spoolStore) durable() bool { return true }

func (s *spoolStore) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peeked, s.loans = nil, nil
	if err := s.log.Close(); err != nil && !errors.Is(err, spool.ErrClosed) {
		return err
	}
	return nil
}
