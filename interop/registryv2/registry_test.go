package registryv2

import (
	"testing"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/interop/harness"
	"github.com/regnotify/notifications/receiver"
)

// TestEveryEventArrivesWhole: docker/distribution v2.8.3's envelopes (media
// type v1, released fields) reach the receiver, and every field of every
// event survives decoding.
func TestEveryEventArrivesWhole(t *testing.T) {
	c := harness.NewCollector(t, receiver.Config{})
	reg := Start(t, c.URL)
	harness.CheckEveryEvent(t, reg, c, harness.Scenario{MediaType: notifications.EventsMediaType})
}
