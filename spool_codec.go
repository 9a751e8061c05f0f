package notifications

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"
	"unsafe"

	"github.com/opencontainers/go-digest"
)

// The spool's record of a Write: each event in a compact binary form, its
// fields in the order of the Event type, strings and byte slices as a
// uvarint length and the bytes, integers as varints. A spooled Write must
// have its events in the kernel before it returns, and copying their
// values is several times cheaper than writing their JSON (escaping,
// keys, the time's text): that is the Write's cost. They are encoded as
// JSON at delivery, as from a memory store, whether they come from the
// memory tail or from the disk. (A Broadcaster's events, encoded once as
// JSON for every endpoint, are stored as that JSON and spliced.)
//
// An item begins with binaryEventTag, never '{', so that the two kinds of
// record tell themselves apart. TestBinaryEventCarriesEveryField fails when
// a field is added to Event or its records and not here.

// binaryEventTag is the first byte of an event's binary form, version 1.
const binaryEventTag = 0x01

// errBinaryEvent is what decodeBinaryEvent returns for an item it cannot
// read.
var errBinaryEvent = errors.New("not a binary event")

// appendBinaryEvent appends the binary form of e to dst. It fails, as
// encoding/json does, for a timestamp JSON cannot carry: an event the
// spool would store and no endpoint could send.
func appendBinaryEvent(dst []byte, e *Event) ([]byte, error) {
	if !timeEncodable(e.Timestamp) {
		_, err := json.Marshal(e.Timestamp)
		if err == nil { // encoding/json and timeEncodable agree today
			err = errors.New("a timestamp JSON cannot carry")
		}
		return dst, err
	}
	dst = append(dst, binaryEventTag)
	dst = appendBinaryString(dst, e.ID)
	_, offset := e.Timestamp.Zone()
	dst = binary.AppendVarint(dst, e.Timestamp.Unix())
	dst = binary.AppendUvarint(dst, uint64(e.Timestamp.Nanosecond()))
	dst = binary.AppendVarint(dst, int64(offset))
	dst = appendBinaryString(dst, e.Action)

	t := &e.Target
	dst = appendBinaryString(dst, t.Type)
	dst = appendBinaryString(dst, t.Name)
	dst = appendBinaryDescriptor(dst, &Descriptor{
		MediaType: t.MediaType, Size: t.Size, Digest: t.Digest, URLs: t.URLs, Annotations: t.Annotations,
		Data: t.Data, Platform: t.Platform, ArtifactType: t.ArtifactType,
	})
	dst = binary.AppendVarint(dst, t.Length)
	dst = appendBinaryString(dst, t.Repository)
	dst = appendBinaryString(dst, t.FromRepository)
	dst = appendBinaryString(dst, t.Tag)
	dst = appendBinaryString(dst, t.URL)
	dst = binary.AppendUvarint(dst, uint64(len(t.References)))
	for i := range t.References {
		dst = appendBinaryDescriptor(dst, &t.References[i])
	}

	for _, s := range [...]string{
		e.Request.ID, e.Request.Addr, e.Request.Host, e.Request.Method, e.Request.UserAgent,
		e.Actor.Name, e.Source.Addr, e.Source.InstanceID,
	} {
		dst = appendBinaryString(dst, s)
	}
	return dst, nil
}

// appendBinaryEvents appends the binary form of each event to buf, and
// where each ends to ends, as appendEventObjects does their JSON.
func appendBinaryEvents(buf []byte, ends []int, events []Event) ([]byte, []int, error) {
	for i := range events {
		var err error
		if buf, err = appendBinaryEvent(buf, &events[i]); err != nil {
			return buf, ends, err
		}
		ends = append(ends, len(buf))
	}
	return buf, ends, nil
}

func appendBinaryString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBinaryStrings(dst []byte, ss []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ss)))
	for _, s := range ss {
		dst = appendBinaryString(dst, s)
	}
	return dst
}

func appendBinaryDescriptor(dst []byte, d *Descriptor) []byte {
	dst = appendBinaryString(dst, d.MediaType)
	dst = binary.AppendVarint(dst, d.Size)
	dst = appendBinaryString(dst, string(d.Digest))
	dst = appendBinaryStrings(dst, d.URLs)
	dst = binary.AppendUvarint(dst, uint64(len(d.Annotations)))
	for k, v := range d.Annotations {
		dst = appendBinaryString(appendBinaryString(dst, k), v)
	}
	dst = binary.AppendUvarint(dst, uint64(len(d.Data)))
	dst = append(dst, d.Data...)
	if p := d.Platform; p == nil {
		dst = append(dst, 0)
	} else {
		dst = append(dst, 1)
		dst = appendBinaryString(dst, p.Architecture)
		dst = appendBinaryString(dst, p.OS)
		dst = appendBinaryString(dst, p.OSVersion)
		dst = appendBinaryStrings(dst, p.OSFeatures)
		dst = appendBinaryString(dst, p.Variant)
	}
	return appendBinaryString(dst, d.ArtifactType)
}

// binaryItems reports whether items, a record's, is not empty and each
// item is an event's binary form (by its first byte; decoding checks the
// rest).
func binaryItems(items [][]byte) bool {
	for _, item := range items {
		if len(item) == 0 || item[0] != binaryEventTag {
			return false
		}
	}
	return len(items) > 0
}

