package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Concurrent appenders: every record that Append accepted is read back
// whole, once, and each appender's records in the order it appended them.
func TestAppendConcurrent(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{SegmentSize: 4 << 10})
	const writers, per = 8, 300
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				_, err := l.Append(int64(w), [][]byte{fmt.Appendf(nil, "%d-%d", w, i), []byte("x")}, nil)
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 2*writers*per, l.Len())
	require.NoError(t, l.Close())
	segs := segmentFiles(t, dir)
	for _, name := range segs[:len(segs)-1] {
		fi, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Greater(t, fi.Size(), int64(4<<10-100), "%s: rotated only when full", name)
	}

	l = openLog(t, dir, Options{})
	defer l.Close()
	got, _ := drain(t, l, 50)
	next := make([]int, writers)
	for _, item := range got {
		if item == "x" {
			continue
		}
		var w, i int
		_, err := fmt.Sscanf(item, "%d-%d", &w, &i)
		require.NoError(t, err)
		assert.Equal(t, next[w], i, "writer %d in order", w)
		next[w] = i + 1
	}
	assert.Equal(t, slices.Repeat([]int{per}, writers), next)
}

// Spans say where records lie: reading from a span's end reads the next
// record.
func TestAppendSpans(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	defer l.Close()
	a, err := l.Append(1, [][]byte{[]byte("a")}, nil)
	require.NoError(t, err)
	b, err := l.Append(2, [][]byte{[]byte("b")}, nil)
	require.NoError(t, err)
	assert.Equal(t, a.To, b.From)
	blocks, err := l.Read(a.To, 10)
	require.NoError(t, err)
	require.Len(t, blocks, 1)
	assert.Equal(t, b, blocks[0].Span)
	assert.Equal(t, int64(2), blocks[0].Stamp)
}

// The race detector's test: Close while appenders write and the syncer
// fsyncs every microsecond. Appends either succeed (and are read back after
// a reopen) or fail with ErrClosed.
func TestCloseRacesAppendAndSync(t *testing.T) {
	for round := range 20 {
		dir := t.TempDir()
		l := openLog(t, dir, Options{SyncEvery: time.Microsecond, SegmentSize: 512})
		var mu sync.Mutex
		var accepted []string
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					item := fmt.Sprintf("%d-%d-%d", round, w, i)
					_, err := l.Append(0, [][]byte{[]byte(item)}, nil)
					if errors.Is(err, ErrClosed) {
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					accepted = append(accepted, item)
					mu.Unlock()
				}
			})
		}
		wg.Go(func() {
			for range 50 {
				if _, err := l.Read(l.Start(), 10); errors.Is(err, ErrClosed) {
					return
				}
			}
		})
		for l.Len() < 50 {
			time.Sleep(10 * time.Microsecond) // let the appenders run; correctness does not depend on it
		}
		require.NoError(t, l.Close())
		wg.Wait()

		l = openLog(t, dir, Options{})
		got, _ := drain(t, l, 1000)
		require.NoError(t, l.Close())
		slices.Sort(got)
		slices.Sort(accepted)
		require.Equal(t, accepted, got, "round %d: exactly what Append accepted", round)
	}
}

// SyncEvery: the first write arms the fsync, which runs SyncEvery later,
// and a log with nothing new written does not fsync.
func TestSyncEvery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := openLog(t, t.TempDir(), Options{SyncEvery: time.Second})
		dirty := func() bool { return l.unsynced.Load() } // written since the last fsync, committed or not
		_, err := l.Append(0, [][]byte{[]byte("a")}, nil)
		require.NoError(t, err)
		assert.True(t, dirty(), "written, not yet synced")
		time.Sleep(999 * time.Millisecond)
		synctest.Wait()
		assert.True(t, dirty(), "not before SyncEvery")
		time.Sleep(time.Millisecond)
		synctest.Wait()
		assert.False(t, dirty(), "synced SyncEvery after the write")

		_, err = l.Append(0, [][]byte{[]byte("b")}, nil)
		require.NoError(t, err)
		time.Sleep(500 * time.Millisecond)
		_, err = l.Append(0, [][]byte{[]byte("c")}, nil)
		require.NoError(t, err)
		time.Sleep(500 * time.Millisecond)
		synctest.Wait()
		assert.False(t, dirty(), "at most SyncEvery after the first unsynced write")
		require.NoError(t, l.Close())
	})
}

