package inmemory

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRepositorySameNameSameData(t *testing.T) {
	r := New()
	a := r.Repository("library/ubuntu")
	require.Equal(t, "library/ubuntu", a.Name())
	require.NoError(t, a.Manifests().Put("latest", testManifest("library/ubuntu", "latest", "m")))
	dgst := pushLayer(t, a, []byte("layer"))

	b := r.Repository("library/ubuntu")
	ok, err := b.Manifests().Exists("latest")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = b.Layers().Exists(dgst)
	require.NoError(t, err)
	assert.True(t, ok)
}

func TestRepositoriesAreIsolated(t *testing.T) {
	r := New()
	a, b := r.Repository("a"), r.Repository("b")
	require.NoError(t, a.Manifests().Put("latest", testManifest("a", "latest", "m")))
	dgst := pushLayer(t, a, []byte("layer"))

	ok, err := b.Manifests().Exists("latest")
	require.NoError(t, err)
	assert.False(t, ok)
	ok, err = b.Layers().Exists(dgst)
	require.NoError(t, err)
	assert.False(t, ok)

	up, err := a.Layers().Upload()
	require.NoError(t, err)
	_, err = b.Layers().Resume(up.UUID())
	assert.ErrorIs(t, err, ErrUnknownUpload)
}

func TestRepositories(t *testing.T) {
	r := New()
	assert.Empty(t, r.Repositories())
	for _, name := range []string{"zeta", "library/ubuntu", "alpha", "zeta"} {
		r.Repository(name)
	}
	assert.Equal(t, []string{"alpha", "library/ubuntu", "zeta"}, r.Repositories())
}
