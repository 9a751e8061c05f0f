package registryv2

import (
	"testing"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/interop/harness"
	"github.com/regnotify/notifications/receiver"
)

// TestRelayEveryEventArrivesWhole: docker/distribution v2.8.3 (registry:2), unmodified, notifies
// a regnotify relay (with a spool); every event reaches the webhook behind
// it as the very JSON object the registry sent.
func TestRelayEveryEventArrivesWhole(t *testing.T) {
	c := harness.NewCollector(t, receiver.Config{})
	tap, url := harness.StartRelay(t, c.URL, notifications.EndpointConfig{SpoolDir: t.TempDir()})
	reg := Start(t, url)
	harness.CheckEveryEvent(t, reg, c, harness.Scenario{MediaType: notifications.EventsMediaType})
	harness.CheckRelayed(t, tap, c)
}
