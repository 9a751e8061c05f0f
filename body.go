package notifications

import (
	"cmp"
	"errors"
	"io"
	"net/http"
	"sync"
)

// bodyBuffer is an encoded request body: bytes, or, when json is not nil,
// the envelope of the events whose JSON json holds in pieces, each one
// object or a run of them joined by commas (see appendRun), read from
// them without being built (see splicedReader). Its memory is reused for a
// later batch once no request reads it and its batch was released.
type bodyBuffer struct {
	bytes []byte
	json  [][]byte
	refs  int // open request bodies, plus one until the batch is released

	// jsonMem is json's memory, the buffer's own: the caller's slice of
	// pieces may be reused once the batch is released, while a request
	// body still open (net/http may read one after RoundTrip returned)
	// reads json.
	jsonMem [][]byte
}

// size returns the length of the body.
func (b *bodyBuffer) size() int {
	if b.json == nil {
		return len(b.bytes)
	}
	return splicedEnvelopeSize(b.json)
}

// The pieces of an envelope around its events' JSON objects, which commas
// separate; as slices, shared by every spliced body, which only reads
// them.
const (
	envelopePrefix = `{"events":[`
	envelopeSuffix = `]}`
)

var (
	envelopePrefixPiece = []byte(envelopePrefix)
	envelopeSuffixPiece = []byte(envelopeSuffix)
	commaPiece          = []byte{','}
)

// splicedEnvelopeSize is the length of the envelope of the events whose
// JSON eventJSON holds, in pieces as a bodyBuffer's, at least one.
func splicedEnvelopeSize(eventJSON [][]byte) int {
	n := len(envelopePrefix) + len(envelopeSuffix) + len(eventJSON) - 1
	for _, js := range eventJSON {
		n += len(js)
	}
	return n
}

// bodyPool recycles the buffers of request bodies. The transport closes
// request bodies from its own goroutines, and the queue encodes the next
// batch while the current one is out, hence the mutex.
type bodyPool struct {
	mu       sync.Mutex
	free     []*bodyBuffer
	perEvent int // bytes an event took in the last body encoded; 0: none yet
}

// maxFreeBodies bounds the buffers kept for reuse.
const maxFreeBodies = 3

// guessedEventBytes is what an event is taken to need in a body before the
// pool has encoded one: a registry's events, encoded, take 0.5 to 1 KiB,
// and a guess short of that costs a few steps of growth (three for events
// of 1.1 KiB), where one past it would hold memory that is never used.
const guessedEventBytes = 512

// encode writes the body of events with appendBody into a recycled or new
// buffer, held once (by its batch). A buffer too small for the body the
// events are expected to make, at the last body's bytes an event and an
// eighth more (within maxEnvelopeBytes), is replaced by one of that size
// first: grown by append instead, in steps of a quarter at these sizes, a
// new buffer of a full batch's body would allocate about five times the
// body and copy it four times over (a fresh endpoint, a buffer the pool
// had no room to keep).
func (bb *bodyPool) encode(events []Event, appendBody func([]byte, []Event) ([]byte, error)) (*bodyBuffer, error) {
	b, perEvent := bb.take()
	perEvent = cmp.Or(perEvent, guessedEventBytes)
	if want := int(min(int64(len(events))*int64(perEvent)*9/8, maxEnvelopeBytes)); cap(b.bytes) < want {
		b.bytes = make([]byte, 0, want)
	}
	var err error
	if b.bytes, err = appendBody(b.bytes[:0], events); err != nil {
		bb.release(b)
		return nil, err
	}
	if len(events) > 0 {
		bb.mu.Lock()
		bb.perEvent = max(len(b.bytes)/len(events), 1)
		bb.mu.Unlock()
	}
	return b, nil
}

