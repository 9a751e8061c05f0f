package notifications

import (
	"bytes"
	"encoding/json"
	"slices"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/regnotify/notifications/internal/jsontime"
)

// The envelope encoder appends the JSON of an Envelope to a buffer, byte for
// byte as encoding/json writes it (HTML-safe escaping, \ufffd for invalid
// UTF-8, the omitempty rules of the struct tags), without reflection, and
// without allocation for events whose targets carry no annotations. The
// same code measures an event's JSON without writing it. encode_test.go
// checks it against encoding/json.

// platform writes the object field unless p is nil.
func (w *objectWriter) platform(key string, p *Platform) {
	if p == nil {
		return
	}
	w.key(key)
	obj := beginObject(w.out)
	obj.field(`"architecture":`, p.Architecture)
	obj.field(`"os":`, p.OS)
	obj.omitEmpty(`"os.version":`, p.OSVersion)
	obj.strings(`"os.features":`, p.OSFeatures)
	obj.omitEmpty(`"variant":`, p.Variant)
	obj.end()
}

// descriptor writes the object of d.
func writeDescriptor(out *jsonOut, d *Descriptor) {
	obj := beginObject(out)
	obj.omitEmpty(`"mediaType":`, d.MediaType)
	obj.omitZero(`"size":`, d.Size)
	obj.omitEmpty(`"digest":`, string(d.Digest))
	obj.strings(`"urls":`, d.URLs)
	obj.stringMap(`"annotations":`, d.Annotations)
	obj.data(`"data":`, d.Data)
	obj.platform(`"platform":`, d.Platform)
	obj.omitEmpty(`"artifactType":`, d.ArtifactType)
	obj.end()
}

// timeEncodable reports whether encoding/json encodes t as its RFC 3339
// form (see jsontime.Encodable, which the receiver checks with too).
func timeEncodable(t time.Time) bool { return jsontime.Encodable(t) }

// writeEvent writes the JSON object of e, field for field as encoding/json
// does; e's timestamp must be one timeEncodable accepts.
// TestEncoderWritesEveryField fails when a field is added to Event or its
// records and not here.
func writeEvent(out *jsonOut, e *Event) {
	w := beginObject(out)
	w.omitEmpty(`"id":`, e.ID)
	w.key(`"timestamp":`)
	out.time(e.Timestamp)
	w.omitEmpty(`"action":`, e.Action)

	w.key(`"target":`)
	t := &e.Target
	target := beginObject(out)
	target.omitEmpty(`"type":`, t.Type)
	target.omitEmpty(`"name":`, t.Name)
	target.omitEmpty(`"mediaType":`, t.MediaType)
	target.omitZero(`"size":`, t.Size)
	target.omitEmpty(`"digest":`, string(t.Digest))
	if len(t.URLs)+len(t.Annotations)+len(t.Data) > 0 || t.Platform != nil { // rare: skip four calls
		target.strings(`"urls":`, t.URLs)
		target.stringMap(`"annotations":`, t.Annotations)
		target.data(`"data":`, t.Data)
		target.platform(`"platform":`, t.Platform)
	}
	target.omitEmpty(`"artifactType":`, t.ArtifactType)
	target.omitZero(`"length":`, t.Length)
	target.omitEmpty(`"repository":`, t.Repository)
	target.omitEmpty(`"fromRepository":`, t.FromRepository)
	target.omitEmpty(`"tag":`, t.Tag)
	target.omitEmpty(`"url":`, t.URL)
	if len(t.References) > 0 {
		target.key(`"references":`)
		out.byte('[')
		for i := range t.References {
			if i > 0 {
				out.byte(',')
			}
			writeDescriptor(out, &t.References[i])
		}
		out.byte(']')
	}
	target.end()

	w.key(`"request":`)
	request := beginObject(out)
	request.field(`"id":`, e.Request.ID)
	request.omitEmpty(`"addr":`, e.Request.Addr)
	request.omitEmpty(`"host":`, e.Request.Host)
	request.field(`"method":`, e.Request.Method)
	request.field(`"useragent":`, e.Request.UserAgent)
	request.end()

	w.key(`"actor":`)
	actor := beginObject(out)
	actor.omitEmpty(`"name":`, e.Actor.Name)
	actor.end()

	w.key(`"source":`)
	source := beginObject(out)
	source.omitEmpty(`"addr":`, e.Source.Addr)
	source.omitEmpty(`"instanceID":`, e.Source.InstanceID)
	source.end()
	w.end()
}

// appendEvent appends the JSON of e, or reports false for an event it cannot
// encode as encoding/json would (a timestamp it refuses).
func appendEvent(dst []byte, e *Event) ([]byte, bool) {
	if !timeEncodable(e.Timestamp) {
		return dst, false
	}
	out := jsonOut{b: dst}
	writeEvent(&out, e)
	return out.b, true
}

// appendEnvelope appends the JSON of Envelope{Events: events} to dst. For
// an event it cannot encode itself it falls back to encoding/json, and
// returns its error.
func appendEnvelope(dst []byte, events []Event) ([]byte, error) {
	if len(events) == 0 {
		return append(dst, "{}"...), nil
	}
	start := len(dst)
	dst, err := appendEventArray(append(dst, `{"events":`...), events)
	if err != nil {
		return dst[:start], err
	}
	return append(dst, '}'), nil
}

