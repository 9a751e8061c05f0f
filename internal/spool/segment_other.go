//go:build !linux

package spool

// Where the file is not mapped, a segment is pre-sized with ftruncate and
// each record is put with its own pwrite at its reserved offset: no
// appender waits for another one's write.

func (s *segment) allocate() error {
	if err := s.f.Truncate(s.size); err != nil {
		return err
	}
	return s.f.Sync()
}

// put writes rec at off with pwrite(2): once it returned, the bytes are in
// the kernel.
func (s *segment) put(off int64, rec []byte) error {
	_, err := s.f.WriteAt(rec, off)
	return err
}

// sync makes what was put durable: fsync(2).
func (s *segment) sync(int64) error { return s.f.Sync() }

func (s *segment) unmap() error { return nil }
