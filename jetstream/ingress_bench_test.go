package jetstream

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkIngressDeliver measures one relay in fleet mode: b.N events
// already in a stream, pulled and delivered to a webhook that answers at
// once, each acked once delivered. It reports events/s.
func BenchmarkIngressDeliver(b *testing.B) {
	s := startServer(b, b.TempDir(), -1)
	nc, js := dial(b, s)
	createStream(b, js, "EVENTS", "registry.events.>")
	pub, err := NewEndpoint("pub", Config{Conn: nc, Endpoint: testConfig()})
	require.NoError(b, err)
	for i := 0; i < b.N; i += 1000 {
		require.NoError(b, pub.Write(testEvents("bench-"+time.Now().String(), min(1000, b.N-i))...))
	}
	require.NoError(b, pub.Close())
	rc := newReceiver(b)
	b.ResetTimer()
	start := time.Now()
	in, stop := runFleetRelay(b, s.ClientURL(), rc.URL, testConfig())
	for in.acked.Load() < int64(b.N) {
		time.Sleep(time.Millisecond) // polling the ingress's count
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.StopTimer()
	require.NoError(b, stop())
}
