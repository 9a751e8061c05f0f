//go:build !linux

package spool

import (
	"fmt"
	"sync"
)

// Where the file is not mapped, a segment is pre-sized with ftruncate and
// each record is put with its own pwrite at its reserved offset: no
// appender waits for another one's write.

func (s *segment) allocate() error {
	if err := s.f.Truncate(s.size); err != nil {
		return err
	}
	return s.f.Sync()
}

var recordPool = sync.Pool{New: func() any { return new([]byte) }}

// putRecord encodes the record of stamp and items, size bytes, and writes
// it at off with pwrite(2): once it returned, the bytes are in the kernel.
func (s *segment) putRecord(off int64, size int, stamp int64, items [][]byte) error {
	rec := recordPool.Get().(*[]byte)
	defer recordPool.Put(rec)
	*rec = appendRecord((*rec)[:0], stamp, items)
	if len(*rec) != size {
		return fmt.Errorf("writing segment %016x at %d: a record of %d bytes, %d reserved", s.seq, off, len(*rec), size)
	}
	_, err := s.f.WriteAt(*rec, off)
	return err
}

// sync makes what was put durable: fsync(2).
func (s *segment) sync(int64) error { return s.f.Sync() }

func (s *segment) unmap() error { return nil }
