package main

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/jetstream"
)

// A JetStream endpoint's CreateStream with Replicas makes, on a real
// cluster, a stream that every node keeps: it waits (retrying) until the
// cluster has a leader, then publishes into the replicated stream.
func TestCreateStreamReplicated(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS cluster")
	}
	servers := startCluster(t, 3)
	e, err := jetstream.NewEndpoint("replicated", jetstream.Config{
		URL:          clientURLs(servers),
		CreateStream: &jetstream.StreamConfig{Name: "REPLICATED", Replicas: 3},
		Endpoint: notifications.EndpointConfig{Timeout: 5 * time.Second, Backoff: 50 * time.Millisecond,
			CloseTimeout: time.Minute, Logger: quietLogger()},
	})
	require.NoError(t, err)
	require.NoError(t, e.Write(fleetEvents(0, 10)...))
	require.NoError(t, e.Close(), "Close delivers the pending events")
	var m notifications.EndpointMetrics
	e.ReadMetrics(&m)
	require.Equal(t, 10, m.Successes)

	nc, err := nats.Connect(servers[0].ClientURL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := natsjs.New(nc)
	require.NoError(t, err)
	stream, err := js.Stream(t.Context(), "REPLICATED")
	require.NoError(t, err)
	info, err := stream.Info(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 3, info.Config.Replicas)
	assert.Equal(t, uint64(10), info.State.Msgs)
	require.NotNil(t, info.Cluster)
	assert.Len(t, info.Cluster.Replicas, 2, "a leader and two replicas")
}
