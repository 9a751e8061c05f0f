package notifications

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The arena encodes what EncodeEvents encodes; each object's capacity is
// its length, so that a sink appending to one never reaches another; the
// run is the objects joined by commas and followed by one.
func TestEncodeSharedIsEncodeEvents(t *testing.T) {
	large := testEvents("large", 1)
	large[0].Target.URLs = []string{strings.Repeat("u", maxArenaShare)}
	for _, tt := range []struct {
		name   string
		events []Event
	}{
		{"one event", testEvents("one", 1)},
		{"several events", bridgeEvents(5)},
		{"larger than an arena's share", large},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var a jsonArena
			a.encodeShared(testEvents("before", 1)) // not at the start of a chunk
			js, err := a.encodeShared(tt.events)
			require.NoError(t, err)
			eventJSON, run := js.objects, js.run
			want, err := EncodeEvents(tt.events)
			require.NoError(t, err)
			require.Equal(t, want, eventJSON)
			for i, js := range eventJSON {
				assert.Equal(t, len(js), cap(js), "object %d ends its capacity", i)
			}
			assert.Equal(t, bytes.Join(want, []byte{','}), run)
			require.Greater(t, cap(run), len(run))
			assert.Equal(t, byte(','), run[:len(run)+1][len(run)], "a comma follows the run")
		})
	}
}

// An event encoding/json refuses fails the arena's encoding as it fails
// EncodeEvents.
func TestEncodeSharedRefusesWhatEncodeEventsRefuses(t *testing.T) {
	events := testEvents("bad", 2)
	events[1].Timestamp = events[1].Timestamp.AddDate(20000, 0, 0)
	var a jsonArena
	_, err := a.encodeShared(events)
	require.Error(t, err)
	_, want := EncodeEvents(events)
	assert.Equal(t, want.Error(), err.Error())
}

// runsOf returns the JSON of blocks as runs, as a batch of them has it.
func runsOf(blocks []queuedBlock) [][]byte {
	var runs [][]byte
	for i := range blocks {
		runs = appendRun(runs, &blocks[i])
	}
	return runs
}

// appendRun joins the runs of blocks that lie one after the other in a
// chunk, and only those: whatever the order, the source or the size of the
// blocks, the pieces joined by commas are the objects joined by commas.
func TestAppendRunJoinsWhatLiesInARow(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	write := func(a *jsonArena, n int) queuedBlock {
		events := randomEvents(r, n)
		js, err := a.encodeShared(events)
		require.NoError(t, err)
		return queuedBlock{events: events, json: js}
	}
	plain := func(n int) queuedBlock { // JSON from elsewhere: a spool, a caller
		events := randomEvents(r, n)
		eventJSON, err := EncodeEvents(events)
		require.NoError(t, err)
		return queuedBlock{events: events, json: withJSON(eventJSON)}
	}
	for _, tt := range []struct {
		name     string
		blocks   func(a, other *jsonArena) []queuedBlock
		maxRuns  int // 0: no bound
		minRuns  int
		oneChunk bool
	}{
		{"in a row", func(a, _ *jsonArena) []queuedBlock {
			return []queuedBlock{write(a, 1), write(a, 3), write(a, 1), write(a, 2)}
		}, 1, 1, true},
		{"out of order", func(a, _ *jsonArena) []queuedBlock {
			b := []queuedBlock{write(a, 1), write(a, 1), write(a, 1), write(a, 1)}
			b[1], b[2] = b[2], b[1]
			return b
		}, 0, 3, true},
		{"with plain blocks between", func(a, _ *jsonArena) []queuedBlock {
			return []queuedBlock{write(a, 2), plain(2), write(a, 1), write(a, 1), plain(1)}
		}, 0, 5, true},
		{"a filtered block between", func(a, _ *jsonArena) []queuedBlock {
			b := []queuedBlock{write(a, 1), write(a, 3), write(a, 1)}
			b[1].events, b[1].json = b[1].events[:2], withJSON(b[1].encoded()[:2]) // as Ignore leaves it
			return b
		}, 0, 4, true},
		{"two arenas", func(a, other *jsonArena) []queuedBlock {
			return []queuedBlock{write(a, 1), write(other, 1), write(a, 1), write(other, 1)}
		}, 0, 4, true},
		{"across chunks", func(a, _ *jsonArena) []queuedBlock {
			var b []queuedBlock
			for range 3 * arenaChunkBytes / 500 {
				b = append(b, write(a, 1))
			}
			return b
		}, 0, 2, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var a, other jsonArena
			blocks := tt.blocks(&a, &other)
			runs := runsOf(blocks)
			var objects [][]byte
			for _, b := range blocks {
				objects = append(objects, b.encoded()...)
			}
			require.Equal(t, string(bytes.Join(objects, []byte{','})), string(bytes.Join(runs, []byte{','})))
			assert.GreaterOrEqual(t, len(runs), tt.minRuns)
			if tt.maxRuns > 0 {
				assert.LessOrEqual(t, len(runs), tt.maxRuns)
			}
			if !tt.oneChunk {
				assert.Less(t, len(runs), len(blocks)/10, "runs join within each chunk")
			}
		})
	}
}

// Runs are joined only through the room of a run: an object's capacity
// is its length, even where its neighbour follows it in memory.
func TestJoinRunsNeedsARunsRoom(t *testing.T) {
	buf := []byte(`{"a":1},{"b":2}`)
	a, b := buf[0:7:7], buf[8:15:15]
	_, ok := joinRuns(a, b)
	assert.False(t, ok, "a clipped object")
	joined, ok := joinRuns(buf[0:7], b)
	require.True(t, ok, "a run's room")
	assert.Equal(t, string(buf), string(joined))
	_, ok = joinRuns(buf[0:7], buf[9:15])
	assert.False(t, ok, "not right after the comma")
	_, ok = joinRuns(buf[0:7], []byte{})
	assert.False(t, ok, "an empty run")
}

