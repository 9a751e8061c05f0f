package notifications

import (
	"context"
	"net/http"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mixedEvents returns events of every action, target type and repository
// the filter tests ignore, with IDs naming them.
func mixedEvents() []Event {
	var events []Event
	for _, repo := range []string{"library/ubuntu", "library/alpine", "team/app", "scratch"} {
		for _, action := range []string{EventActionPush, EventActionPull, EventActionDelete} {
			for _, typ := range []string{EventTargetTypeManifest, EventTargetTypeBlob} {
				var e Event
				e.ID = action + " " + typ + " " + repo
				e.Action, e.Target.Type, e.Target.Name = action, typ, repo
				e.Target.MediaType = "application/octet-stream"
				if typ == EventTargetTypeManifest {
					e.Target.MediaType = "application/vnd.oci.image.manifest.v1+json"
				}
				events = append(events, e)
			}
		}
	}
	return events
}

func TestEndpointIgnore(t *testing.T) {
	tests := []struct {
		name   string
		ignore IgnoreConfig
		keep   func(e Event) bool
	}{
		{"nothing", IgnoreConfig{}, func(Event) bool { return true }},
		{"actions alone", IgnoreConfig{Actions: []string{EventActionPull}},
			func(e Event) bool { return e.Action != EventActionPull }},
		{"target types alone", IgnoreConfig{TargetTypes: []string{EventTargetTypeBlob}},
			func(e Event) bool { return e.Target.Type != EventTargetTypeBlob }},
		{"media types alone", IgnoreConfig{MediaTypes: []string{"application/octet-stream"}},
			func(e Event) bool { return e.Target.MediaType != "application/octet-stream" }},
		{"repositories alone", IgnoreConfig{Repositories: []string{"library/*"}},
			func(e Event) bool { return e.Target.Name != "library/ubuntu" && e.Target.Name != "library/alpine" }},
		{"exact repository", IgnoreConfig{Repositories: []string{"scratch"}},
			func(e Event) bool { return e.Target.Name != "scratch" }},
		{"any list matches", IgnoreConfig{Actions: []string{EventActionPull, EventActionDelete}, Repositories: []string{"team/*"}},
			func(e Event) bool { return e.Action == EventActionPush && e.Target.Name != "team/app" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, nil)
			config := fastConfig()
			config.Ignore = tt.ignore
			e, err := OpenEndpoint("ignore", rc.URL, config)
			require.NoError(t, err)
			events := mixedEvents()
			var want []string
			for _, ev := range events {
				if tt.keep(ev) {
					want = append(want, ev.ID)
				}
			}
			require.NotEmpty(t, want)
			require.NoError(t, e.Write(events...))
			require.NoError(t, e.Close())

			assert.Equal(t, want, ids(rc.received()))
			assert.Len(t, rc.requestHeaders(), 1, "what is kept of a block is sent together")
			var m EndpointMetrics
			e.ReadMetrics(&m)
			assert.Equal(t, len(want), m.Events, "ignored events are not counted")
			assert.Equal(t, len(want), m.Successes)
			assert.Equal(t, map[string]int{"200 OK": len(want)}, m.Statuses)
		})
	}
}

func TestEndpointIgnoredBlockIsNotSent(t *testing.T) {
	rc := newReceiver(t, nil)
	config := fastConfig()
	config.Ignore = IgnoreConfig{Actions: []string{EventActionPull}}
	e := NewEndpoint("ignored-block", rc.URL, config)
	pulls := testEvents("pull", 3)
	for i := range pulls {
		pulls[i].Action = EventActionPull
	}
	require.NoError(t, e.Write(pulls...))
	require.NoError(t, e.Write(testEvents("push", 1)...))
	checkClose(t, e)
	assert.Equal(t, []string{"push-0"}, ids(rc.received()))
	assert.Len(t, rc.requestHeaders(), 1, "a block of ignored events only sends nothing")
	var m EndpointMetrics
	e.ReadMetrics(&m)
	assert.Equal(t, 1, m.Events)
	assert.ErrorIs(t, e.Write(pulls...), ErrSinkClosed, "even an ignored block is refused after Close")
}

