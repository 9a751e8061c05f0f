package notifications

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/opencontainers/go-digest"
	"github.com/sirupsen/logrus"
)

// Benchmarks of the write path, end-to-end delivery and envelope encoding,
// run by `make bench` (with the comparison against distribution v3 in
// bench/, which also measures the heap held per pending event).

// benchLogger discards log lines.
func benchLogger() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

// bridgeEvent returns a blob push event as the bridge builds it: a new
// random ID, the time in UTC, the request, actor and source records, and a
// blob target with a distinct digest and its URL.
func bridgeEvent(i int) Event {
	d := digest.FromString("layer-" + strconv.Itoa(i))
	ev := Event{
		ID:        uuid.NewString(),
		Timestamp: time.Now().UTC(),
		Action:    EventActionPush,
		Request: RequestRecord{
			ID: uuid.NewString(), Addr: "10.1.2.3:53422", Host: "registry.example.com",
			Method: http.MethodPut, UserAgent: "docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.8.0 os/linux arch/amd64",
		},
		Actor:  ActorRecord{Name: "ci-bot"},
		Source: SourceRecord{Addr: "registry-0.registry.svc:5000", InstanceID: "4b0e2f3e-7f7c-4f0e-9a53-0d3c1f0a9b11"},
	}
	ev.Target.Type = EventTargetTypeBlob
	ev.Target.Name = "library/bench"
	ev.Target.Digest = d
	ev.Target.URL = "https://registry.example.com/v2/library/bench/blobs/" + d.String()
	return ev
}

// bridgeEvents returns n events built as the bridge builds them.
func bridgeEvents(n int) []Event {
	events := make([]Event, n)
	for i := range events {
		events[i] = bridgeEvent(i)
	}
	return events
}

// discardDeliverer accepts every batch at once: the fastest receiver.
type discardDeliverer struct{ events atomic.Int64 }

func (d *discardDeliverer) Deliver(_ context.Context, events []Event) Delivery {
	d.events.Add(int64(len(events)))
	return Delivery{Outcome: Accepted, Status: "200 OK"}
}

func (d *discardDeliverer) Close() error { return nil }

// BenchmarkBroadcasterWrite measures Broadcaster.Write → Endpoint.Write, one
// event per Write as the bridge writes, with an endpoint whose destination
// accepts every batch at once (a Deliverer, so that the queue drains as fast
// as it can and the write path is what is measured).
func BenchmarkBroadcasterWrite(b *testing.B) {
	events := bridgeEvents(1024)
	open := func(b *testing.B) (*Broadcaster, *discardDeliverer) {
		d := &discardDeliverer{}
		e, err := NewDelivererEndpoint("bench", "discard", d, EndpointConfig{Logger: benchLogger()})
		if err != nil {
			b.Fatal(err)
		}
		return NewBroadcaster(e), d
	}
	finish := func(b *testing.B, bc *Broadcaster, d *discardDeliverer, n int) {
		b.StopTimer()
		if err := bc.Close(); err != nil {
			b.Fatal(err)
		}
		if got := d.events.Load(); got != int64(n) {
			b.Fatalf("delivered %d events, want %d", got, n)
		}
	}
	b.Run("serial", func(b *testing.B) {
		bc, d := open(b)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if err := bc.Write(events[i%len(events)]); err != nil {
				b.Fatal(err)
			}
		}
		finish(b, bc, d, b.N)
	})
	b.Run("parallel", func(b *testing.B) {
		bc, d := open(b)
		var n atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if err := bc.Write(events[i%len(events)]); err != nil {
					b.Error(err)
					return
				}
				i++
				n.Add(1)
			}
		})
		finish(b, bc, d, int(n.Load()))
	})
}

// benchReceiver is a webhook receiver for benchmarks: it reads each body,
// answers 200 once latency has passed and counts POSTs. It does not decode,
// so that the sender's work dominates the profile.
func benchReceiver(b *testing.B, latency time.Duration) (*httptest.Server, *atomic.Int64) {
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		_, _ = io.Copy(io.Discard, r.Body)
		if d := latency - time.Since(start); d > 0 {
			time.Sleep(d)
		}
		posts.Add(1)
	}))
	b.Cleanup(srv.Close)
	return srv, &posts
}