// The newest records are read from memory, with their value; older ones,
// past MemoryBytes, from the disk; both the same.
func TestReadFromMemoryAndDisk(t *testing.T) {
	for _, memory := range []int{-1, 200, DefaultMemoryBytes} {
		t.Run(fmt.Sprint(memory), func(t *testing.T) {
			l := openLog(t, t.TempDir(), Options{MemoryBytes: memory, SegmentSize: 100})
			defer l.Close()
			var want []string
			for i := range 10 {
				item := fmt.Sprint("item-", i)
				want = append(want, item)
				_, err := l.Append(int64(i), [][]byte{[]byte(item)}, i)
				require.NoError(t, err)
			}
			blocks, err := l.Read(l.Start(), 100)
			require.NoError(t, err)
			var got []string
			fromMemory := 0
			for i, b := range blocks {
				got = append(got, string(b.Items[0]))
				assert.Equal(t, int64(i), b.Stamp)
				if b.Value != nil {
					assert.Equal(t, i, b.Value)
					fromMemory++
				}
			}
			assert.Equal(t, want, got)
			switch memory {
			case -1:
				assert.Zero(t, fromMemory)
			case 200:
				assert.Positive(t, fromMemory)
				assert.Less(t, fromMemory, 10, "the oldest were forgotten")
			default:
				assert.Equal(t, 10, fromMemory)
			}
			got, _ = drain(t, l, 3)
			assert.Equal(t, want, got)
		})
	}
}

// AppendCopy writes from a buffer the caller reuses: the memory keeps the
// value alone (a block from memory has no Items, and its Count), the disk
// the bytes as they were when AppendCopy returned; without a value the
// record is read from the disk.
func TestAppendCopy(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	defer l.Close()
	buf := make([]byte, 0, 64)
	var want []string
	for i := range 6 {
		buf = fmt.Appendf(buf[:0], "item-%d", i)
		want = append(want, string(buf))
		var value any
		if i%2 == 0 {
			value = i
		}
		_, err := l.AppendCopy(int64(i), [][]byte{buf}, value)
		require.NoError(t, err)
	}
	buf = append(buf[:0], "clobbered"...)

	blocks, err := l.Read(l.Start(), 100)
	require.NoError(t, err)
	require.Len(t, blocks, 6)
	for i, b := range blocks {
		assert.Equal(t, 1, b.Count)
		if i%2 == 0 {
			assert.Equal(t, i, b.Value, "from memory")
			assert.Nil(t, b.Items)
		} else {
			assert.Nil(t, b.Value, "from the disk")
			assert.Equal(t, want[i], string(b.Items[0]))
		}
	}
	assert.Equal(t, 6, l.Len())

	// Read from the disk alone, all of it as it was written.
	l2 := openLog(t, t.TempDir(), Options{MemoryBytes: -1})
	defer l2.Close()
	for i := range 3 {
		buf = fmt.Appendf(buf[:0], "item-%d", i)
		_, err := l2.AppendCopy(int64(i), [][]byte{buf}, i)
		require.NoError(t, err)
	}
	buf = append(buf[:0], "clobbered"...)
	got, _ := drain(t, l2, 2)
	assert.Equal(t, want[:3], got)
}

