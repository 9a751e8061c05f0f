package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func quietOptions() Options {
	l := logrus.New()
	l.SetOutput(discard{})
	return Options{Logger: l}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func openLog(t testing.TB, dir string, opt Options) *Log {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = quietOptions().Logger
	}
	l, err := Open(dir, opt)
	require.NoError(t, err)
	return l
}

// appendBlocks appends blocks of the given sizes, items prefix-0,
// prefix-1, ..., and returns the items in order.
func appendBlocks(t testing.TB, l *Log, prefix string, sizes ...int) []string {
	t.Helper()
	var want []string
	for _, size := range sizes {
		items := make([][]byte, size)
		for i := range items {
			items[i] = fmt.Appendf(nil, "%s-%d", prefix, len(want))
			want = append(want, string(items[i]))
		}
		_, err := l.Append(int64(len(want)), items, nil)
		require.NoError(t, err)
	}
	return want
}

// drain reads and acknowledges everything from Start, returning the items
// in order and the size of each batch.
func drain(t testing.TB, l *Log, maxItems int) (got []string, batches []int) {
	t.Helper()
	for l.Len() > 0 {
		blocks, err := l.Read(l.Start(), maxItems)
		require.NoError(t, err)
		if len(blocks) == 0 {
			break
		}
		n := 0
		for _, b := range blocks {
			for _, it := range b.Items {
				got = append(got, string(it))
			}
			n += len(b.Items)
		}
		batches = append(batches, n)
		require.NoError(t, l.Ack(blocks[len(blocks)-1].Span.To, n))
	}
	return got, batches
}

func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var segs []string
	for _, e := range entries {
		if filepath.Ext(e.Name()) == segmentSuffix {
			segs = append(segs, e.Name())
		}
	}
	return segs
}

// logSegmentFiles returns the segment files of an open log but for the
// one its syncer may have created ahead of the writer's.
func logSegmentFiles(t *testing.T, l *Log) []string {
	t.Helper()
	l.mu.Lock()
	ahead := filepath.Base(l.segmentPath(l.w.seq + 1))
	l.mu.Unlock()
	files := segmentFiles(t, l.dir)
	return slices.DeleteFunc(files, func(name string) bool { return name == ahead })
}

func TestLogReplaysAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	want := appendBlocks(t, l, "a", 3, 1, 2, 4)
	require.NoError(t, l.Close())
	assert.ErrorIs(t, l.Close(), ErrClosed, "a second Close")

	l = openLog(t, dir, Options{})
	assert.Equal(t, 10, l.Len(), "what was left is counted at open")
	more := appendBlocks(t, l, "b", 2)
	got, batches := drain(t, l, 5)
	assert.Equal(t, append(want, more...), got, "old items first, in order, then new ones")
	assert.Equal(t, []int{4, 2, 4, 2}, batches, "whole blocks, at most five items a batch")
	require.NoError(t, l.Close())
	assert.Empty(t, segmentFiles(t, dir), "a drained log keeps no segment")
}

// Files in the directory that this package did not write are left alone:
// a name ending in .seg that is not a segment's does not stop Open.
func TestLogIgnoresStrayFiles(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	want := appendBlocks(t, l, "a", 2, 1)
	require.NoError(t, l.Close())
	for _, name := range []string{"bad.seg", "1.seg", "00000000000000001.seg", "notes.txt"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("not a segment"), 0o600))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "00000000000000ff.seg"), 0o700))

	l = openLog(t, dir, Options{})
	assert.Equal(t, 3, l.Len())
	got, _ := drain(t, l, 10)
	assert.Equal(t, want, got)
	require.NoError(t, l.Close())
}

// Segments a crash left at their pre-allocated size (the writer's, with
// zeros after its records, and the next one, all zeros) are cut to their
// records when the log is opened again: a process that keeps dying does
// not grow the spool by two segments each time.
func TestLogCutsCrashLeftSegments(t *testing.T) {
	dir := t.TempDir()
	const size = 64 << 10
	l := openLog(t, dir, Options{SegmentSize: size})
	want := appendBlocks(t, l, "a", 3, 2)
	require.NoError(t, l.Close())
	segs := segmentFiles(t, dir)
	require.Len(t, segs, 1)
	last := filepath.Join(dir, segs[0])
	fi, err := os.Stat(last)
	require.NoError(t, err)
	records := fi.Size()
	require.NoError(t, os.Truncate(last, size)) // as a crash leaves the writer's segment
	var seq uint64
	_, err = fmt.Sscanf(segs[0], "%016x.seg", &seq)
	require.NoError(t, err)
	next := filepath.Join(dir, fmt.Sprintf("%016x.seg", seq+1))
	require.NoError(t, os.WriteFile(next, make([]byte, size), 0o600)) // and the one made ahead

	l = openLog(t, dir, Options{SegmentSize: size})
	for path, want := range map[string]int64{last: records, next: 0} {
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, want, fi.Size(), "%s cut to its records", filepath.Base(path))
	}
	got, _ := drain(t, l, 10)
	assert.Equal(t, want, got)
	require.NoError(t, l.Close())
}

