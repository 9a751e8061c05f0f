package spool

// A ReadBuffer is memory a reader lends ReadInto again and again: the
// records ReadInto reads from the disk are read into it, and the items of
// the blocks it returned last lie in it until the next ReadInto with it.
// The zero value is ready to use.
type ReadBuffer struct {
	data   []byte
	slab   [][]byte
	blocks []Block // what the last ReadInto returned
}

// chunk returns room for n bytes and a slab for the items of a chunk of n
// bytes: b's memory, its bytes made again, at least twice larger, when a
// read needs more, up to readChunk; for a record larger than that, memory
// of its own, not kept (one large record must not pin its size for the
// log's life). A read stops where the records kept in memory begin, which
// may be a few records on: the bytes are not made at readChunk for those,
// since a reader that lends each read's buffer to what it decoded from it
// (the notifications spool does) holds every such buffer until its batch
// is done.
func (b *ReadBuffer) chunk(n int) ([]byte, [][]byte) {
	if n > readChunk {
		return newChunk(n)
	}
	if len(b.data) < n {
		b.data = make([]byte, min(max(n, 2*len(b.data)), readChunk))
		clear(b.slab) // its items lie in the bytes let go
	}
	if b.slab == nil {
		b.slab = newSlab(readChunk) // a chunk's worth, whatever the chunk: small reads may hold many small items
	}
	return b.data[:n], b.slab // entries of the last chunk are overwritten as items are decoded
}

// newChunk returns room for n bytes and a slab for their items.
func newChunk(n int) ([]byte, [][]byte) {
	return make([]byte, n), newSlab(n)
}

// newSlab returns room for the items of n bytes of records, those of 256
// bytes and more (a record whose items the slab has no more room for
// allocates them).
func newSlab(n int) [][]byte { return make([][]byte, n/256) }
