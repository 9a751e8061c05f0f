package jetstream

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/relay"
)

// A relay whose NATS servers do not answer says so, with the dial's error
// rather than a request's timeout, and stops without waiting for them.
func TestIngressWithoutServers(t *testing.T) {
	logger, hook := test.NewNullLogger()
	in, err := OpenIngress(IngressConfig{URL: "nats://127.0.0.1:1", Stream: "EVENTS", Durable: "relays", Logger: logger})
	require.NoError(t, err)
	e, err := notifications.OpenEndpoint("hook", "http://127.0.0.1:1/", notifications.EndpointConfig{Logger: quietLogger()})
	require.NoError(t, err)
	r, err := relay.New(relay.Config{Targets: []relay.Target{{Endpoint: e}}, Tracker: relay.NewTracker(0), Logger: quietLogger()})
	require.NoError(t, err)
	defer func() { require.NoError(t, r.Close()) }()

	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- in.Serve(ctx, r) }()
	eventually(t, func() bool {
		for _, entry := range hook.AllEntries() {
			if entry.Message == "relay: not connected to NATS; waiting" &&
				strings.Contains(fmt.Sprint(entry.Data["error"]), "connection refused") {
				return true
			}
		}
		return false
	}, "the relay logs why it cannot reach NATS")
	cancel()
	require.NoError(t, <-served)
	require.NoError(t, in.Close(), "nothing to flush on a connection that never came up")
}

// When NATS closes the connection for good (here the server came back
// with another token, and reconnecting meets an authorization violation
// twice), the relay stops with that error instead of pulling in vain for
// ever: whatever runs it sees it fail and can start it again.
func TestIngressFailsWhenNATSClosesTheConnection(t *testing.T) {
	dir := t.TempDir()
	s := startTokenServer(t, dir, -1, "OLDTOKEN")
	port := serverPort(t, s)
	url := fmt.Sprintf("nats://OLDTOKEN@127.0.0.1:%d", port)
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := natsjs.New(nc)
	require.NoError(t, err)
	createStream(t, js, "EVENTS", "registry.events.>")

	ran := runRelayOf(t, url)
	eventually(t, func() bool {
		_, err := js.Consumer(t.Context(), "EVENTS", "relays")
		return err == nil
	}, "the relay's consumer exists")

	stopServer(s)
	startTokenServer(t, dir, port, "NEWTOKEN")
	assertRefusedForGood(t, ran)
}

// A relay started with credentials the server refuses stops with that
// error as well (nats.go retries a first connection as it reconnects),
// rather than waiting for ever.
func TestIngressFailsWhenNATSRefusesItAtStart(t *testing.T) {
	s := startTokenServer(t, t.TempDir(), -1, "NEWTOKEN")
	assertRefusedForGood(t, runRelayOf(t, fmt.Sprintf("nats://OLDTOKEN@%s", s.Addr())))
}

// runRelayOf runs a relay in fleet mode reading stream EVENTS from the
// NATS server at url, with one webhook endpoint that never answers, until
// the test ends; the channel has Run's error.
func runRelayOf(t *testing.T, url string) <-chan error {
	t.Helper()
	tr := relay.NewTracker(0)
	endpoint := testConfig()
	endpoint.OnFinished, endpoint.Logger = tr.Finished, quietLogger()
	e, err := notifications.OpenEndpoint("hook", "http://127.0.0.1:1/", endpoint)
	require.NoError(t, err)
	r, err := relay.New(relay.Config{Targets: []relay.Target{{Endpoint: e}}, Tracker: tr, Logger: quietLogger()})
	require.NoError(t, err)
	in, err := OpenIngress(IngressConfig{URL: url, Stream: "EVENTS", Durable: "relays", Logger: quietLogger()})
	require.NoError(t, err)
	in.fetchWait = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	ran, done := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(done)
		ran <- r.Run(ctx, in)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return ran
}

// assertRefusedForGood checks that the relay stopped with the error of a
// connection NATS closed after refusing its credentials, naming no token.
func assertRefusedForGood(t *testing.T, ran <-chan error) {
	t.Helper()
	select {
	case err := <-ran:
		require.Error(t, err)
		assert.Contains(t, strings.ToLower(err.Error()), "nats closed the connection: nats: authorization violation")
		assert.NotContains(t, err.Error(), "TOKEN")
	case <-time.After(30 * time.Second):
		t.Fatal("the relay did not stop when NATS refused its credentials")
	}
}
