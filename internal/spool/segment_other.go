//go:build !linux

package spool

// Where the file is not mapped, a segment is pre-sized with ftruncate and
// each record is put with its own pwrite at its reserved offset: no
// appender waits for another one's write.

func (s *segment) allocate() error { return s.f.Truncate(s.size) }

// put writes rec at off with pwrite(2): once it returned, the bytes are in
// the kernel.
func (s *segment) put(off int64, rec []byte) error {
	_, err := s.f.WriteAt(rec, off)
	return err
}

func (s *segment) flush() error { return nil }

func (s *segment) unmap() error { return nil }