// Once writing the log back to disk failed, Append refuses (the kernel may
// have dropped the pages it could not write: records taken after that
// could be lost unseen); what the log holds can still be read.
func TestLogRefusesAppendsAfterAFailedSync(t *testing.T) {
	dir := t.TempDir()
	eio := errors.New("input/output error")
	var failing atomic.Bool
	opt := Options{SyncEvery: time.Millisecond, syncSegment: func(s *segment, end int64) error {
		if failing.Load() {
			return eio
		}
		return s.sync(end)
	}}
	l := openLog(t, dir, opt)
	want := appendBlocks(t, l, "a", 2)
	failing.Store(true)
	require.Eventually(t, func() bool {
		_, err := l.Append(0, [][]byte{[]byte("b")}, nil)
		if err == nil {
			want = append(want, "b")
		}
		return errors.Is(err, ErrSyncFailed) && errors.Is(err, eio)
	}, 10*time.Second, time.Millisecond, "a sync fails, then Append refuses")
	got, _ := drain(t, l, 100)
	assert.Equal(t, want, got, "what was taken is read")
	require.NoError(t, l.Close())
}

func TestLogResumesAfterPartialAck(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{SegmentSize: 70}) // two records a segment
	want := appendBlocks(t, l, "a", 1, 1, 1, 1, 1, 1, 1, 1)
	assert.Len(t, logSegmentFiles(t, l), 4)
	blocks, err := l.Read(l.Start(), 3)
	require.NoError(t, err)
	require.Len(t, blocks, 3)
	require.NoError(t, l.Ack(blocks[2].Span.To, 3))
	blocks, err = l.Read(l.Start(), 2)
	require.NoError(t, err)
	require.Len(t, blocks, 2) // read, not acknowledged: read again after a restart
	require.NoError(t, l.Close())

	l = openLog(t, dir, Options{})
	defer l.Close()
	got, _ := drain(t, l, 100)
	assert.Equal(t, want[3:], got)
}

func TestLogRemovesConsumedSegments(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{SegmentSize: 64})
	defer l.Close()
	appendBlocks(t, l, "a", 1, 1, 1, 1, 1, 1)
	before := len(segmentFiles(t, dir))
	got, _ := drain(t, l, 2)
	assert.Len(t, got, 6)
	assert.Less(t, len(segmentFiles(t, dir)), before)
	assert.Len(t, logSegmentFiles(t, l), 1, "only the writer's segment is left")
}

func TestLogReadAhead(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	defer l.Close()
	want := appendBlocks(t, l, "a", 2, 2, 2)
	first, err := l.Read(l.Start(), 2)
	require.NoError(t, err)
	second, err := l.Read(first[0].Span.To, 100)
	require.NoError(t, err, "reading past what was read, before acknowledging it")
	require.Len(t, second, 2)
	assert.Equal(t, want[2], string(second[0].Items[0]))
	assert.Equal(t, 6, l.Len(), "reading acknowledges nothing")
}

func TestLogLock(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	_, err := Open(dir, quietOptions())
	assert.ErrorIs(t, err, ErrLocked)
	require.NoError(t, l.Close())
	l = openLog(t, dir, Options{})
	require.NoError(t, l.Close(), "closing releases the lock")
}

func TestLogOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err := Open(filepath.Join(file, "log"), quietOptions())
	assert.Error(t, err, "a log dir under a file")
}

func TestLogIgnoresStaleCursor(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	want := appendBlocks(t, l, "a", 2, 3)
	stale := encodeCursor(Position{Segment: 7}) // a segment that does not exist
	_, err := l.cursor.WriteAt(stale[:], 0)
	require.NoError(t, err)
	require.NoError(t, l.Close())

	l = openLog(t, dir, Options{})
	defer l.Close()
	got, _ := drain(t, l, 100)
	assert.Equal(t, want, got, "nothing deleted on a stale cursor's word")
}

func TestLogCloseRemovesCursorBeforeSegments(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	appendBlocks(t, l, "a", 1)
	drain(t, l, 10)
	require.NoError(t, l.Close())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.Equal(t, lockName, e.Name(), "an emptied log keeps only its lock file")
	}
}

func TestLogClosedRefuses(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	require.NoError(t, l.Close())
	_, err := l.Append(0, [][]byte{[]byte("x")}, nil)
	assert.ErrorIs(t, err, ErrClosed)
	_, err = l.Read(Position{}, 1)
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, l.Ack(Position{Segment: 9}, 1), ErrClosed)
	l2 := openLog(t, t.TempDir(), Options{})
	defer l2.Close()
	_, err = l2.Append(0, nil, nil)
	assert.Error(t, err, "an empty block")
}

func TestLogLargeRecordsAcrossChunks(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	defer l.Close()
	big := make([]byte, 2*readChunk) // records up to larger than a read chunk
	for i := range big {
		big[i] = byte('a' + i%26)
	}
	var want [][]byte
	for i := range 3 {
		item := append([]byte{byte('0' + i)}, big[:readChunk/2+i*readChunk/3]...)
		want = append(want, item)
		_, err := l.Append(int64(i), [][]byte{item}, nil)
		require.NoError(t, err)
	}
	var got [][]byte
	pos := l.Start()
	for {
		blocks, err := l.Read(pos, 1)
		require.NoError(t, err)
		if len(blocks) == 0 {
			break
		}
		got = append(got, blocks[0].Items[0])
		pos = blocks[0].Span.To
	}
	assert.Equal(t, want, got)
}

// The README's numbers for the spool, pinned as literals: 8 MiB segments,
// 4 MiB kept in memory, a sync every second.
func TestSpoolSizesAsTheREADMESays(t *testing.T) {
	assert.Equal(t, 8<<20, DefaultSegmentSize)
	assert.Equal(t, 4<<20, DefaultMemoryBytes)
	assert.Equal(t, time.Second, DefaultSyncEvery)
}
