package notifications

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"
)

// bodyBuffer is an encoded batch, with its Content-Type. Its memory is reused for a later
// batch once no request reads it any more and it is not the current batch's.
type bodyBuffer struct {
	bytes       []byte
	contentType string
	refs        int // open request bodies, plus one while it is the current batch's
}

// bodyBuffers encodes each batch once, keeps its bytes for the batch's
// retries, and recycles buffers whose requests are done. The transport
// closes request bodies from its own goroutines, hence the mutex.
type bodyBuffers struct {
	format Format // what each batch is encoded in

	mu   sync.Mutex
	free []*bodyBuffer

	// The current batch, as the retrying sink passes the same slice again
	// for a retry. Keeping first keeps that memory alive, so a later batch
	// cannot be mistaken for it.
	current encodedBatch

	// prepared are batches encoded ahead of their Deliver, oldest first.
	prepared []encodedBatch
}

// encodedBatch is a batch, known by its slice, with its envelope.
type encodedBatch struct {
	first *Event
	n     int
	body  *bodyBuffer
}

func (e encodedBatch) is(events []Event) bool {
	return e.body != nil && len(events) > 0 && e.first == &events[0] && e.n == len(events)
}

// maxPrepared bounds the batches encoded ahead.
const maxPrepared = 2

// maxFreeBodies bounds the buffers kept for reuse.
const maxFreeBodies = 3

// forBatch returns the envelope of events: the bytes of the previous call
// when events is the same slice, those prepare made for it, or a fresh
// encoding in a recycled buffer. It is called from one goroutine at a time.
func (bb *bodyBuffers) forBatch(events []Event) (*bodyBuffer, error) {
	bb.mu.Lock()
	if bb.current.is(events) {
		defer bb.mu.Unlock()
		return bb.current.body, nil
	}
	bb.releaseLocked(bb.current.body)
	bb.current = encodedBatch{}
	for i, p := range bb.prepared {
		if p.is(events) {
			for _, older := range bb.prepared[:i] {
				bb.releaseLocked(older.body)
			}
			bb.prepared = append(bb.prepared[:0], bb.prepared[i+1:]...)
			bb.current = p
			bb.mu.Unlock()
			return p.body, nil
		}
	}
	bb.mu.Unlock()
	b, err := bb.encode(events)
	if err != nil {
		return nil, err
	}
	bb.mu.Lock()
	bb.current = encodedBatch{n: len(events), body: b}
	if len(events) > 0 {
		bb.current.first = &events[0]
	}
	bb.mu.Unlock()
	return b, nil
}

// prepare encodes events ahead of their Deliver. It may run while another
// goroutine delivers the previous batch.
func (bb *bodyBuffers) prepare(events []Event) {
	if len(events) == 0 {
		return
	}
	b, err := bb.encode(events)
	if err != nil {
		return // Deliver will meet the error itself
	}
	bb.mu.Lock()
	defer bb.mu.Unlock()
	if len(bb.prepared) == maxPrepared {
		bb.releaseLocked(bb.prepared[0].body)
		bb.prepared = append(bb.prepared[:0], bb.prepared[1:]...)
	}
	bb.prepared = append(bb.prepared, encodedBatch{first: &events[0], n: len(events), body: b})
}

// encode writes the envelope of events into a recycled or new buffer held
// once (by the caller).
func (bb *bodyBuffers) encode(events []Event) (*bodyBuffer, error) {
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
	if b.bytes, b.contentType, err = bb.format.appendBatch(b.bytes[:0], events); err != nil {
		bb.release(b)
		return nil, err
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
	return &bodyReader{reader: bytes.NewReader(b.bytes), owner: bb, buf: b}
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
	bb.releaseLocked(bb.current.body)
	bb.current = encodedBatch{}
	for _, p := range bb.prepared {
		bb.releaseLocked(p.body)
	}
	bb.prepared = nil
	bb.free = nil
}

// bodyReader is a request body over a bodyBuffer; Close gives it back. The
// transport may close a body while another of its goroutines reads it, so
// Close waits for a Read in progress, and Read fails once closed: the
// buffer is never read after it was given back.
type bodyReader struct {
	owner *bodyBuffers
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
