package jetstream

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/relay"
)

// runFleetRelay runs a relay in fleet mode with one webhook endpoint to
// url, reading stream EVENTS of s with the durable consumer "relays". It
// returns the ingress and a function that stops the relay and returns Run's
// error.
func runFleetRelay(t testing.TB, natsURL, url string, endpoint notifications.EndpointConfig) (*Ingress, func() error) {
	return runFleetRelayAckWait(t, natsURL, url, endpoint, 30*time.Second)
}

// runFleetRelayAckWait is runFleetRelay with the consumer's AckWait.
func runFleetRelayAckWait(t testing.TB, natsURL, url string, endpoint notifications.EndpointConfig, ackWait time.Duration) (*Ingress, func() error) {
	t.Helper()
	tr := relay.NewTracker(0)
	endpoint.OnFinished = tr.Finished
	endpoint.Logger = quietLogger()
	e, err := notifications.OpenEndpoint("hook", url, endpoint)
	require.NoError(t, err)
	r, err := relay.New(relay.Config{Targets: []relay.Target{{Endpoint: e}}, Tracker: tr, Logger: quietLogger()})
	require.NoError(t, err)
	in, err := OpenIngress(IngressConfig{URL: natsURL, Stream: "EVENTS", Durable: "relays", AckWait: ackWait, RetryDelay: 10 * time.Millisecond, Logger: quietLogger()})
	require.NoError(t, err)
	in.fetchWait = 100 * time.Millisecond // a stopping relay waits for its last pull
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, in) }()
	var stopped bool
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = stop() })
	return in, stop
}

// consumerState returns the consumer's unacked and undelivered counts.
func consumerState(t *testing.T, js natsjs.JetStream) (ackPending, pending int) {
	t.Helper()
	c, err := js.Consumer(t.Context(), "EVENTS", "relays")
	if err != nil {
		return -1, -1
	}
	info, err := c.Info(t.Context())
	require.NoError(t, err)
	return info.NumAckPending, int(info.NumPending)
}

func TestIngressAcksOnlyDelivered(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	nc, js := dial(t, s)
	createStream(t, js, "EVENTS", "registry.events.>")
	gate := make(chan struct{})
	rc := newReceiver(t)
	held := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-gate
		rc.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(held.Close)

	sent := testEvents("in", 20)
	pub, err := NewEndpoint("pub", Config{Conn: nc, Endpoint: testConfig()})
	require.NoError(t, err)
	require.NoError(t, pub.Write(sent...))
	require.NoError(t, pub.Close())
	require.NoError(t, nc.Publish("registry.events.push.blob", []byte("not an event")))

	in, stop := runFleetRelay(t, s.ClientURL(), held.URL, testConfig())
	eventually(t, func() bool { ack, pending := consumerState(t, js); return ack == 20 && pending == 0 }, "every event delivered to the relay and none acked while the webhook holds them")
	assert.Equal(t, int64(1), in.terminated.Load(), "a message that is not an event is terminated")
	close(gate)
	eventually(t, func() bool { ack, _ := consumerState(t, js); return ack == 0 }, "acked once delivered")
	assert.Equal(t, eventIDs(sent), eventIDs(rc.received()), "every event, in order")
	assert.Equal(t, int64(20), in.acked.Load())
	require.NoError(t, stop())
}

func TestIngressStoppedRelayHoldsNothing(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	nc, js := dial(t, s)
	createStream(t, js, "EVENTS", "registry.events.>")
	pub, err := NewEndpoint("pub", Config{Conn: nc, Endpoint: testConfig()})
	require.NoError(t, err)
	sent := testEvents("stop", 10)
	require.NoError(t, pub.Write(sent...))
	require.NoError(t, pub.Close())

	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	config := testConfig()
	config.CloseTimeout = 50 * time.Millisecond
	in, stop := runFleetRelay(t, s.ClientURL(), down.URL, config)
	eventually(t, func() bool { ack, _ := consumerState(t, js); return ack == 10 }, "the relay has the events")
	require.NoError(t, stop(), "a relay that could not deliver stops cleanly")
	assert.Equal(t, int64(10), in.naked.Load(), "what it had is handed back, delivered to the webhook or not")
	assert.Zero(t, in.acked.Load())

	rc := newReceiver(t)
	in2, stop2 := runFleetRelay(t, s.ClientURL(), rc.URL, testConfig())
	eventually(t, func() bool { return len(rc.received()) == 10 }, "the next relay delivers them")
	eventually(t, func() bool { ack, pending := consumerState(t, js); return ack == 0 && pending == 0 }, "and acks them")
	assert.Equal(t, int64(10), in2.acked.Load())
	require.NoError(t, stop2())
}

func TestOpenIngressRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     IngressConfig
		message string
	}{
		{"no durable", IngressConfig{URL: nats.DefaultURL, Stream: "EVENTS"}, "Stream and Durable are required"},
		{"ack wait of nanoseconds", IngressConfig{URL: nats.DefaultURL, Stream: "EVENTS", Durable: "d", AckWait: 2}, "AckWait 2ns is shorter than 100ms"},
		{"ack wait just short", IngressConfig{URL: nats.DefaultURL, Stream: "EVENTS", Durable: "d", AckWait: MinAckWait - 1}, "shorter than 100ms"},
		// What NATS refuses at every try: the relay retried for ever.
		{"durable with a dot", IngressConfig{URL: nats.DefaultURL, Stream: "EVENTS", Durable: "my.relays"}, `durable name "my.relays" is not`},
		{"durable with a space", IngressConfig{URL: nats.DefaultURL, Stream: "EVENTS", Durable: "my relays"}, `durable name "my relays" is not`},
		{"stream with a slash", IngressConfig{URL: nats.DefaultURL, Stream: "a/b", Durable: "d"}, `stream name "a/b" is not`},
		{"stream name too long", IngressConfig{URL: nats.DefaultURL, Stream: strings.Repeat("s", 256), Durable: "d"}, "stream name"},
		{"empty filter token", IngressConfig{URL: nats.DefaultURL, Stream: "EVENTS", Durable: "d", FilterSubjects: []string{"registry..events"}}, `filter subject "registry..events" is not valid`},
		{"filter not UTF-8", IngressConfig{URL: nats.DefaultURL, Stream: "EVENTS", Durable: "d", FilterSubjects: []string{"registry.\xff"}}, "filter subject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := OpenIngress(tt.cfg)
			assert.Nil(t, in)
			assert.ErrorContains(t, err, tt.message)
		})
	}
	// '*' and '>' inside a longer token are plain text to the server: taken.
	in, err := OpenIngress(IngressConfig{URL: nats.DefaultURL, Stream: "EVENTS", Durable: "d", FilterSubjects: []string{"registry.events.push*", "registry.>"}, Logger: quietLogger()})
	require.NoError(t, err)
	require.NoError(t, in.Close())
}

// A webhook that holds the events longer than AckWait: the relay tells
// JetStream it is still at work, so nothing is delivered again.
func TestIngressKeepsMessagesThroughOutage(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	nc, js := dial(t, s)
	createStream(t, js, "EVENTS", "registry.events.>")
	pub, err := NewEndpoint("pub", Config{Conn: nc, Endpoint: testConfig()})
	require.NoError(t, err)
	sent := testEvents("slow", 5)
	require.NoError(t, pub.Write(sent...))
	require.NoError(t, pub.Close())

	rc := newReceiver(t)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		rc.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(slow.Close)
	in, stop := runFleetRelayAckWait(t, s.ClientURL(), slow.URL, testConfig(), 300*time.Millisecond)
	var releaseOnce sync.Once
	open := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(open) // before the relay stops, when the test fails early
	eventually(t, func() bool { return in.handled.Load() == 5 }, "the relay has the events")
	deadline := time.Now().Add(time.Second) // over three AckWaits: a redelivery would have come
	for time.Now().Before(deadline) {
		require.Equal(t, int64(5), in.handled.Load(), "no message delivered again")
		time.Sleep(10 * time.Millisecond) // watching for a redelivery that must not come
	}
	open()
	eventually(t, func() bool { ack, _ := consumerState(t, js); return ack == 0 && in.acked.Load() == 5 }, "acked once delivered")
	assert.Equal(t, eventIDs(sent), eventIDs(rc.received()))
	require.NoError(t, stop())
}