// Events written to a Broadcaster one by one, from several goroutines,
// reach each endpoint, in memory or spooled, in the very envelope encoded
// from them, once each; a backlog of them in memory is held as runs a
// batch sends as few pieces.
func TestBroadcasterSendsRunsOfConsecutiveWrites(t *testing.T) {
	for _, spooled := range []bool{false, true} {
		t.Run(fmt.Sprint("spooled ", spooled), func(t *testing.T) {
			receivers := []*rawReceiver{newRawReceiver(t, true), newRawReceiver(t, true)}
			var sinks []Sink
			var queues []*eventQueue
			for i, rc := range receivers {
				config := fastConfig()
				if spooled {
					config.SpoolDir = t.TempDir()
				}
				e, err := OpenEndpoint("runs"+string(rune('a'+i)), rc.URL, config)
				require.NoError(t, err)
				sinks = append(sinks, e)
				queues = append(queues, e.Sink.(*eventQueue))
			}
			b := NewBroadcaster(sinks...)
			const writers, perWriter = 4, 100
			var written sync.Map // ID: Event
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for _, ev := range testEvents("w"+string(rune('0'+w)), perWriter) {
						written.Store(ev.ID, ev)
						assert.NoError(t, b.Write(ev))
					}
				})
			}
			wg.Wait()
			for _, q := range queues { // the first POST is held: the rest waits
				if m, ok := q.store.(*memoryStore); ok { // a spool's peek is its goroutine's alone
					blocks, err := m.peek(0, writers*perWriter)
					require.NoError(t, err)
					assert.Less(t, len(runsOf(blocks)), len(blocks)/4, "consecutive writes join")
				}
			}
			for _, rc := range receivers {
				close(rc.hold)
			}
			checkClose(t, b)
			for i, rc := range receivers {
				seen := map[string]bool{}
				for _, body := range rc.received() {
					var env Envelope
					require.NoError(t, json.Unmarshal(body, &env), "receiver %d", i)
					events := make([]Event, len(env.Events))
					for k, ev := range env.Events {
						assert.False(t, seen[ev.ID], "event %s once", ev.ID)
						seen[ev.ID] = true
						w, ok := written.Load(ev.ID)
						require.True(t, ok, ev.ID)
						events[k] = w.(Event)
					}
					eventJSON, err := EncodeEvents(events)
					require.NoError(t, err)
					assert.Equal(t, string(appendEnvelopeJSON(nil, eventJSON)), string(body), "receiver %d", i)
				}
				assert.Len(t, seen, writers*perWriter, "receiver %d", i)
			}
		})
	}
}

// A batch carries its JSON as runs only for an encoder that splices
// them, a batch of one block as well as of several.
func TestBatchRunsOnlyForASplicer(t *testing.T) {
	var a jsonArena
	write := func(prefix string, n int) queuedBlock {
		events := testEvents(prefix, n)
		js, err := a.encodeShared(events)
		require.NoError(t, err)
		return queuedBlock{events: events, json: js}
	}
	blocks := []queuedBlock{write("a", 3), write("b", 1), write("c", 2)}
	for _, tt := range []struct {
		name    string
		splices bool
		blocks  []queuedBlock
		runs    int // 0: none
	}{
		{"several blocks, spliced", true, blocks, 1},
		{"one block, spliced", true, blocks[:1], 1},
		{"several blocks, not spliced", false, blocks, 0},
		{"one block, not spliced", false, blocks[:1], 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := &eventQueue{maxBatch: DefaultMaxBatch}
			if tt.splices {
				q.splicer = newHTTPDeliverer("http://127.0.0.1:1/", EndpointConfig{}.withDefaults())
			}
			b := q.makeBatch(tt.blocks, false)
			assert.Len(t, b.runs, tt.runs)
			if tt.runs > 0 {
				assert.Equal(t, string(bytes.Join(b.json, []byte{','})), string(bytes.Join(b.runs, []byte{','})))
			}
			assert.Equal(t, b.runs, b.part().runs)
		})
	}
}

// Flattening a batch's JSON allocates nothing for blocks written without
// it, and builds no runs for blocks of JSON without one: the memory of
// runs is kept for a later batch.
func TestFlattenJSONAllocatesOnlyWhatItKeeps(t *testing.T) {
	plain := []queuedBlock{{events: testEvents("p", 1)}, {events: testEvents("q", 1)}}
	var json, runs [][]byte
	allocs := allocsPerRun(10, func() {
		json, runs = flattenJSONInto(nil, nil, plain, DefaultMaxBatch, true)
	})
	assert.Nil(t, json)
	assert.Empty(t, runs)
	assert.Zero(t, allocs, "blocks without JSON")

	var withJSON []queuedBlock
	for _, id := range []string{"a", "b", "c"} {
		events := testEvents(id, 1)
		eventJSON, err := EncodeEvents(events)
		require.NoError(t, err)
		withJSON = append(withJSON, queuedBlock{events: events, json: &blockJSON{objects: eventJSON}})
	}
	jsonMem, runsMem := make([][]byte, 0, 8), make([][]byte, 0, 8)
	allocs = allocsPerRun(10, func() {
		json, runs = flattenJSONInto(jsonMem, runsMem, withJSON, DefaultMaxBatch, true)
	})
	assert.Len(t, json, 3)
	assert.Empty(t, runs)
	assert.Zero(t, allocs, "blocks of JSON without runs")
}
