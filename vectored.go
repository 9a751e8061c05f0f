package notifications

import (
	"context"
	"io"
	"net"
	"sync"
)

// Request bodies written with writev. net/http copies a request body to
// its connection through a buffer (32 KiB, allocated per request), one
// write(2) per buffer: every byte is copied once more than needed, and a
// spliced body, whose bytes are the stored JSON of its events, is
// assembled in that buffer only to be taken apart by the kernel. An
// endpoint's plain TCP connections are wrapped in a vectoredConn, whose
// ReadFrom, which net/http calls with the body, hands the body's own
// pieces to the kernel in one writev(2) per maxPieces; any other reader is
// copied as the connection would copy it. (A TLS connection has no
// ReadFrom: net/http copies its bodies through its buffer as before, and
// the first bytes of every body go through net/http's 4 KiB buffer with
// the headers.)

// dialVectored wraps the connections dial makes to write request bodies
// with writev (see vectoredConn); connections that are not TCP ones (a
// caller's own dialer may return anything) are returned as they are.
func dialVectored(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if tcp, ok := c.(*net.TCPConn); ok && err == nil {
			return &vectoredConn{TCPConn: tcp}, nil
		}
		return c, err
	}
}

// vectoredConn is a TCP connection whose ReadFrom writes an endpoint's
// request body without copying it (see bodyReader.writeVectored).
type vectoredConn struct {
	*net.TCPConn
}

// ReadFrom writes what r reads to the connection. net/http calls it with
// the rest of a request body, limited to its Content-Length.
func (c *vectoredConn) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok {
		if body, ok := lr.R.(*bodyReader); ok {
			return body.writeVectored(c.TCPConn, lr)
		}
	}
	return c.TCPConn.ReadFrom(r)
}

// maxPieces is how many pieces of a body one writev is given: the most
// the kernel takes at once (IOV_MAX).
const maxPieces = 1024

// pieceLists recycles the lists of pieces writeVectored hands to writev.
var pieceLists = sync.Pool{New: func() any { return new([maxPieces][]byte) }}

// bodyPieces is a request body that can give what is left of it as
// slices of its buffer, the pieces it would read them from.
type bodyPieces interface {
	io.Reader
	// appendPieces appends to dst, up to its capacity, pieces of what is
	// left of the body, together at most limit bytes; they count as read.
	// It returns dst and the bytes appended.
	appendPieces(dst [][]byte, limit int64) ([][]byte, int64)
}

// writeVectored writes what is left of the body, up to lr.N bytes, to c
// with writev, and counts it as read from lr. The body's buffer is held
// meanwhile, so that a Close in the middle (net/http may close a body
// while a goroutine of its own writes it) stops the writing after the
// writev under way but never frees a buffer the kernel still reads.
func (r *bodyReader) writeVectored(c *net.TCPConn, lr *io.LimitedReader) (int64, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return 0, errBodyClosed
	}
	r.owner.hold(r.buf)
	r.mu.Unlock()
	defer r.owner.release(r.buf)

	list := pieceLists.Get().(*[maxPieces][]byte)
	defer pieceLists.Put(list)
	var written int64
	for lr.N > 0 {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return written, errBodyClosed
		}
		vec, n := r.reader.appendPieces(list[:0], lr.N)
		r.mu.Unlock()
		if n == 0 {
			break
		}
		lr.N -= n
		bufs := net.Buffers(vec)
		k, err := bufs.WriteTo(c)
		clear(vec) // the list holds no event's JSON while idle
		written += k
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// bytesBody reads a body encoded in one buffer.
type bytesBody struct {
	rest []byte
}

func (r *bytesBody) Read(p []byte) (int, error) {
	if len(r.rest) == 0 {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}

func (r *bytesBody) appendPieces(dst [][]byte, limit int64) ([][]byte, int64) {
	n := int(min(limit, int64(len(r.rest))))
	if n == 0 || len(dst) == cap(dst) {
		return dst, 0
	}
	dst = append(dst, r.rest[:n])
	r.rest = r.rest[n:]
	return dst, int64(n)
}

func (r *splicedReader) appendPieces(dst [][]byte, limit int64) ([][]byte, int64) {
	var n int64
	for n < limit && len(dst) < cap(dst) && r.advance() {
		k := min(int64(len(r.cur)), limit-n)
		dst = append(dst, r.cur[:k])
		r.cur = r.cur[k:]
		n += k
	}
	return dst, n
}
