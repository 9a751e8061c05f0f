package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

const (
	recordHeaderSize = 16
	stampSize        = 8
	itemHeaderSize   = 4

	// MaxRecordPayload is the largest payload a record may have; a larger
	// length in a header is corruption.
	MaxRecordPayload = 64 << 20
)

var (
	recordMagic = [4]byte{'R', 'N', 'S', '2'}
	crcTable    = crc32.MakeTable(crc32.Castagnoli)

	// errRecordShort: fewer bytes than the record needs; at the end of a
	// segment, a record torn by a crash.
	errRecordShort = errors.New("spool record truncated")

	// errRecordCorrupt: bad magic, impossible length or count, or checksum
	// mismatch.
	errRecordCorrupt = errors.New("spool record corrupt")
)

// recordSize returns the size of the record holding items.
func recordSize(items [][]byte) int {
	n := recordHeaderSize + stampSize
	for _, it := range items {
		n += itemHeaderSize + len(it)
	}
	return n
}

// appendRecord appends the record of stamp and items to dst.
func appendRecord(dst []byte, stamp int64, items [][]byte) []byte {
	start := len(dst)
	dst = append(dst, recordMagic[:]...)
	dst = append(dst, make([]byte, recordHeaderSize-len(recordMagic))...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(stamp))
	for _, it := range items {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(it)))
		dst = append(dst, it...)
	}
	rec := dst[start:]
	binary.BigEndian.PutUint32(rec[4:], uint32(len(rec)-recordHeaderSize))
	binary.BigEndian.PutUint32(rec[8:], uint32(len(items)))
	binary.BigEndian.PutUint32(rec[12:], recordChecksum(rec))
	return dst
}

// recordChecksum is the CRC of a record's length, count and payload.
func recordChecksum(rec []byte) uint32 {
	crc := crc32.Update(0, crcTable, rec[4:12])
	return crc32.Update(crc, crcTable, rec[recordHeaderSize:])
}

// parseRecordHeader checks the header at the start of buf and returns the
// record's total size and item count.
func parseRecordHeader(buf []byte) (size, count int, err error) {
	if len(buf) < recordHeaderSize {
		return 0, 0, errRecordShort
	}
	if [4]byte(buf[:4]) != recordMagic {
		return 0, 0, fmt.Errorf("%w: bad magic", errRecordCorrupt)
	}
	length := binary.BigEndian.Uint32(buf[4:])
	count = int(binary.BigEndian.Uint32(buf[8:]))
	if length < stampSize || length > MaxRecordPayload {
		return 0, 0, fmt.Errorf("%w: payload length %d", errRecordCorrupt, length)
	}
	if count == 0 || count > int(length-stampSize)/itemHeaderSize {
		return 0, 0, fmt.Errorf("%w: %d items in %d bytes", errRecordCorrupt, count, length)
	}
	return recordHeaderSize + int(length), count, nil
}

// checkRecord verifies the checksum of the record filling rec, as sized by
// parseRecordHeader.
func checkRecord(rec []byte) error {
	if binary.BigEndian.Uint32(rec[12:]) != recordChecksum(rec) {
		return fmt.Errorf("%w: checksum mismatch", errRecordCorrupt)
	}
	return nil
}

// decodeRecord decodes the record at the start of buf. Its items share
// buf's memory.
func decodeRecord(buf []byte) (stamp int64, items [][]byte, size int, err error) {
	return decodeRecordInto(buf, nil)
}

// decodeRecordInto is decodeRecord, taking the items' slice from the front
// of *slab when it has room.
func decodeRecordInto(buf []byte, slab *[][]byte) (stamp int64, items [][]byte, size int, err error) {
	size, count, err := parseRecordHeader(buf)
	if err != nil {
		return 0, nil, 0, err
	}
	if len(buf) < size {
		return 0, nil, 0, errRecordShort
	}
	rec := buf[:size]
	if err := checkRecord(rec); err != nil {
		return 0, nil, 0, err
	}
	stamp = int64(binary.BigEndian.Uint64(rec[recordHeaderSize:]))
	if slab != nil && len(*slab) >= count {
		items, *slab = (*slab)[:0:count], (*slab)[count:]
	} else {
		items = make([][]byte, 0, count)
	}
	p := rec[recordHeaderSize+stampSize:]
	for range count {
		if len(p) < itemHeaderSize {
			return 0, nil, 0, fmt.Errorf("%w: item header past the payload", errRecordCorrupt)
		}
		n := binary.BigEndian.Uint32(p)
		p = p[itemHeaderSize:]
		if uint64(n) > uint64(len(p)) {
			return 0, nil, 0, fmt.Errorf("%w: item of %d bytes past the payload", errRecordCorrupt, n)
		}
		items = append(items, p[:n:n])
		p = p[n:]
	}
	if len(p) != 0 {
		return 0, nil, 0, fmt.Errorf("%w: %d bytes after the last item", errRecordCorrupt, len(p))
	}
	return stamp, items, size, nil
}
