package registryv3

import (
	"testing"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/interop/harness"
	"github.com/regnotify/notifications/receiver"
)

// TestEveryEventArrivesWhole: distribution v3.1.2's envelopes (media type
// v2) reach the receiver, and every field of every event survives decoding.
func TestEveryEventArrivesWhole(t *testing.T) {
	c := harness.NewCollector(t, receiver.Config{})
	reg := Start(t, c.URL)
	harness.CheckEveryEvent(t, reg, c, harness.Scenario{MediaType: notifications.EventsMediaTypeV2, TagDelete: true, IndexPlatforms: true})
}
