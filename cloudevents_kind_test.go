package notifications

import (
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// README, CloudEvents: "<kind> is Target.Type when set (manifest, blob);
// for released events, which have no type, it is manifest for a manifest
// media type (Docker schema 1/2, manifest list, OCI manifest or index) or a
// /manifests/ URL, blob for another media type or a /blobs/ URL, tag for a
// tag deleted without digest, repository for a deleted repository, and
// content for a deletion known only by digest".
func TestCloudEventKind(t *testing.T) {
	tests := []struct {
		name      string
		typ       string
		mediaType string
		url       string
		digest    string
		tag       string
		want      string
	}{
		{"2015 manifest", EventTargetTypeManifest, "", "http://r/v2/a/blobs/x", "sha256:1", "", "manifest"},
		{"2015 blob", EventTargetTypeBlob, "application/vnd.oci.image.index.v1+json", "", "sha256:1", "", "blob"},
		{"docker schema 1", "", "application/vnd.docker.distribution.manifest.v1+json", "", "sha256:1", "", "manifest"},
		{"docker schema 1 signed", "", "application/vnd.docker.distribution.manifest.v1+prettyjws", "", "sha256:1", "", "manifest"},
		{"docker schema 2", "", "application/vnd.docker.distribution.manifest.v2+json", "", "sha256:1", "", "manifest"},
		{"docker manifest list", "", "application/vnd.docker.distribution.manifest.list.v2+json", "", "sha256:1", "", "manifest"},
		{"oci manifest", "", "application/vnd.oci.image.manifest.v1+json", "", "sha256:1", "", "manifest"},
		{"oci index", "", "application/vnd.oci.image.index.v1+json", "", "sha256:1", "", "manifest"},
		{"manifest URL, no media type", "", "", "http://r:5000/v2/library/a/manifests/sha256:1", "sha256:1", "", "manifest"},
		{"manifest URL by tag, no digest", "", "", "http://r/v2/a/manifests/latest", "", "latest", "manifest"},
		{"blob URL, no media type", "", "", "http://r:5000/v2/library/a/blobs/sha256:1", "sha256:1", "", "blob"},
		{"blob of a repository named manifests", "", "application/octet-stream", "http://r/v2/acme/manifests/app/blobs/sha256:1", "sha256:1", "", "blob"},
		{"blob URL in a repository named manifests", "", "", "http://r/v2/acme/manifests/app/blobs/sha256:1", "sha256:1", "", "blob"},
		{"manifest URL in a repository named blobs", "", "", "http://r/v2/blobs/app/manifests/v1?x=1", "sha256:1", "", "manifest"},
		{"layer media type", "", "application/vnd.oci.image.layer.v1.tar+gzip", "", "sha256:1", "", "blob"},
		{"octet-stream", "", "application/octet-stream", "", "sha256:1", "", "blob"},
		{"tag deleted", "", "", "", "", "v1", "tag"},
		{"repository deleted", "", "", "", "", "", "repository"},
		{"deleted by digest", "", "", "", "sha256:1", "", "content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Event{Action: EventActionDelete}
			e.Target.Type, e.Target.MediaType, e.Target.URL = tt.typ, tt.mediaType, tt.url
			e.Target.Digest, e.Target.Tag = digest.Digest(tt.digest), tt.tag
			e.Target.Repository = "library/a"
			assert.Equal(t, tt.want, CloudEventKind(&e))
			assert.Equal(t, CloudEventTypePrefix+tt.want+".delete", CloudEventType(&e))
		})
	}
}

// README, CloudEvents: the id attribute is "the event ID (events without
// one are refused as content)": such an event is given up as refused
// (ErrRejected, to DeadLetter and OnFinished) without reaching the
// receiver, and the others of its batch are delivered, in order, whether
// written to the endpoint or through a Broadcaster (which hands it the
// events' JSON).
func TestCloudEventWithoutIDIsRefusedContent(t *testing.T) {
	for _, tt := range []struct {
		name  string
		write func(e *Endpoint, events []Event) error
	}{
		{"Write", func(e *Endpoint, events []Event) error { return e.Write(events...) }},
		{"Broadcaster", func(e *Endpoint, events []Event) error { return NewBroadcaster(e).Write(events...) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fr := newFormatReceiver(t, nil)
			finished, dead := &finishedLog{}, &fakeSink{}
			config := fastConfig()
			config.WireFormat = FormatCloudEvents
			config.Logger = testLogger()
			config.DeadLetter = dead
			config.OnFinished = finished.record
			e, err := OpenEndpoint("ce-no-id", fr.URL, config)
			require.NoError(t, err)
			block := testEvents("ce", 6)
			block[3].ID = ""
			require.NoError(t, tt.write(e, block))
			require.NoError(t, e.Close())

			want := append(ids(block[:3:3]), ids(block[4:])...)
			assert.Equal(t, want, fr.acceptedIDs(), "the others are delivered, in order")
			fr.mu.Lock()
			for _, n := range fr.batches {
				assert.Positive(t, n, "no request without events")
			}
			fr.mu.Unlock()
			require.Len(t, dead.events(), 1)
			assert.Empty(t, dead.events()[0].ID)
			got := finished.byID(t)
			require.Len(t, got, 6)
			f := got[""]
			assert.ErrorIs(t, f.Err, ErrRejected, "refused as content")
			assert.ErrorIs(t, f.Err, errNoID)
			assert.True(t, IsRejected(f.Err))
			for _, id := range want {
				assert.True(t, got[id].Delivered(), id)
			}
			var m EndpointMetrics
			e.ReadMetrics(&m)
			assert.Equal(t, 1, m.Dropped)
			assert.Equal(t, 5, m.Successes)
		})
	}
}
