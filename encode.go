package notifications

import (
	"encoding/json"
	"time"
	"unicode/utf8"
)

// The envelope encoder appends the JSON of an Envelope to a buffer, byte for
// byte as encoding/json writes it (HTML-safe escaping, \ufffd for invalid
// UTF-8, the omitempty rules of the struct tags), without reflection or
// allocation. encode_test.go checks it against encoding/json.

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

// objectWriter appends the fields of one JSON object, with commas between.
type objectWriter struct {
	dst   []byte
	empty bool
}

func (w *objectWriter) open(key string) {
	if !w.empty {
		w.dst = append(w.dst, ',')
	}
	w.empty = false
	w.dst = append(w.dst, key...)
}

// field appends "key":"value"; key includes its quotes and colon.
func (w *objectWriter) field(key, value string) {
	w.open(key)
	w.dst = appendJSONString(w.dst, value)
}

// omitEmpty appends the field unless value is empty.
func (w *objectWriter) omitEmpty(key, value string) {
	if value != "" {
		w.field(key, value)
	}
}

// object starts a nested object under key and returns its writer; close it
// with endObject.
func (w *objectWriter) object(key string) objectWriter {
	w.open(key)
	return objectWriter{dst: append(w.dst, '{'), empty: true}
}

func (w *objectWriter) endObject(inner objectWriter) {
	w.dst = append(inner.dst, '}')
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

// appendEvent appends the JSON of e, or reports false for an event it cannot
// encode as encoding/json would (a timestamp it refuses).
func appendEvent(dst []byte, e *Event) ([]byte, bool) {
	if !timeEncodable(e.Timestamp) {
		return dst, false
	}
	w := objectWriter{dst: append(dst, '{'), empty: true}
	w.omitEmpty(`"id":`, e.ID)
	w.open(`"timestamp":`)
	w.dst = append(w.dst, '"')
	w.dst = e.Timestamp.AppendFormat(w.dst, time.RFC3339Nano)
	w.dst = append(w.dst, '"')
	w.omitEmpty(`"action":`, e.Action)

	target := w.object(`"target":`)
	target.omitEmpty(`"type":`, e.Target.Type)
	target.omitEmpty(`"name":`, e.Target.Name)
	target.omitEmpty(`"digest":`, string(e.Target.Digest))
	target.omitEmpty(`"tag":`, e.Target.Tag)
	target.omitEmpty(`"url":`, e.Target.URL)
	w.endObject(target)

	request := w.object(`"request":`)
	request.field(`"id":`, e.Request.ID)
	request.omitEmpty(`"addr":`, e.Request.Addr)
	request.omitEmpty(`"host":`, e.Request.Host)
	request.field(`"method":`, e.Request.Method)
	request.field(`"useragent":`, e.Request.UserAgent)
	w.endObject(request)

	actor := w.object(`"actor":`)
	actor.omitEmpty(`"name":`, e.Actor.Name)
	w.endObject(actor)

	source := w.object(`"source":`)
	source.omitEmpty(`"addr":`, e.Source.Addr)
	source.omitEmpty(`"instanceID":`, e.Source.InstanceID)
	w.endObject(source)
	return append(w.dst, '}'), true
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
	n := len(`{"timestamp":"","target":{},"request":{"id":,"method":,"useragent":},"actor":{},"source":{}}`) +
		rfc3339NanoLen(e.Timestamp) +
		jsonStringLen(e.Request.ID) + jsonStringLen(e.Request.Method) + jsonStringLen(e.Request.UserAgent)
	// The commas between the fields always present are in n already; an
	// optional field brings its own.
	optional := func(key, value string, commaBefore bool) int {
		if value == "" {
			return 0
		}
		m := len(key) + jsonStringLen(value)
		if commaBefore {
			m++
		}
		return m
	}
	n += optional(`"id":`, e.ID, true) // the comma goes before "timestamp"
	n += optional(`"action":`, e.Action, true)
	first := true
	for _, f := range [...]struct{ key, value string }{
		{`"type":`, e.Target.Type}, {`"name":`, e.Target.Name}, {`"digest":`, string(e.Target.Digest)},
		{`"tag":`, e.Target.Tag}, {`"url":`, e.Target.URL},
	} {
		if f.value != "" {
			n += optional(f.key, f.value, !first)
			first = false
		}
	}
	n += optional(`"addr":`, e.Request.Addr, true) + optional(`"host":`, e.Request.Host, true)
	n += optional(`"name":`, e.Actor.Name, false)
	n += optional(`"addr":`, e.Source.Addr, false) + optional(`"instanceID":`, e.Source.InstanceID, e.Source.Addr != "")
	return n
}