// splice returns the body of the envelope of events whose JSON eventJSON
// holds, in pieces as a bodyBuffer's, at least one, without building it:
// its readers read the pieces, whose slice it copies (not the bytes), so
// that the caller may reuse that slice once the batch is released.
func (bb *bodyPool) splice(eventJSON [][]byte) *bodyBuffer {
	b, _ := bb.take()
	b.jsonMem = append(b.jsonMem[:0], eventJSON...)
	b.json = b.jsonMem
	return b
}

// take returns a recycled or new buffer, held once (by its batch), and the
// bytes an event took in the last body encoded (0: none yet).
func (bb *bodyPool) take() (*bodyBuffer, int) {
	bb.mu.Lock()
	defer bb.mu.Unlock()
	var b *bodyBuffer
	if k := len(bb.free); k > 0 {
		b, bb.free = bb.free[k-1], bb.free[:k-1]
	} else {
		b = &bodyBuffer{}
	}
	b.json, b.refs = nil, 1
	return b, bb.perEvent
}

// attach makes b the body of req, with a GetBody for redirects.
func (bb *bodyPool) attach(req *http.Request, b *bodyBuffer) {
	req.ContentLength = int64(b.size())
	req.Body = bb.open(b)
	req.GetBody = func() (io.ReadCloser, error) { return bb.open(b), nil }
}

// open returns a reader of b that holds it until closed.
func (bb *bodyPool) open(b *bodyBuffer) io.ReadCloser {
	bb.hold(b)
	r := &bodyReader{owner: bb, buf: b}
	if b.json != nil {
		r.reader = &splicedReader{json: b.json}
	} else {
		r.reader = &bytesBody{rest: b.bytes}
	}
	return r
}

// hold keeps b from reuse until a matching release.
func (bb *bodyPool) hold(b *bodyBuffer) {
	bb.mu.Lock()
	b.refs++
	bb.mu.Unlock()
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
	if b.refs--; b.refs == 0 && len(bb.free) < maxFreeBodies && !oversized(b.bytes) {
		clear(b.jsonMem) // holds no event's JSON while free
		b.json, b.jsonMem = nil, b.jsonMem[:0]
		bb.free = append(bb.free, b)
	}
}

// oversized reports whether a buffer is larger than an envelope of several
// blocks may be (maxEnvelopeBytes), grown so by a lone block of large
// events, and over twice the size of the body it held last: it is left to
// the collector rather than kept, so that the pool holds at most about
// maxFreeBodies envelopes however large a block once was. A buffer within
// the limit is kept whatever the body it held last: batches of every size
// take turns, and a full one would make it again.
func oversized(bytes []byte) bool {
	return cap(bytes) > maxEnvelopeBytes && cap(bytes) > 2*len(bytes)
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
	reader bodyPieces
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

// splicedReader reads the envelope of events whose JSON json holds, in
// pieces as a bodyBuffer's, at least one: the prefix, each piece with
// commas between, the suffix. It copies each byte once, into the reader's
// buffer, where building the body first would copy it twice.
type splicedReader struct {
	json  [][]byte
	piece int    // the next piece: 0 the prefix, 2i+1 json[i], 2i+2 a comma or, last, the suffix
	cur   []byte // what is left of the piece being read
}

func (r *splicedReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && r.advance() {
		k := copy(p[n:], r.cur)
		r.cur = r.cur[k:]
		n += k
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// advance makes cur the next piece once the current one is all read; it
// reports false when every piece is.
func (r *splicedReader) advance() bool {
	for len(r.cur) == 0 {
		if r.piece > 2*len(r.json) {
			return false
		}
		r.cur = r.pieceAt(r.piece)
		r.piece++
	}
	return true
}

// pieceAt returns piece k of the body.
func (r *splicedReader) pieceAt(k int) []byte {
	switch {
	case k == 0:
		return envelopePrefixPiece
	case k == 2*len(r.json):
		return envelopeSuffixPiece
	case k%2 == 1:
		return r.json[k/2]
	}
	return commaPiece
}