// decodeBinaryEvent decodes into e, which must be zero, the event whose
// binary form is item. Its strings share one allocation.
func decodeBinaryEvent(item []byte, e *Event) error {
	return decodeBinaryForm(string(item), e)
}

// decodeBinaryEventShared is decodeBinaryEvent for an item whose memory is
// not written again while e's strings are used: they are item's bytes (a
// spool's read lent to its queue, see spoolStore.lend), so that decoding
// allocates only what an event holds besides strings (its slices, maps,
// platform, a time zone that is not UTC). The memory is written again
// under stale copies of e that nothing reads (a recycled batch's events, a
// loan's events before they are cleared).
func decodeBinaryEventShared(item []byte, e *Event) error {
	return decodeBinaryForm(unsafe.String(unsafe.SliceData(item), len(item)), e)
}

// decodeBinaryForm decodes into e, which must be zero, the event whose
// binary form is s; e's strings are s's.
func decodeBinaryForm(s string, e *Event) error {
	if len(s) == 0 || s[0] != binaryEventTag {
		return errBinaryEvent
	}
	r := binaryReader{s: s, i: 1, ok: true}
	e.ID = r.string()
	sec, nsec, offset := r.varint(), r.uvarint(), r.varint()
	if r.ok && nsec < 1e9 && offset > -24*3600 && offset < 24*3600 {
		loc := time.UTC
		if offset != 0 {
			loc = time.FixedZone("", int(offset))
		}
		e.Timestamp = time.Unix(sec, int64(nsec)).In(loc)
		r.ok = timeEncodable(e.Timestamp) // what no endpoint could send is damage
	} else {
		r.ok = false
	}
	e.Action = r.string()

	t := &e.Target
	t.Type, t.Name = r.string(), r.string()
	var d Descriptor
	r.descriptor(&d)
	t.MediaType, t.Size, t.Digest, t.URLs, t.Annotations, t.Data, t.Platform, t.ArtifactType =
		d.MediaType, d.Size, d.Digest, d.URLs, d.Annotations, d.Data, d.Platform, d.ArtifactType
	t.Length = r.varint()
	t.Repository, t.FromRepository, t.Tag, t.URL = r.string(), r.string(), r.string(), r.string()
	if n := r.count(minDescriptorBytes); n > 0 {
		t.References = make([]Descriptor, n)
		for i := range t.References {
			r.descriptor(&t.References[i])
		}
	}

	e.Request = RequestRecord{ID: r.string(), Addr: r.string(), Host: r.string(), Method: r.string(), UserAgent: r.string()}
	e.Actor.Name = r.string()
	e.Source = SourceRecord{Addr: r.string(), InstanceID: r.string()}
	if !r.ok || r.i != len(r.s) {
		*e = Event{}
		return errBinaryEvent
	}
	return nil
}

// binaryReader reads an event's binary form from s at i; once something
// does not read, ok is false and every read returns a zero value.
type binaryReader struct {
	s  string
	i  int
	ok bool
}

func (r *binaryReader) uvarint() uint64 {
	var v uint64
	for shift := 0; shift < 64 && r.ok; shift += 7 {
		if r.i >= len(r.s) {
			r.ok = false
			return 0
		}
		b := r.s[r.i]
		r.i++
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v
		}
	}
	r.ok = false
	return 0
}

func (r *binaryReader) varint() int64 {
	u := r.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

// The fewest bytes an element's binary form takes, so that a count read
// from a damaged form never makes more room than the form could fill:
// a descriptor (six lengths and counts, its size and its platform flag)
// and an annotation (two lengths).
const (
	minDescriptorBytes = 8
	minAnnotationBytes = 2
)

// count reads a number of elements, each at least minBytes long.
func (r *binaryReader) count(minBytes int) int {
	n := r.uvarint()
	if n > uint64((len(r.s)-r.i)/minBytes) {
		r.ok = false
		return 0
	}
	return int(n)
}

func (r *binaryReader) string() string {
	n := r.count(1)
	if !r.ok {
		return ""
	}
	s := r.s[r.i : r.i+n]
	r.i += n
	return s
}

func (r *binaryReader) strings() []string {
	n := r.count(1)
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = r.string()
	}
	return ss
}

func (r *binaryReader) descriptor(d *Descriptor) {
	d.MediaType = r.string()
	d.Size = r.varint()
	d.Digest = digest.Digest(r.string())
	d.URLs = r.strings()
	if n := r.count(minAnnotationBytes); n > 0 {
		d.Annotations = make(map[string]string, n)
		for range n {
			k := r.string()
			d.Annotations[k] = r.string()
		}
	}
	if data := r.string(); data != "" {
		d.Data = []byte(data)
	}
	if r.i < len(r.s) && r.s[r.i] == 1 {
		r.i++
		d.Platform = &Platform{Architecture: r.string(), OS: r.string(), OSVersion: r.string(), OSFeatures: r.strings(), Variant: r.string()}
	} else if r.i < len(r.s) && r.s[r.i] == 0 {
		r.i++
	} else {
		r.ok = false
	}
	d.ArtifactType = r.string()
}
