package notifications

import (
	"unsafe"

	"github.com/regnotify/notifications/internal/spool"
)

// readLoan is the memory of one read from the disk when the store lends
// it: the records are read into buf and their events decoded into slab,
// sharing buf's bytes. It is read into again only once no peeked block
// holds it, that is once the queue popped, or peeked again, every block
// decoded from it: the queue reads a block's events only until then.
type readLoan struct {
	buf  spool.ReadBuffer
	slab []Event
	held int // peeked blocks decoded from it
}

// maxIdleLoans bounds the loans kept for the next reads: a batch being
// delivered and one taken ahead hold a few each (a read is at most
// 256 KiB of records).
const maxIdleLoans = 4

// memoryBlock returns the block of r, a record read back from the memory
// the spool keeps, and whether r was one (else it was read from the disk).
// The block of a binary record comes back with its written time from the
// record's (the wall clock's reading), as from the disk.
func memoryBlock(r spool.Block) (queuedBlock, bool) {
	switch v := r.Value.(type) {
	case queuedBlock:
		return v, true
	case *Event: // push's: the first of r.Count events in a row (never nil: push appends no empty block)
		return queuedBlock{events: unsafe.Slice(v, r.Count), written: stampOfWall(r.Stamp)}, true
	}
	return queuedBlock{}, false
}

func (s *spoolStore) peek(skip, maxEvents int) ([]queuedBlock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	skip = min(skip, len(s.peeked))
	s.unpeek(s.peeked[skip:])
	s.peeked = s.peeked[:skip]
	from := s.log.Start()
	if len(s.peeked) > 0 {
		from = s.peeked[len(s.peeked)-1].end
	}
	return s.readFrom(from, maxEvents, len(s.peeked) == 0)
}

// readFrom returns the blocks from p on, whole, at most maxEvents events
// (at least one block): from memory where it has them, else from the disk.
// A block read from the disk carries its events decoded from their binary
// form, or its events' JSON only, decoded when something needs the values
// (see appendEvents). A block whose items are neither is logged and, when
// it comes first and fromStart, acknowledged as lost. The blocks returned
// are added to those peeked.
func (s *spoolStore) readFrom(p spool.Position, maxEvents int, fromStart bool) ([]queuedBlock, error) {
	var blocks []queuedBlock
	n := 0
	add := func(b queuedBlock, end spool.Position, loan *readLoan) bool {
		if len(blocks) > 0 && n+b.count() > maxEvents {
			return false
		}
		if loan != nil {
			loan.held++
		}
		blocks = append(blocks, b)
		s.peeked = append(s.peeked, peekedBlock{end: end, events: b.count(), loan: loan})
		n += b.count()
		p = end
		return true
	}
	var loan *readLoan // the read's, when lending
	defer func() {
		if loan != nil {
			s.keepIdle(loan)
		}
	}()
	for n < maxEvents || len(blocks) == 0 {
		readBuf := &s.readBuf
		if s.lend {
			if loan == nil || loan.held > 0 { // else no block of the last read holds it
				loan = s.takeLoan()
			}
			readBuf = &loan.buf
		}
		read, err := s.log.ReadInto(readBuf, p, max(maxEvents-n, 1))
		if err != nil && len(blocks) == 0 {
			return nil, err
		}
		if err != nil || len(read) == 0 {
			break
		}
		if blocks == nil {
			blocks = make([]queuedBlock, 0, len(read))
		}
		var slab []Event // the events decoded from this read share it
		if loan != nil {
			slab = loan.slabFor(read)
		} else if k := binaryCount(read); k > 0 {
			slab = make([]Event, k)
		}
		for _, r := range read {
			b, ok := memoryBlock(r)
			var lent *readLoan
			if !ok {
				if b, slab, ok = blockOf(r, slab, loan != nil); !ok {
					if !s.loggedUndecodable || s.undecodable != r.Span.From {
						s.undecodable, s.loggedUndecodable = r.Span.From, true
						s.logger.WithField("events", len(r.Items)).Error("notifications: spool: a record of events that do not decode")
					}
					if len(blocks) > 0 || !fromStart {
						return blocks, nil
					}
					if err := s.log.Ack(r.Span.To, len(r.Items)); err != nil {
						return nil, err
					}
					s.lost += len(r.Items)
					p = r.Span.To
					continue
				}
				switch {
				case b.json != nil:
					// JSON sent as it is: the buffer is its now, never
					// read into again (binary records are copied out as
					// they are decoded, or share a loan's memory).
					*readBuf = spool.ReadBuffer{}
				case loan != nil:
					lent = loan
				}
			}
			if !add(b, r.Span.To, lent) {
				return blocks, nil
			}
		}
	}
	return blocks, nil
}

