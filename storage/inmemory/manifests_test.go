package inmemory

import (
	"testing"

	"github.com/regnotify/notifications/manifest"
	"github.com/regnotify/notifications/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestManifestsPutGet(t *testing.T) {
	ms := New().Repository("library/ubuntu").Manifests()

	tags, err := ms.Tags()
	require.NoError(t, err)
	assert.Empty(t, tags)

	for _, tag := range []string{"latest", "14.04", "12.04"} {
		require.NoError(t, ms.Put(tag, testManifest("library/ubuntu", tag, "raw "+tag)))
	}
	tags, err = ms.Tags()
	require.NoError(t, err)
	assert.Equal(t, []string{"12.04", "14.04", "latest"}, tags)

	ok, err := ms.Exists("14.04")
	require.NoError(t, err)
	assert.True(t, ok)

	got, err := ms.Get("14.04")
	require.NoError(t, err)
	assert.Equal(t, testManifest("library/ubuntu", "14.04", "raw 14.04"), got)

	// Put replaces.
	require.NoError(t, ms.Put("14.04", testManifest("library/ubuntu", "14.04", "new")))
	got, err = ms.Get("14.04")
	require.NoError(t, err)
	assert.Equal(t, []byte("new"), got.Raw)
}

func TestManifestsStoreCopies(t *testing.T) {
	ms := New().Repository("r").Manifests()
	want := testManifest("r", "latest", "raw")

	m := testManifest("r", "latest", "raw")
	require.NoError(t, ms.Put("latest", m))
	m.Name = "changed"
	m.Raw[0] = 'X'
	m.FSLayers[0].BlobSum = "sha256:changed"
	m.History[0].V1Compatibility = "changed"

	got, err := ms.Get("latest")
	require.NoError(t, err)
	require.Equal(t, want, got)
	got.Tag = "changed"
	got.Raw[0] = 'X'
	got.FSLayers[0].BlobSum = "sha256:changed"
	got.History[0].V1Compatibility = "changed"

	again, err := ms.Get("latest")
	require.NoError(t, err)
	assert.Equal(t, want, again)
}

func TestManifestsPutEmpty(t *testing.T) {
	ms := New().Repository("r").Manifests()
	require.NoError(t, ms.Put("bare", &manifest.SignedManifest{}))
	got, err := ms.Get("bare")
	require.NoError(t, err)
	assert.Equal(t, &manifest.SignedManifest{}, got)
}

func TestManifestsErrors(t *testing.T) {
	tests := []struct {
		name    string
		op      func(ms storage.ManifestService) error
		wantIs  error
		wantMsg string
	}{
		{"get unknown", func(ms storage.ManifestService) error { _, err := ms.Get("nope"); return err },
			ErrUnknownManifest, "inmemory: unknown manifest library/ubuntu:nope"},
		{"delete unknown", func(ms storage.ManifestService) error { return ms.Delete("nope") },
			ErrUnknownManifest, "inmemory: unknown manifest library/ubuntu:nope"},
		{"put nil", func(ms storage.ManifestService) error { return ms.Put("latest", nil) },
			nil, "inmemory: put manifest library/ubuntu:latest: nil manifest"},
		{"put empty tag", func(ms storage.ManifestService) error { return ms.Put("", testManifest("r", "", "m")) },
			nil, "inmemory: put manifest in library/ubuntu: empty tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := New().Repository("library/ubuntu").Manifests()
			err := tt.op(ms)
			require.EqualError(t, err, tt.wantMsg)
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
			tags, err := ms.Tags()
			require.NoError(t, err)
			assert.Empty(t, tags, "a failed operation stores nothing")
		})
	}
}

func TestManifestsDelete(t *testing.T) {
	ms := New().Repository("r").Manifests()
	require.NoError(t, ms.Put("latest", testManifest("r", "latest", "m")))
	require.NoError(t, ms.Put("old", testManifest("r", "old", "m")))

	require.NoError(t, ms.Delete("latest"))
	ok, err := ms.Exists("latest")
	require.NoError(t, err)
	assert.False(t, ok)
	_, err = ms.Get("latest")
	assert.ErrorIs(t, err, ErrUnknownManifest)
	tags, err := ms.Tags()
	require.NoError(t, err)
	assert.Equal(t, []string{"old"}, tags)

	assert.ErrorIs(t, ms.Delete("latest"), ErrUnknownManifest, "second delete")
}
