package relay

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications/config"
)

// README: "the relay remembers the last 100,000 event IDs
// (`relay.dedupesize`)" and "Every `statusinterval` (1m) the log has one
// line per endpoint": a relay built from a file without those keys uses
// 100,000 and one minute, in HTTP and in fleet mode.
func TestFromConfigDefaults(t *testing.T) {
	require.Equal(t, 100_000, DefaultDedupeSize)
	require.Equal(t, time.Minute, DefaultStatusInterval)
	a := newSink(t)
	log, _ := quiet()
	tests := []struct {
		name  string
		yaml  string
		fleet bool
	}{
		{"no relay section", "notifications:\n  endpoints: [{name: a, url: " + a.URL + "}]\n", false},
		{"relay section without the keys", "relay: {token: t0ken}\nnotifications:\n  endpoints: [{name: a, url: " + a.URL + "}]\n", false},
		{"fleet mode", "relay: {jetstream: {url: \"nats://127.0.0.1:1\", stream: S, durable: d}}\nnotifications:\n  endpoints: [{name: a, url: " + a.URL + "}]\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Parse("relay.yml", []byte(tt.yaml), func(string) (string, bool) { return "", false })
			require.NoError(t, err)
			r, err := FromConfig(c, Options{Logger: log})
			require.NoError(t, err)
			t.Cleanup(func() { _ = r.Close() })

			assert.Equal(t, 100_000, r.cfg.DedupeSize, "what the ingress's receiver is given")
			assert.Equal(t, 100_000, r.partial.size, "IDs remembered for endpoints that took an event another refused")
			assert.Equal(t, time.Minute, r.cfg.StatusInterval, "the status log's period")
			if tt.fleet {
				require.NotNil(t, r.cfg.Tracker)
				assert.Equal(t, 100_000, r.cfg.Tracker.recent.size, "IDs acknowledged lately")
			} else {
				assert.Nil(t, r.cfg.Tracker)
			}
		})
	}
}
