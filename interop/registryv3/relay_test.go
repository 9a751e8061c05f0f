package registryv3

import (
	"testing"

	"github.com/regnotify/notifications/interop/harness"
)

// TestRelayEveryEventArrivesWhole: distribution v3.1.2, unmodified, notifies
// a regnotify relay (with a spool); every event reaches the webhook behind
// it as the very JSON object the registry sent.
func TestRelayEveryEventArrivesWhole(t *testing.T) {
	harness.CheckRelayedScenario(t, Start, harness.Scenario{TagDelete: true, IndexPlatforms: true})
}

// TestRelayFilters: an endpoint's Ignore (blobs, scratch/*) applies to the
// events distribution v3.1.2 sends, which carry no type and no name.
func TestRelayFilters(t *testing.T) {
	harness.CheckRelayFilters(t, Start)
}
