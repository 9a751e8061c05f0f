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
// the other methods one at a time; none under its mutex, so that encoding,
// disk writes and reads stay out of its critical section. A store
// synchronizes these calls itself.
type eventStore interface {
	// push adds a block at the tail. When it returns nil the block is
	// stored: for a spool, written to its file.
	push(b queuedBlock) error

	// peek returns the blocks that follow the skip oldest, whole and in
	// order, as many as fit in maxEvents events (at least one block),
	// without removing them; nothing when there are none. skip is at most
	// the number of blocks the previous peeks returned and pop did not
	// remove: the queue peeks the batch it will deliver (skip 0) and, while
	// that batch is out, the one after it (skip: the first one's blocks).
	// Later pushes must not modify the blocks returned.
	peek(skip, maxEvents int) ([]queuedBlock, error)

	// pop removes the n oldest blocks, which a peek returned. Blocks peeked
	// after them stay peeked.
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
	mu     sync.Mutex
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

// peek cuts the capacity of what it returns, so that a push appends
// elsewhere.
func (m *memoryStore) peek(skip, maxEvents int) ([]queuedBlock, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	start := m.head + skip
	if start >= len(m.blocks) {
		return nil, nil
	}
	end, n := start+1, len(m.blocks[start].events)
	for end < len(m.blocks) && n+len(m.blocks[end].events) <= maxEvents {
		n += len(m.blocks[end].events)
		end++
	}
	return m.blocks[start:end:end], nil
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
