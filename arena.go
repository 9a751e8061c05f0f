package notifications

import "sync"

// A Broadcaster's endpoints send the same events' JSON, each from its own
// queue. A body spliced from one slice per event costs the kernel an
// iovec per event and one per comma between them, a third of the sender's
// time in writev on loopback against one contiguous piece. So a
// Broadcaster lays the JSON of consecutive Writes out one after the other
// in shared chunks, each object followed by a comma: a batch of events
// written in a row is then one piece of memory, its run, whoever sends it.

// jsonArena hands out the memory of the JSON a Broadcaster shares: ranges
// of chunks, in the order asked for. A chunk lives as long as a block
// holds any part of it.
type jsonArena struct {
	mu    sync.Mutex
	chunk []byte // its length is what was handed out
}

// Chunk sizes: a Write whose JSON takes more than maxArenaShare gets
// memory of its own, so that a chunk holds many Writes and a large one
// never leaves most of a chunk unused.
const (
	arenaChunkBytes = 16 << 10
	maxArenaShare   = arenaChunkBytes / 4
)

// alloc returns n bytes of new memory, n > 0, whose capacity runs to the
// end of its chunk: the next alloc's bytes follow it there, unless a new
// chunk began. More than maxArenaShare bytes are memory of their own, its
// capacity n. Nothing else writes the n bytes.
func (a *jsonArena) alloc(n int) []byte {
	if n > maxArenaShare {
		return make([]byte, n)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if cap(a.chunk)-len(a.chunk) < n {
		a.chunk = make([]byte, 0, arenaChunkBytes)
	}
	start := len(a.chunk)
	a.chunk = a.chunk[:start+n]
	return a.chunk[start:]
}

// encodeShared encodes events as EncodeEvents does, into the arena: it
// returns their JSON, each event's object (capacity cut to its length, as
// EncodeEvents returns them: a sink may do anything with them but modify
// them) and the run, the objects joined by commas, followed in memory by a
// comma within its capacity (see appendRun). It fails as EncodeEvents
// does.
func (a *jsonArena) encodeShared(events []Event) (*blockJSON, error) {
	sc := takeEncodeScratch()
	defer sc.give()
	var err error
	if sc.buf, sc.ends, err = appendEventObjects(sc.buf[:0], sc.ends[:0], events); err != nil {
		return nil, err
	}
	js, mem := a.block(len(sc.buf), len(events))
	start, at := 0, 0
	for i, end := range sc.ends {
		js.objects[i], at = place(mem, at, sc.buf[start:end])
		start = end
	}
	js.run = mem[: at-1 : cap(mem)]
	return js, nil
}

// copyOf returns the JSON of a block whose objects are objects, copied
// into the arena as encodeShared lays them out.
func (a *jsonArena) copyOf(objects [][]byte) *blockJSON {
	size := 0
	for _, o := range objects {
		size += len(o)
	}
	js, mem := a.block(size, len(objects))
	at := 0
	for i, o := range objects {
		js.objects[i], at = place(mem, at, o)
	}
	js.run = mem[: at-1 : cap(mem)]
	return js
}

// block returns the blockJSON of n objects, its objects slice made, and the
// arena memory for them: size bytes, and a comma after each.
func (a *jsonArena) block(size, n int) (*blockJSON, []byte) {
	mem := a.alloc(size + n)
	if n == 1 { // the usual Write: one allocation
		one := new(blockJSONOfOne)
		one.objects = one.object[:]
		return &one.blockJSON, mem
	}
	return &blockJSON{objects: make([][]byte, n)}, mem
}

// place copies object into mem at at, a comma after it, and returns the
// copy (its capacity cut to its length) and where the next one goes.
func place(mem []byte, at int, object []byte) ([]byte, int) {
	n := copy(mem[at:], object)
	mem[at+n] = ','
	return mem[at : at+n : at+n], at + n + 1
}

// blockJSONOfOne is the blockJSON of one event, with the memory of its
// objects.
type blockJSONOfOne struct {
	blockJSON
	object [1][]byte
}

// appendRun appends to runs the JSON of b's events, which b holds, as
// runs: slices of one or more objects joined by commas, in order. b's run
// joins the last of runs when it follows it, a comma between, in a chunk.
// A body spliced from the runs of consecutive blocks, with commas between
// them, is the body spliced from their objects.
func appendRun(runs [][]byte, b *queuedBlock) [][]byte {
	run := b.run()
	if run == nil {
		return append(runs, b.encoded()...)
	}
	if k := len(runs) - 1; k >= 0 {
		if joined, ok := joinRuns(runs[k], run); ok {
			runs[k] = joined
			return runs
		}
	}
	return append(runs, run)
}

// joinRuns returns the run of a, a comma, and b, when b follows a and its
// comma in a's memory. b is a run of the arena, so only a run of the same
// chunk can hold it within its capacity, and each such run is followed by
// a comma: that byte is not read again (it would cost a cache miss a
// block).
func joinRuns(a, b []byte) ([]byte, bool) {
	n := len(a) + 1 + len(b)
	if len(b) == 0 || cap(a) < n {
		return nil, false
	}
	joined := a[:n]
	if &joined[len(a)+1] != &b[0] {
		return nil, false
	}
	return joined, true
}
