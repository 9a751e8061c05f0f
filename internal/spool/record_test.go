package spool

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecordRoundTrip(t *testing.T) {
	items := [][]byte{[]byte(`{"id":"a"}`), {}, []byte(`{"id":"b"}`)}
	rec := appendRecord(nil, 1234567890, items)
	require.Len(t, rec, recordSize(items))
	stamp, got, size, err := decodeRecord(append(rec, "next record"...))
	require.NoError(t, err)
	assert.Equal(t, len(rec), size)
	assert.Equal(t, int64(1234567890), stamp)
	assert.Equal(t, items, got)

	for cut := range len(rec) {
		_, _, _, err := decodeRecord(rec[:cut])
		assert.Error(t, err, "a record cut at %d bytes", cut)
	}
}

// FuzzSpoolRecord feeds the record decoder arbitrary bytes: it must never
// panic, and whatever it accepts must encode back to the same bytes.
func FuzzSpoolRecord(f *testing.F) {
	for _, items := range [][][]byte{{[]byte(`{"id":"x"}`)}, {[]byte("a"), []byte("bc"), {}}} {
		rec := appendRecord(nil, 42, items)
		f.Add(rec)
		f.Add(rec[:len(rec)/2])
		damaged := append([]byte(nil), rec...)
		damaged[len(damaged)-2] ^= 0x55
		f.Add(damaged)
	}
	f.Add([]byte("RNS2\x00\x00\x00\x0c\x00\x00\x00\x01\x00\x00\x00\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		stamp, items, size, err := decodeRecord(data)
		if err != nil {
			return
		}
		if size > len(data) || len(items) == 0 {
			t.Fatalf("accepted a record of %d bytes with %d items from %d bytes", size, len(items), len(data))
		}
		if again := appendRecord(nil, stamp, items); string(again) != string(data[:size]) {
			t.Fatalf("accepted a record that does not encode back to itself")
		}
	})
}
