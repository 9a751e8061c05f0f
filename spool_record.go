package notifications

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// A spool record holds one written block:
//
//	magic   [4]byte  "RNS1"
//	length  uint32   length of the payload (big endian, as the rest)
//	events  uint32   number of events in the block
//	crc     uint32   CRC-32C of length, events and payload
//	payload          written time (int64 Unix nanoseconds), then the
//	                 events as a JSON array
//
// The magic lets a reader find the next record after a corrupt one.
const (
	recordHeaderSize = 16
	recordMaxPayload = 64 << 20 // a larger length is corruption
)

var (
	recordMagic = [4]byte{'R', 'N', 'S', '1'}
	crcTable    = crc32.MakeTable(crc32.Castagnoli)

	// errRecordShort: fewer bytes than the record needs; at the end of a
	// segment, a record torn by a crash.
	errRecordShort = errors.New("spool record truncated")

	// errRecordCorrupt: bad magic, impossible length or checksum mismatch.
	errRecordCorrupt = errors.New("spool record corrupt")
)

// encodeRecord returns the record for b.
func encodeRecord(b queuedBlock) ([]byte, error) {
	rec := make([]byte, recordHeaderSize+8, recordHeaderSize+8+700*len(b.events))
	rec, err := appendEventArray(rec, b.events)
	if err != nil {
		return nil, err
	}
	copy(rec, recordMagic[:])
	binary.BigEndian.PutUint32(rec[4:], uint32(len(rec)-recordHeaderSize))
	binary.BigEndian.PutUint32(rec[8:], uint32(len(b.events)))
	binary.BigEndian.PutUint64(rec[16:], uint64(b.written.UnixNano()))
	binary.BigEndian.PutUint32(rec[12:], recordChecksum(rec))
	return rec, nil
}

// recordChecksum is the CRC of a record's length, event count and payload.
func recordChecksum(rec []byte) uint32 {
	crc := crc32.Update(0, crcTable, rec[4:12])
	return crc32.Update(crc, crcTable, rec[recordHeaderSize:])
}

// parseRecordHeader checks the header at the start of buf and returns the
// record's total size and event count.
func parseRecordHeader(buf []byte) (size int, events int, err error) {
	if len(buf) < recordHeaderSize {
		return 0, 0, errRecordShort
	}
	if [4]byte(buf[:4]) != recordMagic {
		return 0, 0, fmt.Errorf("%w: bad magic", errRecordCorrupt)
	}
	length := binary.BigEndian.Uint32(buf[4:])
	if length < 8 || length > recordMaxPayload {
		return 0, 0, fmt.Errorf("%w: payload length %d", errRecordCorrupt, length)
	}
	return recordHeaderSize + int(length), int(binary.BigEndian.Uint32(buf[8:])), nil
}

// checkRecord verifies the record that fills rec (as sized by
// parseRecordHeader).
func checkRecord(rec []byte) error {
	if binary.BigEndian.Uint32(rec[12:]) != recordChecksum(rec) {
		return fmt.Errorf("%w: checksum mismatch", errRecordCorrupt)
	}
	return nil
}

// decodeRecord decodes the record at the start of buf and returns its block
// and size.
func decodeRecord(buf []byte) (queuedBlock, int, error) {
	size, count, err := parseRecordHeader(buf)
	if err != nil {
		return queuedBlock{}, 0, err
	}
	if len(buf) < size {
		return queuedBlock{}, 0, errRecordShort
	}
	rec := buf[:size]
	if err := checkRecord(rec); err != nil {
		return queuedBlock{}, 0, err
	}
	b := queuedBlock{written: time.Unix(0, int64(binary.BigEndian.Uint64(rec[16:])))}
	if err := json.Unmarshal(rec[24:], &b.events); err != nil {
		return queuedBlock{}, 0, fmt.Errorf("%w: %w", errRecordCorrupt, err)
	}
	if len(b.events) != count || count == 0 {
		return queuedBlock{}, 0, fmt.Errorf("%w: %d events, header says %d", errRecordCorrupt, len(b.events), count)
	}
	return b, size, nil
}
