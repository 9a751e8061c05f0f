// Package spool is regnotify's storage engine: an append-only log of
// checksummed records in numbered segment files, with a cursor recording
// how far the reader has acknowledged. It knows nothing of events: a record
// holds a block of opaque payloads ("items") and a caller's stamp.
//
// # API
//
// [Open] locks a directory, recovers what a previous [Log] left and starts
// a fresh segment. [Log.Append] writes one block and returns once its
// record was handed to the kernel with write(2): concurrent appenders share
// one write (group commit). [Log.Read] returns whole blocks from a
// position, a batch at a time; [Log.Ack] records that everything before a
// position was consumed and removes the segments wholly before it.
// [Log.Close] waits for appends in flight, fsyncs and releases the lock.
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
// The magic lets a reader find the next record after a damaged one: torn
// or corrupt bytes are logged and skipped, never returned. A segment grows
// past its nominal size by at most one group of records, never splitting a
// record; the reader moves to the next segment at a segment's end.
//
// The cursor file holds 20 bytes: segment (uint64), offset (uint64) and the
// CRC-32C of those 16 bytes. A missing or damaged cursor, or one naming a
// segment that is gone, means "from the oldest segment": blocks may then be
// read again, never lost.
//
// # Durability
//
// When Append returns nil the record is in the kernel's page cache: it
// survives the death of the process (kill -9). An fsync follows at most
// [Options.SyncEvery] later, on the log's own goroutine, so a power cut can
// lose what was appended in that window. New segments are made durable in
// their directory before they are written to.
//
// # Concurrency
//
// Every method is safe for concurrent use. Appenders never wait for
// readers; a reader waits for an appender only while it swaps segments.
package spool
