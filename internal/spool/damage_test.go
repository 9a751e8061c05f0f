package spool

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLogSkipsDamagedRecords(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string, offsets []int64)
		want   []int // indexes of the blocks still read
	}{
		{"torn last record", func(t *testing.T, path string, offsets []int64) {
			require.NoError(t, os.Truncate(path, offsets[3]+10))
		}, []int{0, 1, 2}},
		{"torn last header", func(t *testing.T, path string, offsets []int64) {
			require.NoError(t, os.Truncate(path, offsets[3]+3))
		}, []int{0, 1, 2}},
		{"flipped byte in a payload", func(t *testing.T, path string, offsets []int64) {
			flipByte(t, path, offsets[1]+recordHeaderSize+12)
		}, []int{0, 2, 3}},
		{"flipped byte in a magic", func(t *testing.T, path string, offsets []int64) {
			flipByte(t, path, offsets[2])
		}, []int{0, 1, 3}},
		{"garbage between records", func(t *testing.T, path string, offsets []int64) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			data = append(data[:offsets[2]:offsets[2]], append([]byte("garbage!"), data[offsets[2]:]...)...)
			require.NoError(t, os.WriteFile(path, data, 0o600))
		}, []int{0, 1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, Options{})
			var offsets []int64
			var blocks [][]string
			for i := range 4 {
				blocks = append(blocks, appendBlocks(t, l, fmt.Sprint("b", i), 2))
			}
			all, err := l.Read(l.Start(), 100)
			require.NoError(t, err)
			for _, b := range all {
				offsets = append(offsets, b.Span.From.Offset)
			}
			seg := l.segmentPath(all[0].Span.From.Segment)
			require.NoError(t, l.Close())
			tt.damage(t, seg, offsets)

			l = openLog(t, dir, Options{})
			defer l.Close()
			var want []string
			for _, i := range tt.want {
				want = append(want, blocks[i]...)
			}
			assert.Equal(t, len(want), l.Len(), "damaged records are not counted")
			got, _ := drain(t, l, 100)
			assert.Equal(t, want, got)
		})
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data[off] ^= 0xff
	require.NoError(t, os.WriteFile(path, data, 0o600))
}

func TestLogForgetsWhatVanished(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	appendBlocks(t, l, "a", 3)
	require.NoError(t, l.Close())
	l = openLog(t, dir, Options{})
	defer l.Close()
	require.Equal(t, 3, l.Len())
	for _, seg := range segmentFiles(t, dir) { // damaged after it was counted
		require.NoError(t, os.WriteFile(filepath.Join(dir, seg), make([]byte, 40), 0o600))
	}
	blocks, err := l.Read(l.Start(), 10)
	require.NoError(t, err)
	assert.Empty(t, blocks)
	assert.Zero(t, l.Len(), "counted but unreadable: forgotten, not waited for")
	assert.Equal(t, 3, l.Lost())
}
