package inmemory

import (
	"io"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/regnotify/notifications/manifest"
	"github.com/regnotify/notifications/storage"
	"github.com/stretchr/testify/require"
)

// t0 is the first time the test clock reports.
var t0 = time.Date(2015, time.April, 1, 12, 0, 0, 0, time.UTC)

// testClock returns t0 on its first call and one second later on each
// following call.
type testClock struct {
	mu   sync.Mutex
	next time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next.IsZero() {
		c.next = t0
	}
	t := c.next
	c.next = c.next.Add(time.Second)
	return t
}

// newTestRegistry returns a Registry on a testClock.
func newTestRegistry() *Registry {
	return newRegistry((&testClock{}).now)
}

// pushLayer uploads content to repo in one write and returns its digest.
func pushLayer(t *testing.T, repo storage.Repository, content []byte) digest.Digest {
	t.Helper()
	up, err := repo.Layers().Upload()
	require.NoError(t, err)
	_, err = up.Write(content)
	require.NoError(t, err)
	dgst := digest.FromBytes(content)
	l, err := up.Finish(dgst)
	require.NoError(t, err)
	require.NoError(t, l.Close())
	return dgst
}

// readLayer returns the content of the layer with dgst in repo.
func readLayer(t *testing.T, repo storage.Repository, dgst digest.Digest) []byte {
	t.Helper()
	l, err := repo.Layers().Fetch(dgst)
	require.NoError(t, err)
	defer l.Close()
	b, err := io.ReadAll(l)
	require.NoError(t, err)
	return b
}

// testManifest returns a signed manifest for name:tag with raw as its bytes.
func testManifest(name, tag, raw string) *manifest.SignedManifest {
	return &manifest.SignedManifest{
		Manifest: manifest.Manifest{
			Versioned:    manifest.Versioned{SchemaVersion: 1},
			Name:         name,
			Tag:          tag,
			Architecture: "amd64",
			FSLayers:     []manifest.FSLayer{{BlobSum: digest.FromString(raw)}},
			History:      []manifest.History{{V1Compatibility: `{"id":"` + tag + `"}`}},
		},
		Raw: []byte(raw),
	}
}
