package harness

import (
	"mime"
	"testing"

	"github.com/regnotify/notifications"
)

// Scenario describes what a registry release sends, for CheckEveryEvent.
type Scenario struct {
	// MediaType is the Content-Type of the registry's envelopes.
	MediaType string

	// TagDelete: the registry deletes a tag by name (sending a tag delete
	// event).
	TagDelete bool

	// IndexPlatforms: the references of an index event carry the platform
	// of each manifest (v2.8.3 leaves it out).
	IndexPlatforms bool
}

// CheckEveryEvent pushes an OCI image, a Docker schema-2 image and an OCI
// index to reg, mounts a blob into another repository, pulls both images,
// deletes a manifest, a blob (and a tag, when s.TagDelete), and checks what
// reached c: every expected event, in the envelope media type s.MediaType,
// and every event re-encoded by the library is the JSON object the registry
// sent (ReencodedDiff).
func CheckEveryEvent(t *testing.T, reg *Client, c *Collector, s Scenario) {
	oci := reg.PushImage("interop/oci", "v1", OCIManifest)
	docker := reg.PushImage("interop/docker", "v1", DockerManifest)
	index := reg.PushIndex("interop/oci", "multi", oci.Manifest)
	reg.MountBlob("interop/mounted", "interop/oci", oci.Layers[0])
	reg.Pull(oci)
	reg.Pull(docker)
	reg.DeleteManifest("interop/docker", docker.Manifest.Digest)
	reg.DeleteBlob("interop/mounted", oci.Layers[0].Digest)
	if s.TagDelete {
		reg.DeleteManifest("interop/oci", "multi")
	}

	type want struct {
		what, action, mediaType, digest string
	}
	wants := []want{
		{"OCI manifest push", notifications.EventActionPush, OCIManifest, oci.Manifest.Digest},
		{"Docker manifest push", notifications.EventActionPush, DockerManifest, docker.Manifest.Digest},
		{"index push", notifications.EventActionPush, OCIIndex, index.Digest},
		{"OCI manifest pull", notifications.EventActionPull, OCIManifest, oci.Manifest.Digest},
		{"Docker manifest pull", notifications.EventActionPull, DockerManifest, docker.Manifest.Digest},
		{"manifest delete", notifications.EventActionDelete, "", docker.Manifest.Digest},
		{"blob delete", notifications.EventActionDelete, "", oci.Layers[0].Digest},
	}
	found := func(events []notifications.Event, w want) []notifications.Event {
		var out []notifications.Event
		for _, e := range Find(events, w.action, w.mediaType, w.digest) {
			if w.action != notifications.EventActionDelete || e.Target.Repository != "interop/mounted" || w.what == "blob delete" {
				out = append(out, e)
			}
		}
		return out
	}
	events := c.WaitFor(t, "every event", func(events []notifications.Event) bool {
		for _, w := range wants {
			if len(found(events, w)) == 0 {
				return false
			}
		}
		mounts, blobPulls := 0, 0
		for _, e := range events {
			if e.Action == notifications.EventActionMount {
				mounts++
			}
			if e.Action == notifications.EventActionPull && e.Target.MediaType != OCIManifest && e.Target.MediaType != DockerManifest {
				blobPulls++
			}
		}
		tagDeleted := !s.TagDelete
		for _, e := range events {
			tagDeleted = tagDeleted || e.Action == notifications.EventActionDelete && e.Target.Tag == "multi" && e.Target.Digest == ""
		}
		return mounts == 1 && blobPulls == 6 && tagDeleted
	})

	for _, ct := range c.ContentTypes() {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != s.MediaType {
			t.Errorf("Content-Type %q, want %s", ct, s.MediaType)
		}
	}

	t.Logf("%d events arrived", len(events))

	// Every event: all its fields through decode and encode.
	for _, e := range events {
		raw := c.Raw(e.ID)
		if raw == nil {
			t.Errorf("event %s: not seen as sent", e.ID)
			continue
		}
		diff, err := ReencodedDiff(raw, e)
		if err != nil || diff != "" {
			t.Errorf("event %s %s: %v\n%s", e.Action, e.Target.Digest, err, diff)
		}
		if e.Target.Repository == "" {
			t.Errorf("event %s %s: no repository", e.Action, e.Target.Digest)
		}
	}

	// The fields consumers read, checked on the manifest events.
	for _, img := range []Image{oci, docker} {
		for _, action := range []string{notifications.EventActionPush, notifications.EventActionPull} {
			for _, e := range Find(events, action, img.Manifest.MediaType, img.Manifest.Digest) {
				checkManifestEvent(t, e, img)
			}
		}
	}
	for _, e := range Find(events, notifications.EventActionPush, OCIIndex, index.Digest) {
		if len(e.Target.References) != 1 || string(e.Target.References[0].Digest) != oci.Manifest.Digest ||
			s.IndexPlatforms && (e.Target.References[0].Platform == nil || e.Target.References[0].Platform.Variant != "v6") {
			t.Errorf("index push: references %+v, want the OCI manifest for arm/v6", e.Target.References)
		}
	}
	for _, e := range events {
		if e.Action == notifications.EventActionMount && (e.Target.FromRepository != "interop/oci" || e.Target.Repository != "interop/mounted") {
			t.Errorf("mount: from %q into %q", e.Target.FromRepository, e.Target.Repository)
		}
	}
}

// checkManifestEvent checks the target of an event about img's manifest.
func checkManifestEvent(t *testing.T, e notifications.Event, img Image) {
	t.Helper()
	tt := e.Target
	if tt.Repository != img.Repository || tt.Size != img.Manifest.Size || tt.Length != img.Manifest.Size || tt.URL == "" {
		t.Errorf("%s %s: repository %q size %d length %d url %q, want %q and %d", e.Action, tt.MediaType, tt.Repository, tt.Size, tt.Length, tt.URL, img.Repository, img.Manifest.Size)
	}
	if e.Action == notifications.EventActionPush && tt.Tag != img.Tag {
		t.Errorf("push %s: tag %q, want %q", tt.MediaType, tt.Tag, img.Tag)
	}
	wantRefs := append([]Descriptor{img.Config}, img.Layers...)
	if len(tt.References) != len(wantRefs) {
		t.Errorf("%s %s: %d references, want %d", e.Action, tt.MediaType, len(tt.References), len(wantRefs))
		return
	}
	for i, r := range tt.References {
		w := wantRefs[i]
		if string(r.Digest) != w.Digest || r.MediaType != w.MediaType || r.Size != w.Size || len(r.Annotations) != len(w.Annotations) {
			t.Errorf("%s %s: reference %d is %+v, want %+v", e.Action, tt.MediaType, i, r, w)
		}
	}
}
