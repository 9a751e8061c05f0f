package inmemory

import (
	"bytes"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/opencontainers/go-digest"
	"github.com/regnotify/notifications/storage"
)

// storedLayer is the content of a finished upload. Its bytes are never
// modified once stored, so any number of readers may share them.
type storedLayer struct {
	content   []byte
	createdAt time.Time
}

// layerService implements storage.LayerService over a repository.
type layerService struct {
	repo *repository
}

var _ storage.LayerService = (*layerService)(nil)

// Exists reports whether the layer with digest dgst is stored. A malformed
// digest is simply not stored.
func (s *layerService) Exists(dgst digest.Digest) (bool, error) {
	s.repo.mu.Lock()
	defer s.repo.mu.Unlock()
	_, ok := s.repo.layers[dgst]
	return ok, nil
}

// Fetch returns a reader positioned at the start of the layer with digest
// dgst, or ErrUnknownLayer.
func (s *layerService) Fetch(dgst digest.Digest) (storage.Layer, error) {
	s.repo.mu.Lock()
	defer s.repo.mu.Unlock()
	sl, ok := s.repo.layers[dgst]
	if !ok {
		return nil, fmt.Errorf("%w %s@%s", ErrUnknownLayer, s.repo.name, dgst)
	}
	return newLayer(s.repo.name, dgst, sl), nil
}

// Upload starts a new, empty upload with a random UUID.
func (s *layerService) Upload() (storage.LayerUpload, error) {
	st := &uploadState{uuid: uuid.NewString(), startedAt: s.repo.now()}
	s.repo.mu.Lock()
	defer s.repo.mu.Unlock()
	s.repo.uploads[st.uuid] = st
	return &layerUpload{repo: s.repo, state: st}, nil
}

// Resume returns a new handle on the upload with the given UUID, positioned
// at the end of the content written so far. The upload must have been
// started in this repository and not finished or cancelled; otherwise Resume
// returns ErrUnknownUpload. Resuming an upload whose other handle is still
// open is allowed: both handles write to the same content.
func (s *layerService) Resume(id string) (storage.LayerUpload, error) {
	s.repo.mu.Lock()
	defer s.repo.mu.Unlock()
	st, ok := s.repo.uploads[id]
	if !ok {
		return nil, fmt.Errorf("%w %s: %s", ErrUnknownUpload, s.repo.name, id)
	}
	return &layerUpload{repo: s.repo, state: st, pos: int64(len(st.buf))}, nil
}

// layer implements storage.Layer with a bytes.Reader over the stored
// content. Its mutex makes it safe for concurrent use, though concurrent
// readers share one position.
type layer struct {
	name      string
	dgst      digest.Digest
	createdAt time.Time

	mu     sync.Mutex
	r      *bytes.Reader
	closed bool
}

var _ storage.Layer = (*layer)(nil)

// newLayer returns a reader over sl, named after the repository.
func newLayer(name string, dgst digest.Digest, sl *storedLayer) *layer {
	return &layer{name: name, dgst: dgst, createdAt: sl.createdAt, r: bytes.NewReader(sl.content)}
}

// Name returns the name of the repository the layer belongs to.
func (l *layer) Name() string { return l.name }

// Digest returns the digest of the layer's content.
func (l *layer) Digest() digest.Digest { return l.dgst }

// CreatedAt returns when the layer was first stored.
func (l *layer) CreatedAt() time.Time { return l.createdAt }

// Read reads from the layer's content. After Close it returns an error
// wrapping fs.ErrClosed.
func (l *layer) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, l.closedError()
	}
	return l.r.Read(p)
}

// Seek sets the position of the next Read, as bytes.Reader does. After
// Close it returns an error wrapping fs.ErrClosed.
func (l *layer) Seek(offset int64, whence int) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, l.closedError()
	}
	return l.r.Seek(offset, whence)
}

// Close releases the layer. Closing it again returns an error wrapping
// fs.ErrClosed. The stored layer is unaffected.
func (l *layer) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return l.closedError()
	}
	l.closed = true
	return nil
}

// closedError reports use of the layer after Close.
func (l *layer) closedError() error {
	return fmt.Errorf("inmemory: layer %s@%s: %w", l.name, l.dgst, fs.ErrClosed)
}
