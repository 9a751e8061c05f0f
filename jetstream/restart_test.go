package jetstream

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/regnotify/notifications"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServerRestartMidStream shuts the server down while events flow and
// starts it again on the same store: every event lands in the stream once.
// The endpoint spools to disk; in one case it rides out the outage, in the
// other the registry itself restarts during the outage and a new endpoint
// delivers what the first one left in the spool.
func TestServerRestartMidStream(t *testing.T) {
	tests := []struct {
		name            string
		registryRestart bool
	}{
		{"endpoint rides out the outage", false},
		{"registry restarts during the outage", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const total, block = 3000, 10
			storeDir, spoolDir := t.TempDir(), t.TempDir()
			s := startServer(t, storeDir, -1)
			port := serverPort(t, s)
			_, js := dial(t, s)
			_, err := js.CreateStream(t.Context(), natsjs.StreamConfig{
				Name: "EVENTS", Subjects: []string{"registry.events.>"}, Storage: natsjs.FileStorage, Duplicates: 5 * time.Minute,
			})
			require.NoError(t, err)

			config := Config{
				URL:      s.ClientURL(),
				Endpoint: testConfig(),
				Options:  []nats.Option{nats.ReconnectWait(10 * time.Millisecond), nats.ReconnectJitter(0, 0)},
			}
			config.Endpoint.SpoolDir = spoolDir
			if tt.registryRestart {
				config.Endpoint.CloseTimeout = 50 * time.Millisecond // closed during the outage
			}
			e, err := NewEndpoint("restart", config)
			require.NoError(t, err)

			events := testEvents("restart", total)
			for i := 0; i < total/3; i += block {
				require.NoError(t, e.Write(events[i:i+block]...))
			}
			eventually(t, func() bool { return metrics(e).Successes >= total/6 }, "some events delivered before the outage")
			stopServer(s)
			for i := total / 3; i < total; i += block {
				require.NoError(t, e.Write(events[i:i+block]...))
			}
			eventually(t, func() bool { m := metrics(e); return m.Errors+m.Failures > 0 }, "attempts fail during the outage")

			if tt.registryRestart {
				var undelivered *notifications.UndeliveredError
				require.ErrorAs(t, e.Close(), &undelivered)
				assert.True(t, undelivered.Spooled, "what is left stays in the spool")
				delivered := metrics(e).Successes
				assert.Less(t, delivered, total)

				s = startServer(t, storeDir, port)
				config.Endpoint.CloseTimeout = time.Minute
				e, err = NewEndpoint("restart", config)
				require.NoError(t, err)
				require.NoError(t, e.Close(), "the new endpoint delivers the spool")
				assert.Equal(t, total-delivered, metrics(e).Successes, "the spool held every event left")
			} else {
				s = startServer(t, storeDir, port)
				require.NoError(t, e.Close())
				assert.Equal(t, total, metrics(e).Successes)
			}

			_, js = dial(t, s)
			ids := msgIDs(streamMessages(t, js, "EVENTS"))
			assert.Len(t, ids, total, "every event once")
			assert.ElementsMatch(t, eventIDs(events), ids, "none lost, none twice")
		})
	}
}
