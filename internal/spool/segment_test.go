package spool

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A segment left by a crash keeps its pre-allocated size: zeros after its
// data, and zeros where an append reserved room but never finished (its
// Append never returned nil). Recovery reads the records around them and
// reports no damage; a torn record is still found by its checksum.
func TestRecoverPreallocatedSegment(t *testing.T) {
	tests := []struct {
		name    string
		crash   func(t *testing.T, path string, offsets []int64, end int64)
		want    []int // indexes of the blocks read back
		damaged bool  // a skip is logged
	}{
		{"zeros after the data", func(t *testing.T, path string, _ []int64, end int64) {
			require.NoError(t, os.Truncate(path, end+DefaultSegmentSize))
		}, []int{0, 1, 2, 3}, false},
		{"an append that never finished", func(t *testing.T, path string, offsets []int64, end int64) {
			zero(t, path, offsets[1], offsets[2]-offsets[1])
			require.NoError(t, os.Truncate(path, end+DefaultSegmentSize))
		}, []int{0, 2, 3}, false},
		{"an append half done", func(t *testing.T, path string, offsets []int64, end int64) {
			zero(t, path, offsets[1]+recordHeaderSize+2, offsets[2]-offsets[1]-recordHeaderSize-2)
			require.NoError(t, os.Truncate(path, end+DefaultSegmentSize))
		}, []int{0, 2, 3}, true},
		{"a torn last record", func(t *testing.T, path string, offsets []int64, end int64) {
			zero(t, path, offsets[3]+recordHeaderSize, end-offsets[3]-recordHeaderSize)
			require.NoError(t, os.Truncate(path, end+DefaultSegmentSize))
		}, []int{0, 1, 2}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, Options{})
			var blocks [][]string
			var offsets []int64
			var end Position
			for i := range 4 {
				blocks = append(blocks, appendBlocks(t, l, string(rune('a'+i)), 2))
			}
			all, err := l.Read(l.Start(), 100)
			require.NoError(t, err)
			for _, b := range all {
				offsets = append(offsets, b.Span.From.Offset)
				end = b.Span.To
			}
			path := l.segmentPath(end.Segment)
			require.NoError(t, l.Close())
			tt.crash(t, path, offsets, end.Offset)

			logger, hook := logtest.NewNullLogger()
			l = openLog(t, dir, Options{Logger: logger})
			defer l.Close()
			var want []string
			for _, i := range tt.want {
				want = append(want, blocks[i]...)
			}
			assert.Equal(t, len(want), l.Len())
			got, _ := drain(t, l, 100)
			assert.Equal(t, want, got)
			damaged := false
			for _, e := range hook.AllEntries() {
				damaged = damaged || e.Level == logrus.ErrorLevel
			}
			assert.Equal(t, tt.damaged, damaged, "a skip is logged for damage, not for zeros")
		})
	}
}

func zero(t *testing.T, path string, off, n int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteAt(make([]byte, n), off)
	require.NoError(t, err)
}

// A segment that cannot be created fails the Append that needs it, with
// the error, before anything is copied; the log goes on once it can.
func TestAppendFailsWhenNoSegment(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{SegmentSize: 100})
	l.mu.Lock()
	blocked := l.segmentPath(l.w.seq + 2) // the one after the next, which may exist already
	l.mu.Unlock()
	require.NoError(t, os.Mkdir(blocked, 0o700))

	var want []string
	var err error
	for i := 0; err == nil; i++ {
		require.Less(t, i, 10, "the third segment is needed within 10 records")
		item := string(rune('a' + i))
		if _, err = l.Append(0, [][]byte{[]byte(item)}, nil); err == nil {
			want = append(want, item)
		}
	}
	assert.True(t, errors.Is(err, os.ErrExist), "the creation's error: %v", err)
	assert.Equal(t, len(want), l.Len(), "the failed append is not counted")

	require.NoError(t, os.Remove(blocked))
	_, err = l.Append(0, [][]byte{[]byte("z")}, nil)
	require.NoError(t, err, "created once it can be")
	want = append(want, "z")
	got, _ := drain(t, l, 100)
	assert.Equal(t, want, got)
	require.NoError(t, l.Close())
}

// FuzzRecoverSegment: whatever bytes a segment holds — records, zeros,
// garbage, in any mix — opening the log and draining it ends, without a
// panic, and returns only whole records that were appended.
func FuzzRecoverSegment(f *testing.F) {
	valid := appendRecord(nil, 7, [][]byte{[]byte("one"), []byte("two")})
	f.Add(valid)
	f.Add(append(append(slices.Clone(valid), make([]byte, 100)...), valid...))
	f.Add(append(make([]byte, 40), valid[:20]...))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "0000000000000001"+segmentSuffix), data, 0o600))
		l := openLog(t, dir, Options{SegmentSize: 4 << 10})
		got, _ := drain(t, l, 10)
		for _, item := range got {
			assert.Contains(t, []string{"one", "two"}, item)
		}
		require.NoError(t, l.Close())
	})
}

// A record larger than a segment gets a segment of its own size; the
// segment created ahead, too small for it, stays empty in between.
func TestAppendRecordLargerThanSegment(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{SegmentSize: 1 << 10})
	want := []string{"small", string(make([]byte, 5<<10)), "after"}
	for _, item := range want {
		_, err := l.Append(0, [][]byte{[]byte(item)}, nil)
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
	l = openLog(t, dir, Options{SegmentSize: 1 << 10})
	defer l.Close()
	got, _ := drain(t, l, 1)
	assert.Equal(t, want, got)
}
