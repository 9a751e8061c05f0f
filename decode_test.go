package notifications

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decodeBoth decodes data with decodeEvent and with encoding/json.
func decodeBoth(data []byte) (fast, std Event, fastErr, stdErr error) {
	fastErr = decodeEvent(data, &fast)
	stdErr = json.Unmarshal(data, &std)
	return
}

func TestDecodeEventMatchesEncodingJSON(t *testing.T) {
	odd := goldenEvent()
	odd.Target.Tag = "<tag> & \"quotes\" \\ \u2028 \u2029 \x01 \t\n é 日本"
	odd.Actor.Name = "bad utf-8 \xff\xfe"
	odd.Timestamp = time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.FixedZone("", -7*3600))
	odd.Target.MediaType, odd.Target.Size, odd.Target.Length = "application/vnd.oci.image.manifest.v1+json", 1234, -5
	odd.Target.ArtifactType, odd.Target.Repository, odd.Target.FromRepository = "a/b", "library/x", `library/y"`
	var events []Event
	events = append(events, goldenEvent(), odd, Event{}, Event{Timestamp: time.Unix(0, 0).UTC()})
	events = append(events, testEvents("t", 2)...)
	for i, e := range events {
		data, ok := appendEvent(nil, &e)
		require.True(t, ok)
		fast, std, fastErr, stdErr := decodeBoth(data)
		require.NoError(t, stdErr)
		require.NoError(t, fastErr)
		assert.Equal(t, std, fast, "event %d", i)
		r := jsonReader{b: data, s: string(data)}
		var direct Event
		assert.True(t, r.event(&direct) && r.i == len(data), "event %d takes the fast path", i)
	}

	for _, in := range []string{
		`{"id":"a", "timestamp":"2020-01-01T00:00:00Z"}`, // whitespace
		`{"ID":"a"}`,                                                   // another case
		`{"id":"a","extra":1}`,                                         // unknown key
		`{"id":null,"target":null}`,                                    // null
		`{"id":"\ud83d\ude00 \ud800"}`,                                 // surrogates
		`{"id":"a","id":"b"}`,                                          // repeated key
		`{"timestamp":"2020-13-01T00:00:00Z"}`,                         // bad time
		`{"id":"a"`, `[]`, ``, `{"id":"\x"}`, `{"id":"a\u00e9\u0041"}`, // broken, escapes
	} {
		fast, std, fastErr, stdErr := decodeBoth([]byte(in))
		assert.Equal(t, stdErr == nil, fastErr == nil, "%s", in)
		assert.Equal(t, std, fast, "%s", in)
	}
}

// FuzzDecodeEvent: whatever the bytes, decodeEvent agrees with
// encoding/json, and the JSON appendEvent writes decodes back to the event.
func FuzzDecodeEvent(f *testing.F) {
	for _, e := range append(testEvents("f", 2), goldenEvent()) {
		data, _ := appendEvent(nil, &e)
		f.Add(data)
	}
	f.Add([]byte(`{"id":"\u00e9\ud83d\ude00","target":{"tag":"\"\\\/\b\f\n\r\t"}}`))
	f.Add([]byte(`{"request":{"id":"x","method":"","useragent":""},"actor":{},"source":{"addr":""}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, std, fastErr, stdErr := decodeBoth(data)
		if (fastErr == nil) != (stdErr == nil) {
			t.Fatalf("errors differ: %v / %v", fastErr, stdErr)
		}
		if stdErr == nil && !reflect.DeepEqual(fast, std) {
			t.Fatalf("decoded differently:\n%+v\n%+v", fast, std)
		}
	})
}

func BenchmarkDecodeEvent(b *testing.B) {
	e := goldenEvent()
	data, _ := appendEvent(nil, &e)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e Event
			if err := decodeEvent(data, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e Event
			if err := json.Unmarshal(data, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Strings whose escapes and quotes fall at every position of the eight
// bytes the decoder skips at once decode as encoding/json decodes them.
func TestDecodeEventStringsAtEveryOffset(t *testing.T) {
	for _, n := range []int{1, 7, 8, 9, 16, 17} {
		for pos := range n {
			for _, c := range []string{`"`, `\`, "\n", "\x01", "é", "\u2028", "<"} {
				s := strings.Repeat("a", pos) + c + strings.Repeat("b", n-pos-1)
				var want Event
				want.ID, want.Target.Tag, want.Request.UserAgent = s, s+s, "x"+s
				js, err := json.Marshal(&want)
				require.NoError(t, err)
				var got Event
				require.NoError(t, decodeEvent(js, &got), "%q", js)
				assert.Equal(t, want.ID, got.ID)
				assert.Equal(t, want.Target.Tag, got.Target.Tag)
				assert.Equal(t, want.Request.UserAgent, got.Request.UserAgent)
			}
		}
	}
}
