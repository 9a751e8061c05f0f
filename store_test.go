package notifications

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The memory store, across its chunks, peeks and pops as a plain slice of
// the same blocks would: whole blocks, in order, as many as fit.
func TestMemoryStoreMatchesASlice(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	m := &memoryStore{}
	var model [][]string // the blocks' IDs, oldest first
	pushed, events := 0, 0
	for step := range 2000 {
		switch {
		case r.IntN(3) > 0 || len(model) == 0: // push a burst
			for range r.IntN(300) {
				block := testEvents(fmt.Sprint("b", pushed), 1+r.IntN(3))
				pushed++
				require.NoError(t, m.push(queuedBlock{events: block, written: stampNow()}))
				model = append(model, ids(block))
				events += len(block)
			}
		default:
			skip := r.IntN(min(len(model), 3) + 1)
			maxEvents := 1 + r.IntN(1200)
			got, err := m.peek(skip, maxEvents)
			require.NoError(t, err)
			var want [][]string
			n := 0
			for _, b := range model[min(skip, len(model)):] {
				if len(want) > 0 && n+len(b) > maxEvents {
					break
				}
				want = append(want, b)
				n += len(b)
			}
			require.Len(t, got, len(want), "step %d", step)
			for i := range got {
				assert.Equal(t, want[i], ids(got[i].events))
			}
			if skip == 0 && len(got) > 0 {
				k := 1 + r.IntN(len(got))
				require.NoError(t, m.pop(k))
				for _, b := range model[:k] {
					events -= len(b)
				}
				model = model[k:]
			}
		}
		require.Equal(t, events, m.len())
	}
}

// A push never changes blocks a peek returned.
func TestMemoryStorePeekSurvivesPush(t *testing.T) {
	m := &memoryStore{}
	for i := range minChunkBlocks - 1 {
		require.NoError(t, m.push(queuedBlock{events: testEvents(fmt.Sprint("a", i), 1)}))
	}
	peeked, err := m.peek(0, 1000)
	require.NoError(t, err)
	require.Len(t, peeked, minChunkBlocks-1)
	before := ids(flatten(peeked))
	for i := range 3 * minChunkBlocks {
		require.NoError(t, m.push(queuedBlock{events: testEvents(fmt.Sprint("b", i), 1)}))
	}
	assert.Equal(t, before, ids(flatten(peeked)))
}

// A store that keeps up, drained batch after batch, reuses the chunk it
// popped instead of allocating a new one each time.
func TestMemoryStoreReusesPoppedChunk(t *testing.T) {
	m := &memoryStore{}
	block := queuedBlock{events: testEvents("r", 1)}
	cycles := func() {
		for range 50 { // batches of 1000 blocks: 12 chunks' worth
			for range 1000 {
				_ = m.push(block)
			}
			_ = m.pop(1000)
		}
	}
	cycles()
	assert.Zero(t, allocsPerRun(3, cycles), "a store that keeps up allocates no chunk")
	assert.Zero(t, m.len())
}

// Asked to remove more blocks than it holds, the store removes what it
// has and says so, rather than loop for ever under its mutex.
func TestMemoryStorePopPastTheEnd(t *testing.T) {
	for _, held := range []int{0, 3, minChunkBlocks, minChunkBlocks + 2} {
		t.Run(fmt.Sprint(held), func(t *testing.T) {
			m := &memoryStore{}
			for i := range held {
				require.NoError(t, m.push(queuedBlock{events: testEvents(fmt.Sprint("p", i), 1)}))
			}
			assert.Error(t, m.pop(held+1))
			assert.Zero(t, m.len())
			require.NoError(t, m.push(queuedBlock{events: testEvents("after", 1)}))
			assert.Equal(t, 1, m.len(), "usable afterwards")
		})
	}
}