// ReadInto reads back every record appended, in order, a disk chunk at a
// time into the buffer it is lent again each time: records small and
// larger than a chunk, from memory and from the disk, across segments.
func TestReadIntoReadsWhatReadReads(t *testing.T) {
	for _, memory := range []int{-1, 64 << 10} {
		t.Run(fmt.Sprint(memory), func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, Options{MemoryBytes: memory, SegmentSize: 1 << 20})
			defer l.Close()
			var want []string
			for i := range 3000 {
				item := fmt.Sprintf("%d-%s", i, make([]byte, (i%7)*100))
				if i%1000 == 500 {
					item = fmt.Sprintf("%d-%s", i, make([]byte, readChunk+1000)) // alone in its read
				}
				want = append(want, item)
				_, err := l.Append(int64(i), [][]byte{[]byte(item)}, nil)
				require.NoError(t, err)
			}

			var buf ReadBuffer
			var got []string
			reads := 0
			for p := l.Start(); ; reads++ {
				blocks, err := l.ReadInto(&buf, p, 1000)
				require.NoError(t, err)
				if len(blocks) == 0 {
					break
				}
				for _, b := range blocks {
					got = append(got, string(b.Items[0])) // copied: the buffer is lent again
					p = b.Span.To
				}
			}
			require.Equal(t, len(want), len(got))
			assert.Equal(t, want, got)
			assert.Greater(t, reads, 3, "at most one chunk of the disk a read")
			assert.LessOrEqual(t, cap(buf.data), readChunk, "a large record does not pin its size")
		})
	}
}

// A reader that reads again and again, from memory or from the disk,
// allocates nothing once its buffer is made: the blocks it is given come
// in the buffer's memory too.
func TestReadIntoAllocatesNothingAgain(t *testing.T) {
	for _, memory := range []int{-1, 64 << 10} {
		t.Run(fmt.Sprint(memory), func(t *testing.T) {
			l := openLog(t, t.TempDir(), Options{MemoryBytes: memory})
			defer l.Close()
			for i := range 100 {
				_, err := l.Append(int64(i), [][]byte{[]byte(fmt.Sprint("item ", i))}, nil)
				require.NoError(t, err)
			}
			var buf ReadBuffer
			read := func() {
				blocks, err := l.ReadInto(&buf, l.Start(), 1000)
				if err != nil || len(blocks) == 0 {
					t.Error("nothing read", err)
				}
			}
			read()
			assert.Zero(t, allocsPerRun(20, read))
		})
	}
}

// An appender takes no lock to commit its record: Len, Read and the
// syncer commit what was appended, and the record counts, and reads back
// with its value from memory, as soon as its Append returned. Appenders
// commit only once the records waiting for a commit fill half the ring.
func TestAppendersLeaveTheCommitToReaders(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	defer l.Close()
	_, err := l.Append(1, [][]byte{[]byte("a")}, "value a")
	require.NoError(t, err)
	assert.Zero(t, l.committed.Load(), "the appender left its record uncommitted")
	assert.Equal(t, 1, l.Len())
	assert.EqualValues(t, 1, l.committed.Load(), "Len committed it")

	_, err = l.Append(2, [][]byte{[]byte("b")}, "value b")
	require.NoError(t, err)
	blocks, err := l.Read(l.Start(), 10)
	require.NoError(t, err)
	require.Len(t, blocks, 2)
	assert.Equal(t, "value b", blocks[1].Value, "read from memory")

	for i := range ringSize/2 + 1 { // tickets 2 to ringSize/2+2
		_, err := l.Append(int64(i), [][]byte{[]byte("c")}, nil)
		require.NoError(t, err)
	}
	assert.Greater(t, l.committed.Load(), uint64(2), "an appender committed once half the ring waited")
}

// allocsPerRun is testing.AllocsPerRun at its fewest over three tries. It
// counts the whole process's allocations, so the log's own syncer (arming
// its timer) or a goroutine of an earlier test can add to one try; the
// code measured allocates in every try.
func allocsPerRun(runs int, f func()) float64 {
	fewest := testing.AllocsPerRun(runs, f)
	for range 2 {
		fewest = min(fewest, testing.AllocsPerRun(runs, f))
	}
	return fewest
}
