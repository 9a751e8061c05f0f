package jetstream

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/regnotify/notifications"
)

// benchEvent returns a blob push event shaped as the bridge builds it.
func benchEvent(i int) notifications.Event {
	d := digest.FromString("layer-" + strconv.Itoa(i))
	var ev notifications.Event
	ev.Timestamp = time.Now().UTC()
	ev.Action = notifications.EventActionPush
	ev.Target.Type = notifications.EventTargetTypeBlob
	ev.Target.Name = "library/bench"
	ev.Target.Digest = d
	ev.Target.URL = "https://registry.example.com/v2/library/bench/blobs/" + d.String()
	ev.Request = notifications.RequestRecord{
		ID: "4d5c1e0e-1b8e-4a8c-9a53-0d3c1f0a9b11", Addr: "10.1.2.3:53422", Host: "registry.example.com",
		Method: http.MethodPut, UserAgent: "docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.8.0 os/linux arch/amd64",
	}
	ev.Actor.Name = "ci-bot"
	ev.Source = notifications.SourceRecord{Addr: "registry-0.registry.svc:5000", InstanceID: "4b0e2f3e-7f7c-4f0e-9a53-0d3c1f0a9b11"}
	return ev
}

// BenchmarkJetStreamDeliver measures events delivered into a JetStream file
// stream end to end: b.N events written to a JetStream endpoint, one per
// Write as the bridge writes, then Close, which returns once every message
// was acknowledged. It reports events/s. With maxBatch=1 every event is a
// batch of its own and waits for its PubAck before the next is published.
func BenchmarkJetStreamDeliver(b *testing.B) {
	templates := make([]notifications.Event, 1024)
	for i := range templates {
		templates[i] = benchEvent(i)
	}
	for _, maxBatch := range []int{notifications.DefaultMaxBatch, 1} {
		b.Run("maxBatch="+strconv.Itoa(maxBatch), func(b *testing.B) {
			s := startServer(b, b.TempDir(), -1)
			_, js := dial(b, s)
			createStream(b, js, "BENCH", "registry.events.>")
			e, err := NewEndpoint("bench", Config{URL: s.ClientURL(), Endpoint: notifications.EndpointConfig{
				MaxBatch: maxBatch, CloseTimeout: -1, Logger: quietLogger(),
			}})
			if err != nil {
				b.Fatal(err)
			}
			prefix := strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				ev := templates[i%len(templates)]
				ev.ID = prefix + strconv.Itoa(i) // distinct: the stream would drop a repeated ID
				if err := e.Write(ev); err != nil {
					b.Fatal(err)
				}
			}
			if err := e.Close(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if got := streamCount(b, js, "BENCH"); got != b.N {
				b.Fatalf("the stream holds %d messages, want %d", got, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