// A store drained batch after batch, whose batches span chunks, copies
// them into the memory of copies whose blocks were popped, even after
// copies too small for them (of an endpoint that kept up) took every slot.
func TestMemoryStoreReusesCopies(t *testing.T) {
	for _, small := range []bool{false, true} {
		t.Run(fmt.Sprint("after small copies ", small), func(t *testing.T) {
			m := &memoryStore{}
			if small {
				for range maxBlockCopies {
					m.copies = append(m.copies, blockCopy{mem: make([]queuedBlock, 0, 2)})
				}
			}
			block := queuedBlock{events: testEvents("c", 1)}
			for range 3 * maxChunkBlocks { // a backlog of full chunks
				_ = m.push(block)
			}
			cycles := func() {
				for range 20 { // batches of 1000 blocks, one taken ahead
					ahead, _ := m.peek(1000, 1000)
					_ = ahead
					for range 1000 {
						_ = m.push(block)
					}
					_ = m.pop(1000)
				}
			}
			cycles()
			assert.Zero(t, allocsPerRun(3, cycles), "copies and chunks are reused")
		})
	}
}

// A copy is not reused while any of its blocks is in the store, and holds
// no event once they were all popped.
func TestMemoryStoreCopyLivesUntilPopped(t *testing.T) {
	m := &memoryStore{}
	for i := range 8 * minChunkBlocks {
		require.NoError(t, m.push(queuedBlock{events: testEvents(fmt.Sprint("k", i), 1)}))
	}
	first, err := m.peek(0, 2*minChunkBlocks) // across the first two chunks
	require.NoError(t, err)
	want := ids(flatten(first))
	require.NoError(t, m.pop(2*minChunkBlocks-1)) // all but its last block
	for range maxBlockCopies + 1 {
		_, err := m.peek(1, 2*minChunkBlocks) // across chunks too
		require.NoError(t, err)
	}
	require.Len(t, m.copies, maxBlockCopies)
	assert.Equal(t, want, ids(flatten(first)), "a copy whose blocks are not all popped")
	require.NoError(t, m.pop(1+4*minChunkBlocks)) // past every copy
	for _, c := range m.copies {
		assert.Zero(t, c.held)
		for _, b := range c.mem[:cap(c.mem)] {
			assert.Nil(t, b.events, "a free copy holds no event")
		}
	}
}

// A stamp gives back the time it was taken from: to the nanosecond for
// one read back from a spool (wall clock only); for one read now, the
// clock base's wall time plus the monotonic time since, which the wall
// clock may have drifted from by a little.
func TestStampKeepsTheTime(t *testing.T) {
	for _, tt := range []struct {
		at    time.Time
		drift time.Duration
	}{
		{time.Now(), time.Millisecond},
		{time.Now().Add(-time.Hour), time.Millisecond},
		{time.Unix(0, 1), 0},
		{time.Unix(0, 1_700_000_000_123_456_789), 0},
	} {
		s := stampOf(tt.at)
		// Sub reads the monotonic clock when both times carry it: a step
		// of the wall clock during the test (this machine's is stepped now
		// and then) changes nothing.
		assert.InDelta(t, 0, float64(s.time().Sub(tt.at)), float64(tt.drift))
		assert.InDelta(t, time.Since(tt.at), s.since(), float64(time.Second))
		assert.InDelta(t, tt.at.UnixNano(), s.wallNanos(), float64(time.Second), "the wall clock's reading")
	}
}

// A stamp's wall time comes from the last reading of both clocks while
// that is less than a second old, and from a new one after: a step of the
// wall clock shows within a second. (Not parallel: it moves the anchor.)
func TestWallNanosReadsTheClocksOnceASecond(t *testing.T) {
	saved := wallAnchor.Load()
	defer wallAnchor.Store(saved)
	now := stampNow()
	stepped := &clockAnchor{at: now, wall: time.Now().Add(time.Hour).UnixNano()} // as if the wall clock stepped an hour
	wallAnchor.Store(stepped)
	assert.InDelta(t, time.Now().Add(time.Hour).UnixNano(), now.wallNanos(), float64(time.Second), "within a second of the anchor: its wall time")
	assert.Same(t, stepped, wallAnchor.Load())

	assert.Equal(t, now, stampOfWall(now.wallNanos()), "a record's wall time gives its stamp back")

	later := now + stamp(2*time.Second)
	assert.InDelta(t, time.Now().Add(2*time.Second).UnixNano(), later.wallNanos(), float64(500*time.Millisecond), "past a second: the clocks read again")
	assert.NotSame(t, stepped, wallAnchor.Load())
}

// time returns the time of s (tests: the package needs only since and
// wallNanos).
func (s stamp) time() time.Time { return clockBase.Add(time.Duration(s)) }
