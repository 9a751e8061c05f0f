package notifications

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

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
