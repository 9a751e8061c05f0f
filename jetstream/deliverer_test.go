package jetstream

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/regnotify/notifications"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDeliverWithoutAck publishes to a subject a plain subscriber answers
// for nothing: the attempt ends on the timeout, or as soon as ctx is done.
func TestDeliverWithoutAck(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	nc, _ := dial(t, s)
	sub, err := nc.SubscribeSync("registry.events.>") // a responder that never acks
	require.NoError(t, err)
	defer sub.Unsubscribe()
	require.NoError(t, nc.Flush())

	tests := []struct {
		name    string
		timeout time.Duration
		cancel  bool
		wantErr error
	}{
		{"timeout", 50 * time.Millisecond, false, natsjs.ErrAsyncPublishTimeout},
		{"context done", time.Minute, true, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := nats.Connect(s.ClientURL())
			require.NoError(t, err)
			d, err := newDeliverer(conn, true, closedSignal(conn), Config{SubjectPrefix: DefaultSubjectPrefix}, tt.timeout)
			require.NoError(t, err)
			defer func() { require.NoError(t, d.Close()) }()

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tt.cancel {
				go func() {
					_, _ = sub.NextMsg(10 * time.Second) // published: now give up
					cancel()
				}()
			}
			started := time.Now()
			got := d.Deliver(ctx, testEvents(tt.name, 3))
			assert.Less(t, time.Since(started), 10*time.Second)
			assert.Equal(t, notifications.Retry, got.Outcome)
			assert.Empty(t, got.Status, "no answer: counted as an error")
			assert.ErrorIs(t, got.Err, tt.wantErr)
		})
	}
}

func TestDeliverWhileDisconnected(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	conn, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(time.Hour))
	require.NoError(t, err)
	d, err := newDeliverer(conn, true, closedSignal(conn), Config{SubjectPrefix: DefaultSubjectPrefix}, time.Second)
	require.NoError(t, err)
	stopServer(s)
	eventually(t, func() bool { return !conn.IsConnected() }, "client sees the server gone")

	got := d.Deliver(t.Context(), testEvents("down", 2))
	assert.Equal(t, notifications.Retry, got.Outcome)
	assert.Empty(t, got.Status)
	assert.ErrorIs(t, got.Err, ErrNotConnected)
	require.NoError(t, d.Close(), "closing a reconnecting connection")
	assert.True(t, conn.IsClosed())
}
