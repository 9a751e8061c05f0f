package spool

import (
	"errors"
	"fmt"
	"runtime/debug"
	"syscall"
	"unsafe"
)

// madvPopulateWrite is MADV_POPULATE_WRITE (Linux 5.14): fault the pages
// in, writable, now rather than at the appenders' first copies.
const madvPopulateWrite = 23

// allocate reserves the segment's blocks (fallocate, so that a full disk
// fails here with ENOSPC rather than as SIGBUS at a copy; ftruncate where
// the file system cannot), maps the file shared and faults its pages in.
func (s *segment) allocate() error {
	fd := int(s.f.Fd())
	if err := syscall.Fallocate(fd, 0, 0, s.size); err != nil {
		if !errors.Is(err, syscall.EOPNOTSUPP) && !errors.Is(err, syscall.ENOSYS) {
			return fmt.Errorf("allocating segment %016x: %w", s.seq, err)
		}
		if err := s.f.Truncate(s.size); err != nil {
			return err
		}
	}
	// The file's size and blocks are durable from here on, so that a
	// sync need only write the data back, and only up to where it ends.
	if err := s.f.Sync(); err != nil {
		return err
	}
	data, err := syscall.Mmap(fd, 0, int(s.size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mapping segment %016x: %w", s.seq, err)
	}
	s.data = data
	_ = syscall.Madvise(data, madvPopulateWrite) // an optimisation: older kernels refuse it
	return nil
}

// putRecord encodes the record of stamp and items, size bytes, straight
// into the mapping at off: the bytes are then in the page cache, which the
// death of the process does not lose. A fault on the mapping (an I/O
// error, or a disk that filled although the blocks were reserved) is
// returned as an error, not a crash.
func (s *segment) putRecord(off int64, size int, stamp int64, items [][]byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("writing segment %016x at %d: %v", s.seq, off, r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	dst := s.data[off : off : off+int64(size)]
	if rec := appendRecord(dst, stamp, items); len(rec) != size { // then it did not grow out of dst
		return fmt.Errorf("writing segment %016x at %d: a record of %d bytes, %d reserved", s.seq, off, len(rec), size)
	}
	return nil
}

// sync makes the first end bytes durable: msync(MS_SYNC) of the pages
// holding them, which on Linux also commits what the file system needs to
// read them back. The pages past end, faulted in ahead and still zero, are
// left alone: writing them back would write-protect them, and the
// appenders' next copies would fault again.
func (s *segment) sync(end int64) error {
	if len(s.data) == 0 || end <= 0 {
		return nil
	}
	end = min(end, int64(len(s.data)))
	_, _, e := syscall.Syscall(syscall.SYS_MSYNC, uintptr(unsafe.Pointer(&s.data[0])), uintptr(end), syscall.MS_SYNC)
	if e != 0 {
		return e
	}
	return nil
}

// unmap removes the mapping. No put may be in flight or follow.
func (s *segment) unmap() error {
	if s.data == nil {
		return nil
	}
	data := s.data
	s.data = nil
	return syscall.Munmap(data)
}
