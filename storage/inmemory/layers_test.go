package inmemory

import (
	"io"
	"io/fs"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLayersUnknown(t *testing.T) {
	ls := New().Repository("library/ubuntu").Layers()
	dgst := digest.FromString("absent")
	for _, d := range []digest.Digest{dgst, "", "not a digest"} {
		ok, err := ls.Exists(d)
		require.NoError(t, err)
		assert.False(t, ok, "%q", d)
	}

	_, err := ls.Fetch(dgst)
	require.ErrorIs(t, err, ErrUnknownLayer)
	assert.EqualError(t, err, "inmemory: unknown layer library/ubuntu@"+dgst.String())
}

func TestLayerFetch(t *testing.T) {
	repo := newTestRegistry().Repository("library/ubuntu")
	content := []byte("0123456789")
	dgst := pushLayer(t, repo, content) // StartedAt t0, CreatedAt t0+1s

	ok, err := repo.Layers().Exists(dgst)
	require.NoError(t, err)
	assert.True(t, ok)

	l, err := repo.Layers().Fetch(dgst)
	require.NoError(t, err)
	assert.Equal(t, "library/ubuntu", l.Name())
	assert.Equal(t, dgst, l.Digest())
	assert.Equal(t, t0.Add(time.Second), l.CreatedAt())
	b, err := io.ReadAll(l)
	require.NoError(t, err)
	assert.Equal(t, content, b)

	// Each Fetch reads from the start, independently of other readers.
	other, err := repo.Layers().Fetch(dgst)
	require.NoError(t, err)
	assert.Equal(t, content, mustReadAll(t, other))
	require.NoError(t, other.Close())
	require.NoError(t, l.Close())
}

func TestLayerSeek(t *testing.T) {
	repo := New().Repository("r")
	dgst := pushLayer(t, repo, []byte("0123456789"))
	tests := []struct {
		name    string
		offset  int64
		whence  int
		wantPos int64
		rest    string
	}{
		{"start", 3, io.SeekStart, 3, "3456789"},
		{"current", 2, io.SeekCurrent, 2, "23456789"},
		{"end", -4, io.SeekEnd, 6, "6789"},
		{"at end", 0, io.SeekEnd, 10, ""},
		{"past end", 20, io.SeekStart, 20, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := repo.Layers().Fetch(dgst)
			require.NoError(t, err)
			defer l.Close()
			pos, err := l.Seek(tt.offset, tt.whence)
			require.NoError(t, err)
			assert.Equal(t, tt.wantPos, pos)
			assert.Equal(t, tt.rest, string(mustReadAll(t, l)))
		})
	}

	l, err := repo.Layers().Fetch(dgst)
	require.NoError(t, err)
	defer l.Close()
	_, err = l.Seek(-1, io.SeekStart)
	assert.Error(t, err, "negative position")
}

func TestLayerClose(t *testing.T) {
	repo := New().Repository("r")
	dgst := pushLayer(t, repo, []byte("content"))
	l, err := repo.Layers().Fetch(dgst)
	require.NoError(t, err)
	require.NoError(t, l.Close())

	_, err = l.Read(make([]byte, 1))
	assert.ErrorIs(t, err, fs.ErrClosed)
	_, err = l.Seek(0, io.SeekStart)
	assert.ErrorIs(t, err, fs.ErrClosed)
	assert.ErrorIs(t, l.Close(), fs.ErrClosed)

	assert.Equal(t, []byte("content"), readLayer(t, repo, dgst), "the stored layer stays")
}

func mustReadAll(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return b
}
