package notifications

import (
	"fmt"
	"sync"
)

// memoryStore keeps blocks in a queue of chunks: pushing never moves the
// blocks already stored (a slice grown by append would copy them all each
// time it doubles). The largest chunk popped is kept for the next push
// that needs one; the others are left to the collector.
type memoryStore struct {
	mu     sync.Mutex
	chunks [][]queuedBlock // chunks[0][head:], then the others, are live
	head   int
	events int
	spare  []queuedBlock // a chunk popped whole and cleared, or nil

	popped uint64      // blocks popped so far: chunks[0][head] is block popped
	copies []blockCopy // the memory of peeks that copied, for later ones
}

var _ eventStore = (*memoryStore)(nil)

// Chunk capacities, in blocks: the first is small for an endpoint that
// keeps up, each next twice the last, up to maxChunkBlocks.
const (
	minChunkBlocks = 64
	maxChunkBlocks = 4096
)

// blockCopy is the memory of a peek whose blocks lay in more than one
// chunk. It is free again once those blocks were popped: the queue reads
// a batch's blocks only until it removes them from the store (a batch
// given up before that is never read again either).
type blockCopy struct {
	mem  []queuedBlock
	held int    // blocks of mem in use; 0 once free (and cleared)
	end  uint64 // the number of the block after its last
}

// maxBlockCopies bounds the copies kept: a batch out, one taken ahead,
// and one more for a batch taken again.
const maxBlockCopies = 3

func (m *memoryStore) push(b queuedBlock) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := len(m.chunks)
	if k == 0 || len(m.chunks[k-1]) == cap(m.chunks[k-1]) {
		size := minChunkBlocks
		if k > 0 {
			size = min(2*cap(m.chunks[k-1]), maxChunkBlocks)
		}
		chunk := m.spare
		if cap(chunk) >= size {
			m.spare = nil
		} else {
			chunk = make([]queuedBlock, 0, size)
		}
		m.chunks = append(m.chunks, chunk)
		k++
	}
	m.chunks[k-1] = append(m.chunks[k-1], b)
	m.events += b.count()
	return nil
}

// peek returns the blocks in their chunk's memory, its capacity cut so that
// a push appends elsewhere, when they lie in one chunk; else a copy, in
// memory of an earlier copy whose blocks were all popped when there is one.
func (m *memoryStore) peek(skip, maxEvents int) ([]queuedBlock, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, i := 0, m.head+skip // chunk and index of the first block
	for c < len(m.chunks) && i >= len(m.chunks[c]) {
		i -= len(m.chunks[c])
		c++
	}
	if c == len(m.chunks) {
		return nil, nil
	}
	chunk := m.chunks[c]
	end, n := i+1, chunk[i].count()
	for end < len(chunk) && n+chunk[end].count() <= maxEvents {
		n += chunk[end].count()
		end++
	}
	if end < len(chunk) || c == len(m.chunks)-1 || n+m.chunks[c+1][0].count() > maxEvents {
		return chunk[i:end:end], nil
	}
	count := end - i // the blocks, counted before they are copied
counting:
	for d := c + 1; d < len(m.chunks); d++ {
		for _, b := range m.chunks[d] {
			if n+b.count() > maxEvents {
				break counting
			}
			n += b.count()
			count++
		}
	}
	out := m.copyMemory(count, m.popped+uint64(skip+count))
	out = append(out, chunk[i:end]...)
	for d := c + 1; len(out) < count; d++ {
		out = append(out, m.chunks[d][:min(len(m.chunks[d]), count-len(out))]...)
	}
	return out[:count:count], nil
}

// copyMemory returns empty memory for count blocks, which hold until block
// end is popped: a free copy's when one is large enough, else new memory,
// which takes the place of a free copy too small, or is kept beside the
// others while fewer than maxBlockCopies are. (A free copy was cleared
// when its blocks were popped: see freeCopies.)
func (m *memoryStore) copyMemory(count int, end uint64) []queuedBlock {
	small := -1 // a free copy too small
	for k := range m.copies {
		c := &m.copies[k]
		if c.end > m.popped {
			continue
		}
		if cap(c.mem) >= count {
			c.held, c.end = count, end
			return c.mem[:0]
		}
		small = k
	}
	mem := make([]queuedBlock, 0, count)
	switch {
	case small >= 0:
		m.copies[small] = blockCopy{mem: mem, held: count, end: end}
	case len(m.copies) < maxBlockCopies:
		m.copies = append(m.copies, blockCopy{mem: mem, held: count, end: end})
	}
	return mem
}

func (m *memoryStore) pop(n int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.freeCopies()
	for n > 0 {
		if len(m.chunks) == 0 || m.head == len(m.chunks[0]) {
			return fmt.Errorf("notifications: memory store: %d more blocks to remove than it holds", n)
		}
		chunk := m.chunks[0]
		k := min(n, len(chunk)-m.head)
		for i := range chunk[m.head : m.head+k] {
			m.events -= chunk[m.head+i].count()
		}
		clear(chunk[m.head : m.head+k]) // the events are no longer held
		m.head += k
		m.popped += uint64(k)
		n -= k
		if m.head == len(chunk) && (len(m.chunks) > 1 || len(chunk) == cap(chunk)) {
			if cap(chunk) > cap(m.spare) { // peek hands out no block popped
				m.spare = chunk[:0]
			}
			// Shifted down, so that the next append reuses the array.
			k := copy(m.chunks, m.chunks[1:])
			m.chunks[k] = nil
			m.chunks = m.chunks[:k]
			m.head = 0
		}
	}
	return nil
}

// freeCopies clears the copies whose blocks were all popped, so that they
// hold no event until used again.
func (m *memoryStore) freeCopies() {
	for k := range m.copies {
		if c := &m.copies[k]; c.end <= m.popped && c.held > 0 {
			clear(c.mem[:c.held])
			c.held = 0
		}
	}
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
	m.chunks, m.head, m.events, m.spare, m.copies = nil, 0, 0, nil, nil
	return nil
}