// appendEnvelopeJSON appends the JSON of the envelope of events whose
// JSON objects are eventJSON (what appendEvent writes for each): the bytes
// appendEnvelope would write, spliced instead of encoded.
func appendEnvelopeJSON(dst []byte, eventJSON [][]byte) []byte {
	if len(eventJSON) == 0 {
		return append(dst, "{}"...)
	}
	dst = slices.Grow(dst, splicedEnvelopeSize(eventJSON))
	dst = append(dst, envelopePrefix...)
	for i, js := range eventJSON {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, js...)
	}
	return append(dst, envelopeSuffix...)
}

// EncodeEvents returns the JSON object of each event, byte for byte as
// json.Marshal writes it, which is what an envelope carries for it: the
// input WriteEncoded and EncodeJSON expect. The objects share one buffer.
// It fails only for an event encoding/json cannot encode (a timestamp
// outside the years 0-9999, or in a zone a day or more from UTC).
func EncodeEvents(events []Event) ([][]byte, error) {
	// Encoded in a scratch buffer, then copied into one of the right size:
	// two allocations, and none grown.
	sc := takeEncodeScratch()
	defer sc.give()
	var err error
	if sc.buf, sc.ends, err = appendEventObjects(sc.buf[:0], sc.ends[:0], events); err != nil {
		return nil, err
	}
	return splitObjects(make([][]byte, 0, len(events)), bytes.Clone(sc.buf), sc.ends), nil
}

// appendEventObjects appends the JSON object of each event to buf, as
// EncodeEvents writes them, and where each ends to ends.
func appendEventObjects(buf []byte, ends []int, events []Event) ([]byte, []int, error) {
	for i := range events {
		start := len(buf)
		var ok bool
		if buf, ok = appendEvent(buf, &events[i]); !ok {
			js, err := json.Marshal(&events[i])
			if err != nil {
				return buf[:start], ends, err
			}
			buf = append(buf[:start], js...)
		}
		ends = append(ends, len(buf))
	}
	return buf, ends, nil
}

// splitObjects appends to items the objects of buf that end at ends.
func splitObjects(items [][]byte, buf []byte, ends []int) [][]byte {
	start := 0
	for _, end := range ends {
		items = append(items, buf[start:end:end])
		start = end
	}
	return items
}

// appendEventArray appends the JSON array of events to dst, as json.Marshal
// would write it.
func appendEventArray(dst []byte, events []Event) ([]byte, error) {
	start := len(dst)
	dst = append(dst, '[')
	for i := range events {
		if i > 0 {
			dst = append(dst, ',')
		}
		var ok bool
		if dst, ok = appendEvent(dst, &events[i]); !ok {
			body, err := json.Marshal(events)
			if err != nil {
				return dst[:start], err
			}
			return append(dst[:start], body...), nil
		}
	}
	return append(dst, ']'), nil
}

// jsonStringLen returns the length of appendJSONString(nil, s).
func jsonStringLen(s string) int {
	n := len(s) + 2
	for i := safePrefix(s); i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if !jsonSafe[b] {
				switch b {
				case '\\', '"', '\b', '\f', '\n', '\r', '\t':
					n++
				default:
					n += 5
				}
			}
			i++
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			n += 5 // one byte becomes \ufffd
		case c == '\u2028' || c == '\u2029':
			n += 3 // three bytes become \u202X
		}
		i += size
	}
	return n
}

// rfc3339NanoLen returns the length of t formatted as time.RFC3339Nano, for
// a time that timeEncodable accepts.
func rfc3339NanoLen(t time.Time) int {
	n := len("2006-01-02T15:04:05")
	if ns := t.Nanosecond(); ns != 0 {
		digits := 9
		for ns%10 == 0 {
			ns /= 10
			digits--
		}
		n += 1 + digits
	}
	if _, offset := t.Zone(); offset == 0 {
		return n + 1 // Z
	}
	return n + len("-07:00")
}

// eventJSONSize returns the length of the JSON of e, as appendEvent (or,
// for a timestamp it refuses, encoding/json) writes it, without writing it.
func eventJSONSize(e *Event) int {
	if !timeEncodable(e.Timestamp) {
		body, _ := json.Marshal(e)
		return len(body)
	}
	out := jsonOut{counting: true}
	writeEvent(&out, e)
	return out.n
}

// encodeScratch is where a spooled push, a Broadcaster's arena and
// EncodeEvents encode events: a few of them are kept between uses, as many
// as run at once, outside the reach of the garbage collector's clearing of
// a sync.Pool, so that a Write neither allocates nor grows a buffer again
// after a collection.
type encodeScratch struct {
	buf   []byte
	ends  []int
	items [][]byte
}

// encodeScratches holds the idle scratch buffers of the process, one a
// slot, each slot on a cache line of its own: Writes on several cores
// take and give scratches without sharing a lock (a channel's was a fifth
// of a spooled Write with four writers).
var encodeScratches [16]struct {
	sc atomic.Pointer[encodeScratch]
	_  [56]byte
}

// maxScratchBytes is the largest buffer kept for the next use.
const maxScratchBytes = 1 << 20

func takeEncodeScratch() *encodeScratch {
	for i := range encodeScratches {
		slot := &encodeScratches[i].sc
		if slot.Load() != nil {
			if sc := slot.Swap(nil); sc != nil {
				return sc
			}
		}
	}
	return &encodeScratch{buf: make([]byte, 0, 4096)}
}

// give returns sc for another use, unless it grew too large to keep.
func (sc *encodeScratch) give() {
	if cap(sc.buf) > maxScratchBytes {
		return
	}
	clear(sc.items) // past its length the array holds nothing: cleared before, or new
	for i := range encodeScratches {
		slot := &encodeScratches[i].sc
		if slot.Load() == nil && slot.CompareAndSwap(nil, sc) {
			return
		}
	}
}