// blockOf returns the block of r, a record read from the disk: its events
// decoded from their binary form, or their JSON kept to be sent as it is.
// It reports false for a record that is neither. Decoded events are taken
// from slab, zero events enough for r's binary items (see binaryCount);
// it returns what is left of slab. With shared, their strings are r's
// bytes (see decodeBinaryEventShared).
func blockOf(r spool.Block, slab []Event, shared bool) (queuedBlock, []Event, bool) {
	b := queuedBlock{written: stampOfWall(r.Stamp)}
	switch {
	case jsonObjects(r.Items):
		b.json = withJSON(r.Items)
	case binaryItems(r.Items):
		b.events, slab = slab[:len(r.Items):len(r.Items)], slab[len(r.Items):]
		decode := decodeBinaryEvent
		if shared {
			decode = decodeBinaryEventShared
		}
		for i, item := range r.Items {
			if decode(item, &b.events[i]) != nil {
				clear(b.events)
				return queuedBlock{}, slab, false
			}
		}
	default:
		return queuedBlock{}, slab, false
	}
	return b, slab, true
}

// binaryCount returns how many events the binary records of read, those
// read from the disk, hold: the events blockOf decodes from it.
func binaryCount(read []spool.Block) int {
	n := 0
	for _, r := range read {
		if r.Value == nil && binaryItems(r.Items) {
			n += len(r.Items)
		}
	}
	return n
}

// takeLoan returns a loan no peeked block holds, to read into.
func (s *spoolStore) takeLoan() *readLoan {
	if k := len(s.loans); k > 0 {
		loan := s.loans[k-1]
		s.loans[k-1] = nil
		s.loans = s.loans[:k-1]
		return loan
	}
	return new(readLoan)
}

// keepIdle keeps loan for the next reads when no peeked block holds it
// (and fewer than maxIdleLoans are kept).
func (s *spoolStore) keepIdle(loan *readLoan) {
	if loan.held == 0 && len(s.loans) < maxIdleLoans {
		s.loans = append(s.loans, loan)
	}
}

// unpeek lets go of blocks no longer peeked (popped, or to be peeked
// again): a loan none of them holds any more is kept for the next reads.
func (s *spoolStore) unpeek(blocks []peekedBlock) {
	for i := range blocks {
		if loan := blocks[i].loan; loan != nil {
			blocks[i].loan = nil
			if loan.held--; loan.held == 0 {
				s.keepIdle(loan)
			}
		}
	}
}

// slabFor returns the loan's zeroed events for the binary records of
// read, made larger when they do not fit.
func (loan *readLoan) slabFor(read []spool.Block) []Event {
	n := binaryCount(read)
	if cap(loan.slab) < n {
		loan.slab = make([]Event, n)
	}
	slab := loan.slab[:n]
	clear(slab)
	return slab
}

// jsonObjects reports whether items, a record's, is not empty and each
// item is framed as a JSON object, as EncodeEvents writes them: what the
// spool checks of a record read back before sending it as it is. The
// record's checksum vouches for the rest.
func jsonObjects(items [][]byte) bool {
	for _, item := range items {
		if len(item) < 2 || item[0] != '{' || item[len(item)-1] != '}' {
			return false
		}
	}
	return len(items) > 0
}
