package inmemory

import (
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConcurrentUse pushes layers and manifests from several goroutines into
// shared and separate repositories, reading them back as it goes. Run it
// with -race.
func TestConcurrentUse(t *testing.T) {
	const workers, rounds = 8, 20
	r := New()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			names := []string{"shared", fmt.Sprintf("own-%d", w)}
			for i := range rounds {
				repo := r.Repository(names[i%2])
				content := []byte(fmt.Sprintf("worker %d round %d", w, i))
				dgst := digest.FromBytes(content)

				up, err := repo.Layers().Upload()
				if !assert.NoError(t, err) {
					return
				}
				// Two chunks, with a Close and Resume between them.
				_, err = up.Write(content[:5])
				assert.NoError(t, err)
				assert.NoError(t, up.Close())
				up, err = repo.Layers().Resume(up.UUID())
				if !assert.NoError(t, err) {
					return
				}
				_, err = up.Write(content[5:])
				assert.NoError(t, err)
				l, err := up.Finish(dgst)
				if !assert.NoError(t, err) {
					return
				}
				got, err := io.ReadAll(l)
				assert.NoError(t, err)
				assert.Equal(t, content, got)
				assert.NoError(t, l.Close())

				tag := fmt.Sprintf("w%d-r%d", w, i)
				m := testManifest(repo.Name(), tag, string(content))
				assert.NoError(t, repo.Manifests().Put(tag, m))
				gotM, err := repo.Manifests().Get(tag)
				assert.NoError(t, err)
				assert.Equal(t, m, gotM)
				_, err = repo.Manifests().Tags()
				assert.NoError(t, err)
				_ = r.Repositories()
			}
		}()
	}
	wg.Wait()

	tags, err := r.Repository("shared").Manifests().Tags()
	require.NoError(t, err)
	assert.Len(t, tags, workers*rounds/2)
	assert.Len(t, r.Repositories(), workers+1)
}

// TestConcurrentHandles writes to one upload through several handles at
// once; each writes its own byte at its own offset.
func TestConcurrentHandles(t *testing.T) {
	const n = 16
	repo := New().Repository("r")
	up, err := repo.Layers().Upload()
	require.NoError(t, err)

	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := repo.Layers().Resume(up.UUID())
			if !assert.NoError(t, err) {
				return
			}
			_, err = h.Seek(int64(i), io.SeekStart)
			assert.NoError(t, err)
			_, err = h.Write([]byte{byte('a' + i)})
			assert.NoError(t, err)
			assert.NoError(t, h.Close())
		}()
	}
	wg.Wait()

	want := []byte("abcdefghijklmnop")
	l, err := up.Finish(digest.FromBytes(want))
	require.NoError(t, err)
	defer l.Close()
	assert.Equal(t, want, mustReadAll(t, l))
}