// BenchmarkEndpointDeliver measures events delivered end to end: b.N events
// written to an HTTP Endpoint, one per Write, then Close, which returns once
// the receiver accepted them all. It reports events/s and POSTs per event.
// The "large" events, of over a KiB of JSON each, do not fit 1000 to an
// envelope of 1 MiB: the queue learns how many do (queue_fit.go).
func BenchmarkEndpointDeliver(b *testing.B) {
	for _, bench := range []struct {
		name    string
		latency time.Duration
		pad     int // bytes added to each event's repository
	}{
		{"latency=0s", 0, 0},
		{"latency=2ms", 2 * time.Millisecond, 0},
		{"latency=0s/large", 0, 420},
	} {
		events := bridgeEvents(4096)
		for i := range events {
			events[i].Target.Repository += strings.Repeat("x", bench.pad)
		}
		b.Run(bench.name, func(b *testing.B) {
			srv, posts := benchReceiver(b, bench.latency)
			e := NewEndpoint("bench", srv.URL, EndpointConfig{Logger: benchLogger()})
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := e.Write(events[i%len(events)]); err != nil {
					b.Fatal(err)
				}
			}
			if err := e.Close(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			var m EndpointMetrics
			e.ReadMetrics(&m)
			if m.Successes != b.N {
				b.Fatalf("%d events accepted, want %d", m.Successes, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(posts.Load())/float64(b.N), "POSTs/event")
		})
	}
}

// BenchmarkEnvelopeEncode measures the JSON encoding of one envelope, as the
// HTTP deliverer encodes it (append) and as encoding/json would, and the
// same events as CloudEvents, of 1, 100 and 1000 events; "spliced" builds
// the bodies from the events' JSON, as for spooled events and fan-out.
func BenchmarkEnvelopeEncode(b *testing.B) {
	encoders := []struct {
		name   string
		encode func(buf []byte, events []Event, eventJSON [][]byte) ([]byte, error)
	}{
		{"append", func(buf []byte, events []Event, _ [][]byte) ([]byte, error) { return appendEnvelope(buf, events) }}, // what endpoints use: into a reused buffer
		{"encoding-json", func(_ []byte, events []Event, _ [][]byte) ([]byte, error) {
			return json.Marshal(Envelope{Events: events})
		}},
		{"spliced", envelopeEncoding.appendJSON},
		{"cloudevents", func(buf []byte, events []Event, _ [][]byte) ([]byte, error) {
			return appendCloudEvents(buf, events, nil)
		}}, // WireFormat: FormatCloudEvents
		{"cloudevents-spliced", appendCloudEvents},
	}
	for _, enc := range encoders {
		for _, n := range []int{1, 100, 1000} {
			events := bridgeEvents(n)
			eventJSON, err := EncodeEvents(events)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(enc.name+"/events="+strconv.Itoa(n), func(b *testing.B) {
				b.ReportAllocs()
				var buf []byte
				for b.Loop() {
					var err error
					if buf, err = enc.encode(buf[:0], events, eventJSON); err != nil {
						b.Fatal(err)
					}
				}
				b.SetBytes(int64(len(buf)))
				b.ReportMetric(float64(len(buf))/float64(n), "B/event")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/event")
			})
		}
	}
}

// BenchmarkBroadcasterFanout measures a Broadcaster of 1 and 8 HTTP
// endpoints end to end, as BenchmarkEndpointDeliver does one: b.N events
// written one per Write, then Close. With 8, each event is encoded once
// and its JSON spliced into every endpoint's envelopes.
func BenchmarkBroadcasterFanout(b *testing.B) {
	events := bridgeEvents(4096)
	for _, n := range []int{1, 8} {
		b.Run("endpoints="+strconv.Itoa(n), func(b *testing.B) {
			srv, _ := benchReceiver(b, 0)
			var sinks []Sink
			for i := range n {
				sinks = append(sinks, NewEndpoint("bench-"+strconv.Itoa(i), srv.URL, EndpointConfig{Logger: benchLogger()}))
			}
			bc := NewBroadcaster(sinks...)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := bc.Write(events[i%len(events)]); err != nil {
					b.Fatal(err)
				}
			}
			if err := bc.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
