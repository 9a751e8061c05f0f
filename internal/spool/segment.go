package spool

import (
	"errors"
	"os"
)

// segment is a segment file being appended to. It is created at its full
// capacity, so that running out of disk shows when a segment is created,
// never while a record is copied; appenders reserve ranges of it (see
// reserve.go) and put their records there concurrently, each in its own
// range. How a record reaches the file is the platform's: on Linux a copy
// into the file mapped shared (segment_linux.go), elsewhere a pwrite
// (segment_other.go). Either way, once put returned, the bytes are in the
// kernel's page cache.
type segment struct {
	seq  uint64
	f    *os.File
	size int64  // capacity: the file's size while appended to
	end  int64  // where its data ends, set when it is sealed
	data []byte // the file mapped shared, where the platform maps it

	sealedAt uint64 // the ticket after its last record, set when it is sealed: released once committed reaches it
}

// newSegment creates the segment file at path, sized to size bytes, and
// prepares it for puts.
func newSegment(path string, seq uint64, size int64) (*segment, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	s := &segment{seq: seq, f: f, size: size}
	if err := s.allocate(); err != nil {
		_ = s.unmap()
		_ = f.Close()
		_ = os.Remove(path)
		return nil, err
	}
	return s, nil
}

// release ends appending to the segment, sealed at end: it is made
// durable, cut to its data, and closed. No put may be in flight or follow.
func (s *segment) release() error {
	errs := []error{s.sync(s.end), s.unmap(), s.f.Truncate(s.end), s.f.Sync()}
	return errors.Join(append(errs, s.f.Close())...)
}

// discard closes and removes a segment that was never appended to.
func (s *segment) discard() {
	_ = s.unmap()
	_ = s.f.Close()
	_ = os.Remove(s.f.Name())
}
