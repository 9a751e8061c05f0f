package notifications

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The same blocks read back from memory and from the disk: the same
// events; and for blocks written with their JSON (a Broadcaster's), stored
// JSON that splices into the envelope appendEnvelope writes, while a
// Write's events, stored in binary, come back as events, encoded at
// delivery.
func TestSpoolStoreMemoryAndDiskAgree(t *testing.T) {
	for _, memory := range []int{0, -1} {
		for _, withJSON := range []bool{false, true} {
			t.Run(fmt.Sprint("memory ", memory, " JSON ", withJSON), func(t *testing.T) {
				s, err := openSpoolMemory(t.TempDir(), "e", time.Second, testLogger(), memory)
				require.NoError(t, err)
				defer s.close()
				var want []Event
				for i, size := range []int{1, 3, 2} {
					block := testEvents(fmt.Sprint("b", i), size)
					block[0].Target.Tag = "<tag & \u2028>" // escaped alike
					want = append(want, block...)
					b := queuedBlock{events: block, written: stampOf(time.Unix(0, int64(i+1)))}
					if withJSON {
						objects, err := EncodeEvents(block)
						require.NoError(t, err)
						b.json = &blockJSON{objects: objects}
					}
					require.NoError(t, s.push(b))
				}
				blocks, err := s.peek(0, 100)
				require.NoError(t, err)
				require.Len(t, blocks, 3)
				// The record keeps the wall clock's reading at the write,
				// taken when it is stored: to within the clocks' drift.
				assert.InDelta(t, int64(1), blocks[0].written.time().UnixNano(), float64(time.Millisecond))
				got := flatten(blocks)
				require.Len(t, got, len(want))
				for i := range want {
					assert.True(t, want[i].Timestamp.Equal(got[i].Timestamp))
					got[i].Timestamp = want[i].Timestamp
				}
				assert.Equal(t, want, got)

				stored := flattenJSON(blocks)
				if !withJSON {
					assert.Nil(t, stored)
				} else {
					require.Len(t, stored, len(want))
					spliced := appendEnvelopeJSON(nil, stored)
					encoded, err := appendEnvelope(nil, want)
					require.NoError(t, err)
					assert.Equal(t, string(encoded), string(spliced), "stored bytes are the wire bytes")
				}

				ahead, err := s.peek(1, 100)
				require.NoError(t, err)
				assert.Equal(t, ids(want[1:]), ids(flatten(ahead)), "look-ahead past the first block")
				require.NoError(t, s.pop(1))
				assert.Equal(t, 5, s.len())
				more := testEvents("more", 2)
				require.NoError(t, s.push(queuedBlock{events: more, written: stampNow()}))
				blocks, err = s.peek(2, 100)
				require.NoError(t, err)
				assert.Equal(t, ids(more), ids(flatten(blocks)), "past the blocks peeked ahead, what came since")
				blocks, err = s.peek(0, 100)
				require.NoError(t, err)
				assert.Equal(t, append(ids(want[1:]), ids(more)...), ids(flatten(blocks)))
			})
		}
	}
}

func TestFlattenJSONNeedsEveryBlocksJSON(t *testing.T) {
	encoded, err := EncodeEvents(testEvents("b", 1))
	require.NoError(t, err)
	blocks := []queuedBlock{{events: testEvents("a", 1)}, {events: testEvents("b", 1), json: withJSON(encoded)}}
	assert.Nil(t, flattenJSON(blocks), "a block written with Write has no JSON")
	assert.Len(t, flattenJSON(blocks[1:]), 1)
}

// A block whose events do not decode (written by another version, say)
// is logged and acknowledged, not retried for ever: items that are
// neither JSON objects nor binary events, and binary events cut short.
func TestSpoolStoreSkipsUndecodableBlocks(t *testing.T) {
	e := goldenEvent()
	binary, err := appendBinaryEvent(nil, &e)
	require.NoError(t, err)
	for _, items := range [][][]byte{
		{[]byte("not json"), []byte("{")},
		{binary, binary[:len(binary)-1]},
	} {
		s, err := openSpoolMemory(t.TempDir(), "e", time.Second, testLogger(), -1)
		require.NoError(t, err)
		_, err = s.log.Append(0, items, nil)
		require.NoError(t, err)
		want := pushBlocks(t, s, "a", 2)
		require.Equal(t, 4, s.len())
		got, _ := drainSpool(t, s, 100)
		assert.Equal(t, want, got)
		assert.Zero(t, s.len())
		assert.Equal(t, 2, s.takeLost(), "counted as lost")
		assert.Zero(t, s.takeLost(), "once")
		require.NoError(t, s.close())
	}
}

