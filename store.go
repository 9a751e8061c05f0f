package notifications

import (
	"sync"
	"time"
)

// queuedBlock is one written block with the time it was written.
type queuedBlock struct {
	events  []Event
	written time.Time

	// encoded is each event's JSON as stored, the bytes an envelope
	// carries (see appendStoredEnvelope); nil when the store keeps none.
	encoded [][]byte
}

// eventStore holds an endpoint's pending blocks, oldest first. The queue
// calls push from the writers' goroutines, possibly several at once, and
// peek, peekAfter, pop and takeLost from its own goroutine, one at a time;
// none under its mutex, so that encoding, disk writes and reads stay out of
// its critical section. A store synchronizes these calls itself.
type eventStore interface {
	// push adds a block at the tail. When it returns nil the block is
	// stored: for a spool, written to its file.
	push(b queuedBlock) error

	// peek returns the oldest blocks, whole and in order, as many as fit in
	// maxEvents events (at least one block), without removing them. It
	// returns nothing when the store is empty. The queue reads the blocks
	// after releasing its mutex: later pushes must not modify them.
	peek(maxEvents int) ([]queuedBlock, error)

	// pop removes the n oldest blocks, which a peek returned.
	pop(n int) error

	// takeLost returns how many stored events were found unreadable (and
	// dropped from len) since the last call.
	takeLost() int

	// len returns how many events are stored.
	len() int

	// durable reports whether what is left at close is kept for the next
	// store opened on the same place.
	durable() bool

	// close releases the store. A durable store keeps what it holds.
	close() error
}

// memoryStore keeps blocks in a slice used as a queue.
type memoryStore struct {
	mu     sync.Mutex    // push runs beside the others
	blocks []queuedBlock // blocks[head:] are live
	head   int
	events int
}

var _ eventStore = (*memoryStore)(nil)

func (m *memoryStore) push(b queuedBlock) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.blocks = append(m.blocks, b)
	m.events += len(b.events)
	return nil
}

func (m *memoryStore) peek(maxEvents int) ([]queuedBlock, error) {
	return m.peekAfter(0, maxEvents), nil
}

func (m *memoryStore) peekAfter(skip, maxEvents int) []queuedBlock {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.blocksAfter(skip, maxEvents)
}

// blocksAfter is peek, past the skip oldest blocks. The capacity of what it
// returns is cut, so that a push appends elsewhere.
func (m *memoryStore) blocksAfter(skip, maxEvents int) []queuedBlock {
	start := m.head + skip
	if start >= len(m.blocks) {
		return nil
	}
	end, n := start+1, len(m.blocks[start].events)
	for end < len(m.blocks) && n+len(m.blocks[end].events) <= maxEvents {
		n += len(m.blocks[end].events)
		end++
	}
	return m.blocks[start:end:end]
}

func (m *memoryStore) pop(n int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.blocks[m.head : m.head+n] {
		m.events -= len(b.events)
	}
	clear(m.blocks[m.head : m.head+n])
	m.head += n
	if m.head > len(m.blocks)/2 { // keep the dead prefix from growing forever
		live := copy(m.blocks, m.blocks[m.head:])
		clear(m.blocks[live:])
		m.blocks, m.head = m.blocks[:live], 0
	}
	return nil
}

func (m *memoryStore) takeLost() int { return 0 }

func (m *memoryStore) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.events
}

func (m *memoryStore) durable() bool { return false }

func (m *memoryStore) close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.blocks, m.head, m.events = nil, 0, 0
	return nil
}

// flatten returns the events of blocks in order, sharing the block's memory
// when there is only one. Blocks may share memory with other sinks' copies,
// so it never appends to one.
func flatten(blocks []queuedBlock) []Event {
	if len(blocks) == 1 {
		return blocks[0].events
	}
	n := 0
	for _, b := range blocks {
		n += len(b.events)
	}
	out := make([]Event, 0, n)
	for _, b := range blocks {
		out = append(out, b.events...)
	}
	return out
}
