package notifications

import (
	"bytes"
	"io"
	"net/http"
	"sync"
)

// bodyBuffer is an encoded envelope. Its memory is reused for a later
// batch once no request reads it any more and it is not the current batch's.
type bodyBuffer struct {
	bytes []byte
	refs  int // open request bodies, plus one while it is the current batch's
}

// bodyBuffers encodes each batch once, keeps its bytes for the batch's
// retries, and recycles buffers whose requests are done. The transport
// closes request bodies from its own goroutines, hence the mutex.
type bodyBuffers struct {
	mu   sync.Mutex
	free []*bodyBuffer

	// The current batch, as the retrying sink passes the same slice again
	// for a retry. Keeping first keeps that memory alive, so a later batch
	// cannot be mistaken for it.
	first   *Event
	n       int
	current *bodyBuffer
}

// maxFreeBodies bounds the buffers kept for reuse.
const maxFreeBodies = 2

// forBatch returns the envelope of events: the bytes of the previous call
// when events is the same slice, or a fresh encoding in a recycled buffer.
// It is called from one goroutine at a time.
func (bb *bodyBuffers) forBatch(events []Event) (*bodyBuffer, error) {
	if len(events) > 0 && bb.current != nil && bb.first == &events[0] && bb.n == len(events) {
		return bb.current, nil
	}
	bb.mu.Lock()
	bb.releaseLocked(bb.current)
	bb.current, bb.first, bb.n = nil, nil, 0
	var b *bodyBuffer
	if k := len(bb.free); k > 0 {
		b, bb.free = bb.free[k-1], bb.free[:k-1]
	} else {
		b = &bodyBuffer{}
	}
	b.refs = 1
	bb.mu.Unlock()

	var err error
	if b.bytes, err = appendEnvelope(b.bytes[:0], events); err != nil {
		bb.release(b)
		return nil, err
	}
	bb.current = b
	if len(events) > 0 {
		bb.first, bb.n = &events[0], len(events)
	}
	return b, nil
}

// attach makes b the body of req, with a GetBody for redirects.
func (bb *bodyBuffers) attach(req *http.Request, b *bodyBuffer) {
	req.ContentLength = int64(len(b.bytes))
	req.Body = bb.open(b)
	req.GetBody = func() (io.ReadCloser, error) { return bb.open(b), nil }
}

// open returns a reader of b that holds it until closed.
func (bb *bodyBuffers) open(b *bodyBuffer) io.ReadCloser {
	bb.mu.Lock()
	b.refs++
	bb.mu.Unlock()
	return &bodyReader{Reader: bytes.NewReader(b.bytes), owner: bb, buf: b}
}

func (bb *bodyBuffers) release(b *bodyBuffer) {
	bb.mu.Lock()
	bb.releaseLocked(b)
	bb.mu.Unlock()
}

func (bb *bodyBuffers) releaseLocked(b *bodyBuffer) {
	if b == nil {
		return
	}
	if b.refs--; b.refs == 0 && len(bb.free) < maxFreeBodies {
		bb.free = append(bb.free, b)
	}
}

// reset drops the current batch and the free buffers.
func (bb *bodyBuffers) reset() {
	bb.mu.Lock()
	defer bb.mu.Unlock()
	bb.releaseLocked(bb.current)
	bb.current, bb.first, bb.n = nil, nil, 0
	bb.free = nil
}

// bodyReader is a request body over a bodyBuffer; Close gives it back.
type bodyReader struct {
	*bytes.Reader
	owner *bodyBuffers
	buf   *bodyBuffer
	once  sync.Once
}

func (r *bodyReader) Close() error {
	r.once.Do(func() { r.owner.release(r.buf) })
	return nil
}
