package notifications

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// The envelope encoder appends the JSON of an Envelope to a buffer, byte for
// byte as encoding/json writes it (HTML-safe escaping, \ufffd for invalid
// UTF-8, the omitempty rules of the struct tags), without reflection, and
// without allocation for events whose targets carry no annotations. The
// same code measures an event's JSON without writing it. encode_test.go
// checks it against encoding/json.

const hexDigits = "0123456789abcdef"

// jsonSafe[b] is true for the ASCII bytes encoding/json writes unescaped.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if jsonSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// jsonOut is where the encoder writes: appended to b, or, when counting,
// only measured in n. One encoder thus gives both the bytes and their exact
// length.
type jsonOut struct {
	b        []byte
	n        int
	counting bool
}

func (j *jsonOut) raw(s string) {
	if j.counting {
		j.n += len(s)
	} else {
		j.b = append(j.b, s...)
	}
}

func (j *jsonOut) byte(c byte) {
	if j.counting {
		j.n++
	} else {
		j.b = append(j.b, c)
	}
}

func (j *jsonOut) str(s string) {
	if j.counting {
		j.n += jsonStringLen(s)
	} else {
		j.b = appendJSONString(j.b, s)
	}
}

func (j *jsonOut) int(v int64) {
	if j.counting {
		j.n += intLen(v)
	} else {
		j.b = strconv.AppendInt(j.b, v, 10)
	}
}

// bytes writes b as encoding/json does: a standard base64 string.
func (j *jsonOut) bytes(b []byte) {
	if j.counting {
		j.n += base64.StdEncoding.EncodedLen(len(b)) + 2
	} else {
		j.b = append(j.b, '"')
		j.b = base64.StdEncoding.AppendEncode(j.b, b)
		j.b = append(j.b, '"')
	}
}

// time writes t in RFC 3339 with nanoseconds, quoted; t must be one that
// timeEncodable accepts.
func (j *jsonOut) time(t time.Time) {
	if j.counting {
		j.n += rfc3339NanoLen(t) + 2
	} else {
		j.b = append(j.b, '"')
		j.b = t.AppendFormat(j.b, time.RFC3339Nano)
		j.b = append(j.b, '"')
	}
}

// intLen returns the length of v in decimal.
func intLen(v int64) int {
	n := 1
	if v < 0 {
		n++
		if v == math.MinInt64 {
			return len("-9223372036854775808")
		}
		v = -v
	}
	for ; v >= 10; v /= 10 {
		n++
	}
	return n
}

// objectWriter writes the fields of one JSON object, with commas between.
type objectWriter struct {
	out   *jsonOut
	empty bool
}

// beginObject writes "{" and returns the writer of the object's fields;
// end it with end.
func beginObject(out *jsonOut) objectWriter {
	out.byte('{')
	return objectWriter{out: out, empty: true}
}

func (w *objectWriter) end() { w.out.byte('}') }

// key writes the comma before a field if one is needed, then key, which
// includes its quotes and colon.
func (w *objectWriter) key(key string) {
	if !w.empty {
		w.out.byte(',')
	}
	w.empty = false
	w.out.raw(key)
}

// field writes "key":"value".
func (w *objectWriter) field(key, value string) {
	w.key(key)
	w.out.str(value)
}

// omitEmpty writes the field unless value is empty.
func (w *objectWriter) omitEmpty(key, value string) {
	if value != "" {
		w.field(key, value)
	}
}

// omitZero writes the number field unless v is 0.
func (w *objectWriter) omitZero(key string, v int64) {
	if v != 0 {
		w.key(key)
		w.out.int(v)
	}
}

// strings writes the array field unless it is empty.
func (w *objectWriter) strings(key string, values []string) {
	if len(values) == 0 {
		return
	}
	w.key(key)
	w.out.byte('[')
	for i, v := range values {
		if i > 0 {
			w.out.byte(',')
		}
		w.out.str(v)
	}
	w.out.byte(']')
}

// stringMap writes the object field, keys sorted as encoding/json sorts
// them, unless it is empty.
func (w *objectWriter) stringMap(key string, m map[string]string) {
	if len(m) == 0 {
		return
	}
	w.key(key)
	obj := beginObject(w.out)
	for _, k := range slices.Sorted(maps.Keys(m)) {
		obj.key("")
		obj.out.str(k)
		obj.out.byte(':')
		obj.out.str(m[k])
	}
	obj.end()
}

// data writes the base64 field unless b is empty.
func (w *objectWriter) data(key string, b []byte) {
	if len(b) > 0 {
		w.key(key)
		w.out.bytes(b)
	}
}

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
// form (time.Time.MarshalJSON refuses years outside 0-9999 and zone offsets
// of a day or more).
func timeEncodable(t time.Time) bool {
	if y := t.Year(); y < 0 || y > 9999 {
		return false
	}
	_, offset := t.Zone()
	return offset > -24*3600 && offset < 24*3600
}

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
	for i := 0; i < len(s); {
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