// Writes race Close on a spooled endpoint: every Write that returned nil
// is delivered, now or by the next endpoint on the same spool.
func TestSpoolWriteRacesClose(t *testing.T) {
	dir := t.TempDir()
	rc := newReceiver(t, nil)
	config := fastConfig()
	config.SpoolDir = dir
	config.Logger = testLogger()
	config.CloseTimeout = time.Millisecond
	for round := range 5 {
		e, err := OpenEndpoint("race", rc.URL, config)
		require.NoError(t, err)
		var mu sync.Mutex
		var accepted []string
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					block := testEvents(fmt.Sprintf("r%d-w%d-%d", round, w, i), 1+i%2)
					err := e.Write(block...)
					if errors.Is(err, ErrSinkClosed) {
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					accepted = append(accepted, ids(block)...)
					mu.Unlock()
				}
			})
		}
		eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(accepted) > 100 }, "writes under way")
		_ = e.Close()
		wg.Wait()

		config.CloseTimeout = -1
		e, err = OpenEndpoint("race", rc.URL, config) // delivers what the first left
		require.NoError(t, err)
		require.NoError(t, e.Close())
		config.CloseTimeout = time.Millisecond
		got := map[string]bool{}
		for _, id := range ids(rc.received()) {
			got[id] = true
		}
		for _, id := range accepted {
			require.True(t, got[id], "round %d: %s accepted by Write, never delivered", round, id)
		}
	}
}

// A queue over a spool that keeps only a few blocks in memory: what it
// delivers comes from memory and from the disk, in order.
func TestSpoolQueueBeyondMemory(t *testing.T) {
	s, err := openSpoolMemory(t.TempDir(), "tail", time.Second, testLogger(), 2000)
	require.NoError(t, err)
	next := &fakeDeliverer{}
	q, _, _ := newTestQueueOver(next, s, EndpointConfig{MaxBatch: 7})
	var want []string
	for i := range 200 {
		block := testEvents(fmt.Sprint("t", i), 1+i%3)
		want = append(want, ids(block)...)
		require.NoError(t, q.Write(block...))
	}
	require.NoError(t, q.Close())
	assert.Equal(t, want, ids(next.events()))
}

// A spooled Write encodes its events into a buffer used again by the next
// one, and the memory keeps the block as its first event's address: the
// spool allocates nothing, however many collections run between writes.
func TestSpoolPushAllocations(t *testing.T) {
	s, err := openSpoolMemory(t.TempDir(), "e", time.Second, testLogger(), 0)
	require.NoError(t, err)
	defer s.close()
	block := queuedBlock{events: testEvents("a", 1), written: stampNow()}
	require.NoError(t, s.push(block)) // the first one makes the buffer
	allocs := allocsPerRun(200, func() {
		if err := s.push(block); err != nil {
			t.Error(err)
		}
	})
	assert.Zero(t, allocs)
}

// A Write takes no lock of the queue's while its goroutine is busy
// delivering (it takes the mutex only to wake the goroutine when that
// waits), with a spool or without: with the queue's mutex held and a POST
// out, Writes still store their events, delivered once the receiver
// answers.
func TestWriteTakesNoQueueLock(t *testing.T) {
	for _, spooled := range []bool{false, true} {
		t.Run(fmt.Sprint("spool=", spooled), func(t *testing.T) {
			arrived, answer := make(chan struct{}), make(chan struct{})
			var once sync.Once
			rc := newReceiver(t, func(n int, w http.ResponseWriter) int {
				once.Do(func() {
					close(arrived)
					<-answer
				})
				return http.StatusOK
			})
			config := fastConfig()
			if spooled {
				config.SpoolDir = t.TempDir()
			}
			config.Logger = testLogger()
			e, err := OpenEndpoint("nolock", rc.URL, config)
			require.NoError(t, err)
			q := e.Sink.(*eventQueue)
			require.NoError(t, e.Write(testEvents("first", 1)...))
			<-arrived // the goroutine waits for the answer, not for events

			q.mu.Lock()
			written := make(chan error, 1)
			go func() { written <- e.Write(testEvents("held", 3)...) }()
			select {
			case err := <-written:
				assert.NoError(t, err)
			case <-time.After(10 * time.Second):
				t.Error("a Write waited for the queue's mutex")
			}
			q.mu.Unlock()
			close(answer)
			require.NoError(t, e.Close())
			assert.Len(t, rc.received(), 4)
		})
	}
}
