// Package spool is regnotify's storage engine: an append-only log of
// checksummed records in numbered segment files, with a cursor recording
// how far the reader has acknowledged. It knows nothing of events: a record
// holds a block of opaque payloads ("items") and a caller's stamp.
//
// # API
//
// [Open] locks a directory, recovers what a previous [Log] left and starts
// a fresh segment. [Log.Append] writes one block and returns once its
// record is in the kernel: an appender reserves its record's place with a
// compare-and-swap and encodes the record there itself, without a system
// call or a buffer of its own on Linux, without the log's mutex in the
// common case (the next reader, Len, the log's goroutine or Close commits
// the record; an appender takes the mutex to rotate, to wait for room in
// a full ring, and to commit when Close or such a waiter waits or half the
// ring waits for a commit) and without waiting for any other appender's
// write. [Log.AppendCopy] is Append for items in a buffer the caller
// reuses: the memory of recent blocks keeps only the caller's value for
// them. [Log.Read] returns whole blocks from a position, a batch
// at a time; [Log.ReadInto] does for a reader that copies what it keeps,
// reading one chunk of the disk a call into a [ReadBuffer] it lends again
// (the items of the blocks it returned last lie there); [Log.Ack]
// records that everything before a position was consumed and removes the
// segments wholly before it. [Log.Close] waits for appends in flight,
// fsyncs and releases the lock.
//
// # On-disk format
//
// A log directory holds:
//
//	lock                    taken with flock(2) while a Log is open
//	cursor                  the acknowledged position (see below)
//	0000000000000001.seg    segments, named by a 16-digit hex sequence number
//	0000000000000002.seg    ...; the newest is the one appended to
//
// A segment is a sequence of records, no header of its own:
//
//	magic   [4]byte  "RNS2"
//	length  uint32   length of the payload (big endian, as everything here)
//	count   uint32   number of items, at least 1
//	crc     uint32   CRC-32C (Castagnoli) of length, count and payload
//	payload          stamp (int64), then count times:
//	                   size uint32, then size bytes of the item
//
// A segment is created at its full size, [Options.SegmentSize] (or one
// record's size, when larger), with its blocks allocated (fallocate(2)
// where the file system has it), so that a full disk fails the creation,
// never a copy; the log's goroutine creates the next segment ahead of the
// appenders. Records follow each other from offset 0 and never straddle
// two segments. When a segment is left for the next one, and when the Log
// is closed, the file is cut to its records; a segment left by a crash
// keeps its size, and after its records come zeros, until the log is
// opened again: then it is cut to its records too.
//
// Zeros where a record would start are not a record: the unused end of a
// segment, or the room of an append that never finished (concurrent
// appends finish in any order, and the process may die between a
// reservation and its copy; such an Append never returned nil). A reader
// skips them silently. Anything else that is not a whole record with its
// checksum — torn or corrupt bytes — is logged and skipped, never
// returned; the magic lets the reader find the next record after it.
//
// The cursor file holds 20 bytes: segment (uint64), offset (uint64) and the
// CRC-32C of those 16 bytes. A missing or damaged cursor, or one naming a
// segment that is gone, means "from the oldest segment": blocks may then be
// read again, never lost.
//
// # Durability
//
// When Append returns nil the record is in the kernel's page cache: on
// Linux written into the segment file mapped shared (mmap(2) MAP_SHARED),
// elsewhere written with pwrite(2). Either way it survives the death of
// the process (kill -9), not a power cut or a kernel crash: an msync(2)
// (fsync(2) where the file is not mapped) follows at most
// [Options.SyncEvery] later, on the log's own goroutine, so a power cut
// can lose what was appended in that window. A new segment's size is
// fsynced, and its directory entry too, before it is written to.
//
// # Concurrency
//
// Every method is safe for concurrent use. Appenders never wait for each
// other's writes nor for readers; they wait for the log's goroutine only
// when it has not created the next segment in time. A record becomes
// visible to readers, and counts in Len, once it and every record before
// it are copied.
package spool
