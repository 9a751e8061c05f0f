package notifications

import (
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// binaryRoundTrip encodes e in binary and decodes it back.
func binaryRoundTrip(t *testing.T, e Event) Event {
	t.Helper()
	item, err := appendBinaryEvent([]byte("prefix"), &e)
	require.NoError(t, err)
	var got Event
	require.NoError(t, decodeBinaryEvent(item[len("prefix"):], &got))
	return got
}

// TestBinaryEventCarriesEveryField is the tripwire of the spool's binary
// form: with every field of Event, its target and its records set, an
// event decodes to what was encoded. A field added to any of these types
// and not to appendBinaryEvent fails here.
func TestBinaryEventCarriesEveryField(t *testing.T) {
	var e Event
	fillEveryField(t, reflect.ValueOf(&e).Elem(), "event")
	assert.Equal(t, e, binaryRoundTrip(t, e))
	assert.Equal(t, goldenEvent(), binaryRoundTrip(t, goldenEvent()))
	assert.Equal(t, Event{}, binaryRoundTrip(t, Event{}), "the zero event, zero time included")
}

// Events of every shape come back as events that encode to the same JSON:
// awkward strings (invalid UTF-8 included), times in any zone, the
// released formats' fields. An event whose timestamp JSON cannot carry is
// refused as encoding/json refuses it.
func TestBinaryEventRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 2000 {
		e := randomEvent(r)
		got := binaryRoundTrip(t, e)
		assert.True(t, e.Timestamp.Equal(got.Timestamp))
		want, err := EncodeEvents([]Event{e})
		require.NoError(t, err)
		encoded, err := EncodeEvents([]Event{got})
		require.NoError(t, err)
		require.Equal(t, string(want[0]), string(encoded[0]))
	}

	e := goldenEvent()
	e.Timestamp = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	_, jsonErr := json.Marshal(&e)
	require.Error(t, jsonErr)
	_, err := appendBinaryEvent(nil, &e)
	assert.Error(t, err)
}

// Damaged forms fail to decode, leaving a zero event, and never panic:
// every truncation of an event's form, and every single byte changed.
func TestBinaryEventRejectsDamage(t *testing.T) {
	e := goldenEvent()
	e.Target.References = []Descriptor{{MediaType: "m", Annotations: map[string]string{"k": "v"}, Platform: &Platform{OS: "linux"}}}
	item, err := appendBinaryEvent(nil, &e)
	require.NoError(t, err)
	for n := range len(item) {
		var got Event
		assert.Error(t, decodeBinaryEvent(item[:n], &got), "cut at %d", n)
		assert.Equal(t, Event{}, got)
	}
	assert.Error(t, decodeBinaryEvent(append(item[:len(item):len(item)], 0), new(Event)), "a byte too many")
	for i := range item {
		for _, b := range []byte{0, 1, 0x7f, 0x80, 0xff} {
			damaged := append([]byte(nil), item...)
			damaged[i] = b
			var got Event
			_ = decodeBinaryEvent(damaged, &got) // may decode, to something else
		}
	}
	assert.Error(t, decodeBinaryEvent([]byte(`{"id":"json"}`), new(Event)), "JSON is not the binary form")

	// A timestamp no endpoint could send (year 36812) is damage.
	e = goldenEvent()
	e.ID, e.Timestamp = "id", time.Unix(0, 0).UTC()
	item, err = appendBinaryEvent(nil, &e)
	require.NoError(t, err)
	prefix := appendBinaryString([]byte{binaryEventTag}, "id")
	require.Equal(t, byte(0), item[len(prefix)], "the seconds' varint")
	far := binary.AppendVarint(prefix[:len(prefix):len(prefix)], 1<<40)
	far = append(far, item[len(prefix)+1:]...)
	var got Event
	assert.Error(t, decodeBinaryEvent(far, &got))
	assert.Equal(t, Event{}, got)

	// Nanoseconds past a second, or a zone offset past a day, are damage
	// too, not a zero timestamp.
	require.Equal(t, []byte{0, 0, 0}, item[len(prefix):len(prefix)+3], "seconds, nanoseconds and offset")
	rest := item[len(prefix)+3:]
	for name, nsecOffset := range map[string][2]int64{"nanoseconds": {2e9, 0}, "offset": {0, 48 * 3600}} {
		damaged := binary.AppendVarint(prefix[:len(prefix):len(prefix)], 0)
		damaged = binary.AppendUvarint(damaged, uint64(nsecOffset[0]))
		damaged = binary.AppendVarint(damaged, nsecOffset[1])
		damaged = append(damaged, rest...)
		var got Event
		assert.Error(t, decodeBinaryEvent(damaged, &got), name)
		assert.Equal(t, Event{}, got, name)
	}
}

// The smallest descriptor's form is as long as count assumes the shortest
// is, so that no count of references is refused that a form can hold.
func TestBinaryDescriptorMinimum(t *testing.T) {
	assert.Len(t, appendBinaryDescriptor(nil, &Descriptor{}), minDescriptorBytes)
	e := Event{}
	e.Target.References = make([]Descriptor, 3)
	e.Target.References[1].Annotations = map[string]string{"": ""}
	assert.Equal(t, e.Target.References, binaryRoundTrip(t, e).Target.References[:3])
}

// A record holds binary events when each of its items begins with the tag.
func TestBinaryItems(t *testing.T) {
	e := goldenEvent()
	item, err := appendBinaryEvent(nil, &e)
	require.NoError(t, err)
	encoded, err := EncodeEvents([]Event{e})
	require.NoError(t, err)
	assert.True(t, binaryItems([][]byte{item, item}))
	for _, items := range [][][]byte{nil, {item, encoded[0]}, {{}}, encoded} {
		assert.False(t, binaryItems(items))
	}
}

// Whatever decodes encodes back to a form that decodes to the same event.
func FuzzBinaryEvent(f *testing.F) {
	for _, e := range append(testEvents("f", 2), goldenEvent(), Event{}) {
		item, _ := appendBinaryEvent(nil, &e)
		f.Add(item)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Event
		if decodeBinaryEvent(data, &e) != nil {
			return
		}
		item, err := appendBinaryEvent(nil, &e)
		if err != nil {
			t.Fatalf("decoded %+v, which does not encode: %v", e, err)
		}
		var again Event
		if err := decodeBinaryEvent(item, &again); err != nil || !reflect.DeepEqual(e, again) {
			t.Fatalf("decoded differently the second time (%v):\n%+v\n%+v", err, e, again)
		}
	})
}

func BenchmarkBinaryEvent(b *testing.B) {
	e := goldenEvent()
	item, _ := appendBinaryEvent(nil, &e)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 4096)
		for b.Loop() {
			buf, _ = appendBinaryEvent(buf[:0], &e)
		}
		b.ReportMetric(float64(len(item)), "B/event")
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var got Event
			if err := decodeBinaryEvent(item, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
}
