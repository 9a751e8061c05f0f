package notifications

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"
)

// bodyBuffer is an encoded request body. Its memory is reused for a later
// batch once no request reads it and its batch was released.
type bodyBuffer struct {
	bytes []byte
	refs  int // open request bodies, plus one until the batch is released
}

// bodyPool recycles the buffers of request bodies. The transport closes
// request bodies from its own goroutines, and the queue encodes the next
// batch while the current one is out, hence the mutex.
type bodyPool struct {
	mu   sync.Mutex
	free []*bodyBuffer
}

// maxFreeBodies bounds the buffers kept for reuse.
const maxFreeBodies = 3

// encode writes the body of events with appendBody into a recycled or new
// buffer, held once (by its batch).
func (bb *bodyPool) encode(events []Event, appendBody func([]byte, []Event) ([]byte, error)) (*bodyBuffer, error) {
	bb.mu.Lock()
	var b *bodyBuffer
	if k := len(bb.free); k > 0 {
		b, bb.free = bb.free[k-1], bb.free[:k-1]
	} else {
		b = &bodyBuffer{}
	}
	b.refs = 1
	bb.mu.Unlock()

	var err error
	if b.bytes, err = appendBody(b.bytes[:0], events); err != nil {
		bb.release(b)
		return nil, err
	}
	return b, nil
}

// attach makes b the body of req, with a GetBody for redirects.
func (bb *bodyPool) attach(req *http.Request, b *bodyBuffer) {
	req.ContentLength = int64(len(b.bytes))
	req.Body = bb.open(b)
	req.GetBody = func() (io.ReadCloser, error) { return bb.open(b), nil }
}

// open returns a reader of b that holds it until closed.
func (bb *bodyPool) open(b *bodyBuffer) io.ReadCloser {
	bb.mu.Lock()
	b.refs++
	bb.mu.Unlock()
	return &bodyReader{reader: bytes.NewReader(b.bytes), owner: bb, buf: b}
}

func (bb *bodyPool) release(b *bodyBuffer) {
	bb.mu.Lock()
	bb.releaseLocked(b)
	bb.mu.Unlock()
}

func (bb *bodyPool) releaseLocked(b *bodyBuffer) {
	if b == nil {
		return
	}
	if b.refs--; b.refs == 0 && len(bb.free) < maxFreeBodies {
		bb.free = append(bb.free, b)
	}
}

// reset drops the free buffers.
func (bb *bodyPool) reset() {
	bb.mu.Lock()
	defer bb.mu.Unlock()
	bb.free = nil
}

// bodyReader is a request body over a bodyBuffer; Close gives it back. The
// transport may close a body while another of its goroutines reads it, so
// Close waits for a Read in progress, and Read fails once closed: the
// buffer is never read after it was given back.
type bodyReader struct {
	owner *bodyPool
	buf   *bodyBuffer

	mu     sync.Mutex
	reader *bytes.Reader
	closed bool
}

func (r *bodyReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, errBodyClosed
	}
	return r.reader.Read(p)
}

func (r *bodyReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		r.owner.release(r.buf)
	}
	return nil
}

// errBodyClosed is what a request body read after Close returns.
var errBodyClosed = errors.New("request body closed")
