package jetstream

import (
	"testing"

	"github.com/regnotify/notifications"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// filterEvents returns events of every action and target type in three
// repositories, two of them under library/, with IDs prefix-0, prefix-1, ...
func filterEvents(prefix string) []notifications.Event {
	repos := []string{"library/ubuntu", "team/app", "library/alpine"}
	actions := []string{notifications.EventActionPush, notifications.EventActionPull, notifications.EventActionDelete}
	types := []string{notifications.EventTargetTypeManifest, notifications.EventTargetTypeBlob}
	events := testEvents(prefix, len(repos)*len(actions)*len(types))
	i := 0
	for _, repo := range repos {
		for _, action := range actions {
			for _, typ := range types {
				e := &events[i]
				e.Action, e.Target.Type, e.Target.Name = action, typ, repo
				if typ == notifications.EventTargetTypeManifest {
					e.Target.Tag = "latest"
				} else {
					e.Target.Tag = ""
				}
				i++
			}
		}
	}
	return events
}

// TestFilterIgnoredEventsNeverReachTheStream writes a mix of events, in
// blocks, through JetStream endpoints that ignore some of them: the stream
// holds the others, in order, and the metrics count only those.
func TestFilterIgnoredEventsNeverReachTheStream(t *testing.T) {
	const block = 4
	tests := []struct {
		name   string
		ignore notifications.IgnoreConfig
		keep   func(e notifications.Event) bool
	}{
		{"actions", notifications.IgnoreConfig{Actions: []string{notifications.EventActionPull}},
			func(e notifications.Event) bool { return e.Action != notifications.EventActionPull }},
		{"target types", notifications.IgnoreConfig{TargetTypes: []string{notifications.EventTargetTypeBlob}},
			func(e notifications.Event) bool { return e.Target.Type != notifications.EventTargetTypeBlob }},
		{"repositories", notifications.IgnoreConfig{Repositories: []string{"library/*"}},
			func(e notifications.Event) bool { return e.Target.Name == "team/app" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, t.TempDir(), -1)
			_, js := dial(t, s)
			createStream(t, js, "FILTERED", "registry.events.>")

			config := testConfig()
			config.Ignore = tt.ignore
			e, err := NewEndpoint("filtered", Config{URL: s.ClientURL(), Endpoint: config})
			require.NoError(t, err)

			events := filterEvents("filter")
			var want []string
			for _, ev := range events {
				if tt.keep(ev) {
					want = append(want, ev.ID)
				}
			}
			require.NotEmpty(t, want)
			require.Less(t, len(want), len(events), "the case ignores some events")

			for i := 0; i < len(events); i += block {
				require.NoError(t, e.Write(events[i:min(i+block, len(events))]...))
			}
			require.NoError(t, e.Close())

			assert.Equal(t, want, msgIDs(streamMessages(t, js, "FILTERED")), "the stream holds the events not ignored, in order")
			m := metrics(e)
			assert.Equal(t, len(want), m.Events, "ignored events are not counted")
			assert.Equal(t, len(want), m.Successes)
			assert.Equal(t, map[string]int{StatusAck: len(want)}, m.Statuses)
			assert.Zero(t, m.Failures+m.Errors+m.Dropped+m.Pending)
		})
	}
}
