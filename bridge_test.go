package notifications

import (
	"io"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/regnotify/notifications/storage"
	"github.com/regnotify/notifications/storage/inmemory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// uploadLayer stores content as a layer of repo.
func uploadLayer(t *testing.T, repo storage.Repository, content []byte) storage.Layer {
	t.Helper()
	up, err := repo.Layers().Upload()
	require.NoError(t, err)
	_, err = up.Write(content)
	require.NoError(t, err)
	layer, err := up.Finish(digest.FromBytes(content))
	require.NoError(t, err)
	return layer
}

// TestBridgeReleasedFields: WithReleasedFields adds repository, mediaType,
// size and length to the 2015 events, and changes nothing else.
func TestBridgeReleasedFields(t *testing.T) {
	repo := inmemory.New().Repository("acme/app")
	sm := loadManifest(t, "signed-manifest.json")
	payload, err := sm.Payload()
	require.NoError(t, err)
	content := []byte("layer bytes")
	layer := uploadLayer(t, repo, content)
	_, err = layer.Seek(3, io.SeekStart)
	require.NoError(t, err)

	seed, released := &fakeSink{}, &fakeSink{}
	for _, b := range []Listener{
		NewBridge(testURLs{}, SourceRecord{}, ActorRecord{}, RequestRecord{}, seed),
		NewBridgeWithOptions(testURLs{}, SourceRecord{}, ActorRecord{}, RequestRecord{}, released, WithReleasedFields()),
	} {
		require.NoError(t, b.ManifestPushed(repo, sm))
		require.NoError(t, b.LayerPulled(repo, layer))
	}
	offset, err := layer.Seek(0, io.SeekCurrent)
	require.NoError(t, err)
	assert.Equal(t, int64(3), offset, "the layer's read offset is left where it was")

	want := []struct {
		mediaType string
		size      int64
	}{{SignedManifestMediaType, int64(len(payload))}, {LayerMediaType, int64(len(content))}}
	for i, e := range released.events() {
		s := seed.events()[i]
		assert.Same(t, time.Local, s.Timestamp.Location(), "the timestamp in the local zone, as the original's time.Now()")
		assert.Empty(t, s.Target.Repository+s.Target.MediaType, "the default is the 2015 event")
		assert.Zero(t, s.Target.Size+s.Target.Length)
		assert.Equal(t, "acme/app", e.Target.Repository)
		assert.Equal(t, e.Target.Name, e.Target.Repository)
		assert.Equal(t, want[i].mediaType, e.Target.MediaType)
		assert.Equal(t, want[i].size, e.Target.Size)
		assert.Equal(t, want[i].size, e.Target.Length)
		e.Target.Repository, e.Target.MediaType, e.Target.Size, e.Target.Length = "", "", 0, 0
		e.ID, e.Timestamp = s.ID, s.Timestamp
		assert.Equal(t, s, e, "nothing else differs")
	}
}
