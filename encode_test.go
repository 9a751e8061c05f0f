package notifications

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"
)

// awkward holds strings every escaping rule of encoding/json applies to.
var awkward = []string{"", "a", "<>&", "\"\\", "\b\f\n\r\t\x00\x01\x1f\x7f", "\u2028\u2029", "\xff\xfe",
	"héllo", "日本", "\xe2\x80", "a\u2028b<c", "🙂"}

func randomString(r *rand.Rand) string {
	var b []byte
	for range r.IntN(6) {
		if r.IntN(3) == 0 {
			b = append(b, byte(r.IntN(256)))
		} else {
			b = append(b, awkward[r.IntN(len(awkward))]...)
		}
	}
	return string(b)
}

// randomEvents returns n events of randomEvent.
func randomEvents(r *rand.Rand, n int) []Event {
	events := make([]Event, n)
	for i := range events {
		events[i] = randomEvent(r)
	}
	return events
}

func randomEvent(r *rand.Rand) Event {
	var e Event
	e.ID, e.Action = randomString(r), randomString(r)
	zones := []*time.Location{time.UTC, time.FixedZone("x", 3600+1800), time.FixedZone("y", -7*3600), time.FixedZone("s", 3600+17), time.Local}
	e.Timestamp = time.Unix(r.Int64N(1<<34)-1<<33, r.Int64N(1e9)).In(zones[r.IntN(len(zones))])
	if r.IntN(4) == 0 {
		e.Timestamp = time.Time{}
	}
	e.Target.Type, e.Target.Name, e.Target.Tag, e.Target.URL = randomString(r), randomString(r), randomString(r), randomString(r)
	e.Target.Digest = digest.Digest(randomString(r))
	e.Request = RequestRecord{randomString(r), randomString(r), randomString(r), randomString(r), randomString(r)}
	e.Actor.Name = randomString(r)
	e.Source = SourceRecord{randomString(r), randomString(r)}
	if r.IntN(2) == 0 {
		randomReleasedTarget(r, &e)
	}
	return e
}

// randomReleasedTarget fills the target fields of the released formats.
func randomReleasedTarget(r *rand.Rand, e *Event) {
	t := &e.Target
	t.MediaType, t.Repository, t.FromRepository, t.ArtifactType = randomString(r), randomString(r), randomString(r), randomString(r)
	t.Size, t.Length = r.Int64N(3)*r.Int64()-r.Int64N(2), r.Int64N(1<<20)
	if r.IntN(3) == 0 {
		t.URLs = []string{randomString(r), randomString(r)}[:r.IntN(3)]
		t.Annotations = map[string]string{randomString(r): randomString(r), randomString(r): randomString(r)}
		t.Data = []byte(randomString(r))
		t.Platform = &Platform{Architecture: randomString(r), OS: randomString(r), OSVersion: randomString(r), Variant: randomString(r)}
	}
	for range r.IntN(3) {
		d := Descriptor{MediaType: randomString(r), Size: r.Int64N(1 << 40), Digest: digest.Digest(randomString(r))}
		if r.IntN(2) == 0 {
			d.Platform = &Platform{OSFeatures: []string{randomString(r)}}
			d.Annotations = map[string]string{}
		}
		t.References = append(t.References, d)
	}
}

// checkEncoding fails unless appendEnvelope writes what encoding/json does.
func checkEncoding(t *testing.T, events []Event) {
	t.Helper()
	want, wantErr := json.Marshal(Envelope{Events: events})
	got, gotErr := appendEnvelope([]byte("prefix"), events)
	if (wantErr != nil) != (gotErr != nil) || !bytes.Equal(want, bytes.TrimPrefix(got, []byte("prefix"))) {
		t.Fatalf("encoding differs\nencoding/json %s (%v)\nappendEnvelope %s (%v)", want, wantErr, got, gotErr)
	}
	for i := range events {
		size := eventJSONSize(&events[i])
		one, _ := json.Marshal(&events[i])
		if wantErr == nil && size != len(one) {
			t.Fatalf("eventJSONSize %d, encoding/json wrote %d bytes", size, len(one))
		}
	}
}

func TestAppendEnvelopeMatchesEncodingJSON(t *testing.T) {
	checkEncoding(t, nil)
	checkEncoding(t, []Event{goldenEvent(), {}})
	checkEncoding(t, testEvents("t", 3))
	for b := range 256 {
		checkEncoding(t, []Event{{ID: string([]byte{byte(b)}), Timestamp: time.Now()}})
	}
	r := rand.New(rand.NewPCG(1, 2))
	// 2,000 random batches: 500 already reach every block of encode.go that
	// 20,000 do (123 of 125); FuzzAppendEnvelope explores further.
	for range 2000 {
		checkEncoding(t, randomEvents(r, 1+r.IntN(3)))
	}
	// Times encoding/json refuses: the encoder returns its error.
	checkEncoding(t, []Event{{Timestamp: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}})
	checkEncoding(t, []Event{{Timestamp: time.Date(2020, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 25*3600))}})
}

func FuzzAppendEnvelope(f *testing.F) {
	f.Add("id", "push", "library/hello", "docker/1.6 <&>", int64(0))
	f.Add("\xff", "\u2028", "", "\x00", int64(-1))
	f.Fuzz(func(t *testing.T, id, action, name, userAgent string, nanos int64) {
		e := Event{ID: id, Action: action, Timestamp: time.Unix(0, nanos)}
		e.Target.Name, e.Request.UserAgent = name, userAgent
		checkEncoding(t, []Event{e, goldenEvent()})
	})
}

// safePrefix, eight bytes at a time, agrees with a byte-at-a-time scan for
// every byte value at every position of strings of several lengths.
func TestSafePrefixMatchesByteScan(t *testing.T) {
	naive := func(s string) int {
		i := 0
		for i < len(s) && s[i] < utf8.RuneSelf && jsonSafe[s[i]] {
			i++
		}
		return i
	}
	for _, n := range []int{1, 7, 8, 9, 17, 24} {
		base := []byte(strings.Repeat("a", n))
		for pos := range n {
			for c := range 256 {
				b := bytes.Clone(base)
				b[pos] = byte(c)
				if got, want := safePrefix(string(b)), naive(string(b)); got != want {
					t.Fatalf("safePrefix(%q) = %d, want %d", b, got, want)
				}
			}
		}
	}
}

// A scratch is one goroutine's from take to give, however many take and
// give at once; the slots keep them for the next takers.
func TestEncodeScratchesAreExclusive(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for range 2000 {
				sc := takeEncodeScratch()
				sc.buf = append(sc.buf[:0], byte(g))
				runtime.Gosched()
				if len(sc.buf) != 1 || sc.buf[0] != byte(g) {
					t.Error("a scratch taken by two goroutines at once")
				}
				sc.give()
			}
		})
	}
	wg.Wait()
	idle := 0
	for i := range encodeScratches {
		if encodeScratches[i].sc.Load() != nil {
			idle++
		}
	}
	if idle == 0 {
		t.Error("no scratch given back was kept")
	}
}
