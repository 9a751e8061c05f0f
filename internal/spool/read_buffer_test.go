package spool

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A read that stops a few records on, where the records kept in memory
// begin, takes a buffer of their size, not of a whole read chunk: a reader
// that lends each read's buffer to the events it decoded (the spool of the
// notifications package) reads again and again up to a memory tail that
// writers keep moving on, and held 256 KiB for every few records (12 MB
// more heap for a backlog written while the receiver was down).
func TestReadUpToTheMemoryTailTakesWhatItReads(t *testing.T) {
	opt := quietOptions()
	opt.MemoryBytes = 4 << 10
	l := openLog(t, t.TempDir(), opt)
	defer l.Close()
	item := make([]byte, 100)
	for i := range 200 {
		_, err := l.Append(int64(i), [][]byte{item}, i)
		require.NoError(t, err)
	}
	var buf ReadBuffer
	blocks, err := l.ReadInto(&buf, l.Start(), 1000)
	require.NoError(t, err)
	require.NotEmpty(t, blocks)
	fromDisk := 0 // bytes of the records read from the disk, before those kept in memory
	for _, b := range blocks {
		if b.Value == nil {
			fromDisk += int(b.Span.To.Offset - b.Span.From.Offset)
		}
	}
	require.Positive(t, fromDisk, "the first records were read from the disk")
	require.Less(t, fromDisk, 64<<10, "a few records were on the disk only")
	assert.LessOrEqual(t, len(buf.data), fromDisk, "the buffer is the size of what was read")
}

// The bytes of a buffer made again larger are let go whole: no entry of
// the items' slab still points into them.
func TestReadBufferLetsGoOfBytesItOutgrew(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{MemoryBytes: -1})
	defer l.Close()
	appendBlocks(t, l, "small", slices.Repeat([]int{1}, 60)...)
	var buf ReadBuffer
	blocks, err := l.ReadInto(&buf, l.Start(), 1000)
	require.NoError(t, err)
	require.Len(t, blocks, 60)
	outgrown := len(buf.data)

	large := make([]byte, 4<<10)
	for i := range 10 {
		_, err := l.Append(int64(i), [][]byte{large}, nil)
		require.NoError(t, err)
	}
	blocks, err = l.ReadInto(&buf, blocks[len(blocks)-1].Span.To, 1000)
	require.NoError(t, err)
	require.Len(t, blocks, 10)
	require.Greater(t, len(buf.data), outgrown, "made again larger")
	held := 0
	for _, item := range buf.slab {
		if item != nil {
			held++
		}
	}
	assert.Equal(t, 10, held, "the slab holds this read's items, none of the bytes let go")
}

// A buffer that reads more and more (a reader following the writers, a few
// records further each time) is made again at least twice larger each
// time, not at each read's exact size.
func TestReadBufferGrowsGeometrically(t *testing.T) {
	var buf ReadBuffer
	made := 0
	for n := 200; n <= readChunk; n += 200 {
		before := len(buf.data)
		data, _ := buf.chunk(n)
		require.Len(t, data, n)
		if len(buf.data) != before {
			made++
		}
	}
	assert.LessOrEqual(t, made, 12, "about log2(readChunk/200) times, not once per read")
}