func TestIgnoreSplitKeepsCallersSlice(t *testing.T) {
	ignore := IgnoreConfig{TargetTypes: []string{EventTargetTypeManifest}}
	events := testEvents("b", 4)
	events[1].Target.Type = EventTargetTypeManifest
	original := append([]Event(nil), events...)
	kept, ignored := ignore.split(events)
	assert.Equal(t, original, events, "the caller's block is not modified")
	assert.Equal(t, []string{"b-0", "b-2", "b-3"}, ids(kept))
	assert.Equal(t, []string{"b-1"}, ids(ignored))

	kept, ignored = IgnoreConfig{}.split(events)
	assert.Same(t, &events[0], &kept[0], "nothing ignored: the block itself")
	assert.Empty(t, ignored)
}

// Registries released since 2015 (docker/distribution v2.x, distribution
// v3) send a target's repository and media type, with no name and no type:
// a filter matches their events as it does the 2015 format's.
func TestIgnoreMatchesReleasedFormatEvents(t *testing.T) {
	released := func(repo, mediaType, url string) *Event {
		var e Event
		e.Action = EventActionPush
		e.Target.Repository, e.Target.MediaType, e.Target.URL = repo, mediaType, url
		return &e
	}
	manifest := released("scratch/app", "application/vnd.oci.image.manifest.v1+json", "")
	blob := released("library/ubuntu", "application/octet-stream", "")
	layerByURL := released("team/app", "", "http://registry:5000/v2/team/app/blobs/sha256:ab")
	tests := []struct {
		name    string
		ignore  IgnoreConfig
		event   *Event
		ignored bool
	}{
		{"repository pattern", IgnoreConfig{Repositories: []string{"scratch/*"}}, manifest, true},
		{"repository pattern, another repository", IgnoreConfig{Repositories: []string{"scratch/*"}}, blob, false},
		{"exact repository", IgnoreConfig{Repositories: []string{"library/ubuntu"}}, blob, true},
		{"blob by media type", IgnoreConfig{TargetTypes: []string{EventTargetTypeBlob}}, blob, true},
		{"blob by URL", IgnoreConfig{TargetTypes: []string{EventTargetTypeBlob}}, layerByURL, true},
		{"a manifest is no blob", IgnoreConfig{TargetTypes: []string{EventTargetTypeBlob}}, manifest, false},
		{"manifest by media type", IgnoreConfig{TargetTypes: []string{EventTargetTypeManifest}}, manifest, true},
		{"a pattern matching everything needs a repository", IgnoreConfig{Repositories: []string{"*"}}, released("", "", ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.ignored, tt.ignore.ignores(tt.event))
		})
	}
}

func TestIgnoreInvalidPattern(t *testing.T) {
	config := fastConfig()
	config.Ignore = IgnoreConfig{Repositories: []string{"library/*", "bad[pattern"}}
	_, err := OpenEndpoint("bad-pattern", "http://127.0.0.1:1/", config)
	require.ErrorIs(t, err, ErrInvalidConfig)
	assert.Contains(t, err.Error(), "bad[pattern")

	_, err = NewDelivererEndpoint("bad-pattern", "test", &nopDeliverer{}, config)
	require.ErrorIs(t, err, ErrInvalidConfig)

	// NewEndpoint logs the configuration and runs: the bad pattern matches
	// nothing, the good one still works.
	rc := newReceiver(t, nil)
	e := NewEndpoint("bad-pattern", rc.URL, config)
	events := testEvents("p", 2)
	events[0].Target.Name = "library/ubuntu"
	events[1].Target.Name = "bad[pattern"
	require.NoError(t, e.Write(events...))
	require.NoError(t, e.Close())
	assert.Equal(t, []string{"p-1"}, ids(rc.received()))
}

// nopDeliverer accepts every batch.
type nopDeliverer struct{}

func (nopDeliverer) Deliver(_ context.Context, _ []Event) Delivery {
	return Delivery{Outcome: Accepted, Status: "200 OK"}
}
func (nopDeliverer) Close() error { return nil }

func TestEndpointWithCallersTransportReleasesGoroutines(t *testing.T) {
	rc := newReceiver(t, nil)
	transport := &http.Transport{}
	before := runtime.NumGoroutine()
	for range 10 {
		config := fastConfig()
		config.Transport = transport
		config.Ignore = IgnoreConfig{Actions: []string{EventActionPull}}
		e := NewEndpoint("leak", rc.URL, config)
		require.NoError(t, e.Write(testEvents("l", 2)...))
		require.NoError(t, e.Close())
	}
	eventually(t, func() bool { return runtime.NumGoroutine() <= before+2 },
		"the endpoint closes its clone's connections")
}
