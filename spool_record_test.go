package notifications

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSpoolRecordRoundTrip(t *testing.T) {
	block := queuedBlock{events: []Event{goldenEvent(), goldenEvent()}, written: time.Unix(0, 1234567890)}
	block.events[1].ID = "second"
	rec, err := encodeRecord(block)
	require.NoError(t, err)
	got, size, err := decodeRecord(append(rec, "next record"...))
	require.NoError(t, err)
	assert.Equal(t, len(rec), size)
	assert.Equal(t, block.written.UnixNano(), got.written.UnixNano())
	assert.Equal(t, block.events, got.events)

	for cut := range len(rec) {
		_, _, err := decodeRecord(rec[:cut])
		assert.Error(t, err, "a record cut at %d bytes", cut)
	}
}

// FuzzSpoolRecord feeds the record decoder arbitrary bytes: it must never
// panic, and whatever it accepts must encode back to the same events.
func FuzzSpoolRecord(f *testing.F) {
	for _, events := range [][]Event{{goldenEvent()}, testEvents("f", 3)} {
		rec, err := encodeRecord(queuedBlock{events: events, written: time.Unix(1, 2)})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(rec)
		f.Add(rec[:len(rec)/2])
		damaged := append([]byte(nil), rec...)
		damaged[len(damaged)-3] ^= 0x55
		f.Add(damaged)
	}
	f.Add([]byte("RNS1\x00\x00\x00\x09\x00\x00\x00\x01\x00\x00\x00\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, size, err := decodeRecord(data)
		if err != nil {
			return
		}
		if size > len(data) || len(b.events) == 0 {
			t.Fatalf("accepted a record of %d bytes with %d events from %d bytes", size, len(b.events), len(data))
		}
		if _, err := encodeRecord(b); err != nil {
			t.Fatalf("accepted events that do not encode: %v", err)
		}
	})
}
