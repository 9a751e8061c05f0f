package inmemory

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/regnotify/notifications/storage"
)

// uploadState is the content of an upload in progress, shared by every
// handle on it and guarded by the repository's mutex. It is in the
// repository's uploads map from Upload until Finish or Cancel.
type uploadState struct {
	uuid      string
	startedAt time.Time
	buf       []byte
}

// layerUpload is one handle on an upload: its own position and closed flag
// over the shared state. Both are guarded by the repository's mutex.
type layerUpload struct {
	repo  *repository
	state *uploadState

	pos    int64
	closed bool
}

var _ storage.LayerUpload = (*layerUpload)(nil)

// Name returns the name of the repository the upload belongs to.
func (u *layerUpload) Name() string { return u.repo.name }

// UUID returns the upload's identifier, to pass to Resume.
func (u *layerUpload) UUID() string { return u.state.uuid }

// StartedAt returns when Upload started the upload.
func (u *layerUpload) StartedAt() time.Time { return u.state.startedAt }

// Write writes p at the handle's position and advances it. Writing past the
// end extends the content, filling any gap left by Seek with zero bytes; an
// empty write changes nothing.
func (u *layerUpload) Write(p []byte) (int, error) {
	u.repo.mu.Lock()
	defer u.repo.mu.Unlock()
	if err := u.checkLocked(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	end := u.pos + int64(len(p))
	if end < u.pos || end > math.MaxInt {
		return 0, fmt.Errorf("inmemory: write upload %s: content too large", u.state.uuid)
	}
	if grow := end - int64(len(u.state.buf)); grow > 0 {
		u.state.buf = append(u.state.buf, make([]byte, grow)...)
	}
	copy(u.state.buf[u.pos:end], p)
	u.pos = end
	return len(p), nil
}

// Seek sets the position of the next Write relative to the start
// (io.SeekStart), the current position (io.SeekCurrent) or the end of the
// content written so far (io.SeekEnd), and returns the new position. A
// position past the end is allowed; a negative one is an error.
func (u *layerUpload) Seek(offset int64, whence int) (int64, error) {
	u.repo.mu.Lock()
	defer u.repo.mu.Unlock()
	if err := u.checkLocked(); err != nil {
		return 0, err
	}
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = u.pos
	case io.SeekEnd:
		base = int64(len(u.state.buf))
	default:
		return 0, fmt.Errorf("inmemory: seek upload %s: invalid whence %d", u.state.uuid, whence)
	}
	pos := base + offset
	if (offset > 0 && pos < base) || (offset < 0 && pos > base) {
		return 0, fmt.Errorf("inmemory: seek upload %s: position out of range", u.state.uuid)
	}
	if pos < 0 {
		return 0, fmt.Errorf("inmemory: seek upload %s: negative position %d", u.state.uuid, pos)
	}
	u.pos = pos
	return pos, nil
}

// Close releases this handle but keeps the upload, which Resume can
// continue. Further calls on the handle, Close included, return
// ErrUploadClosed.
func (u *layerUpload) Close() error {
	u.repo.mu.Lock()
	defer u.repo.mu.Unlock()
	if err := u.checkLocked(); err != nil {
		return err
	}
	u.closed = true
	return nil
}

// Finish checks the content written against dgst, computed with dgst's
// algorithm. If dgst is malformed or unsupported, Finish returns go-digest's
// validation error; if the content does not match, it returns
// ErrDigestMismatch. In both cases the upload stays open and unchanged. On a
// match the layer is stored (a layer already stored with that digest is kept
// as it was), the upload ends and its handle closes, and Finish returns the
// stored layer, ready to be read.
func (u *layerUpload) Finish(dgst digest.Digest) (storage.Layer, error) {
	u.repo.mu.Lock()
	defer u.repo.mu.Unlock()
	if err := u.checkLocked(); err != nil {
		return nil, err
	}
	if err := dgst.Validate(); err != nil {
		return nil, fmt.Errorf("inmemory: finish upload %s with %q: %w", u.state.uuid, dgst, err)
	}
	if actual := dgst.Algorithm().FromBytes(u.state.buf); actual != dgst {
		return nil, fmt.Errorf("%w for upload %s: expected %s, actual %s",
			ErrDigestMismatch, u.state.uuid, dgst, actual)
	}
	sl, ok := u.repo.layers[dgst]
	if !ok {
		// No handle can write to buf once the upload leaves the map.
		sl = &storedLayer{content: u.state.buf, createdAt: u.repo.now()}
		u.repo.layers[dgst] = sl
	}
	u.endLocked()
	return newLayer(u.repo.name, dgst, sl), nil
}

// Cancel ends the upload and discards its content; its UUID can no longer be
// resumed.
func (u *layerUpload) Cancel() error {
	u.repo.mu.Lock()
	defer u.repo.mu.Unlock()
	if err := u.checkLocked(); err != nil {
		return err
	}
	u.endLocked()
	return nil
}

// checkLocked returns ErrUploadClosed if the handle was closed or the upload
// ended through any handle.
func (u *layerUpload) checkLocked() error {
	if u.closed {
		return fmt.Errorf("%w: %s", ErrUploadClosed, u.state.uuid)
	}
	if u.repo.uploads[u.state.uuid] != u.state {
		return fmt.Errorf("%w: %s finished or cancelled", ErrUploadClosed, u.state.uuid)
	}
	return nil
}

// endLocked removes the upload from the repository and closes the handle.
func (u *layerUpload) endLocked() {
	delete(u.repo.uploads, u.state.uuid)
	u.closed = true
}
