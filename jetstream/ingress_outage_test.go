package jetstream

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sirupsen/logrus/hooks/test"
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
