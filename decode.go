package notifications

import (
	"encoding/binary"
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"
)

// The event decoder reads back the JSON a spool stored for events written
// with their JSON (a Broadcaster's, a relay's): one event's JSON as
// appendEvent wrote it. Its fast path takes exactly that shape (the known
// keys, string values, objects, no whitespace) and hands anything else to
// encoding/json, so that its result is always json.Unmarshal's
// (decode_test.go fuzzes the two against each other).

// decodeEvent decodes the JSON of one event into e, which must be zero.
func decodeEvent(data []byte, e *Event) error {
	// One string holds every unescaped value: one allocation an event. JSON
	// that is not valid UTF-8 goes to encoding/json, which replaces.
	r := jsonReader{b: data, s: string(data)}
	if utf8.ValidString(r.s) && r.event(e) && r.i == len(data) {
		return nil
	}
	*e = Event{}
	return json.Unmarshal(data, e)
}

// jsonReader reads JSON from b at i. Its methods report false for anything
// the fast path does not take.
type jsonReader struct {
	b []byte
	s string // b, as a string
	i int
}

func (r *jsonReader) lit(c byte) bool {
	if r.i < len(r.b) && r.b[r.i] == c {
		r.i++
		return true
	}
	return false
}

// object reads an object, calling field for each key with r positioned
// at the value, which field must read.
func (r *jsonReader) object(field func(key []byte) bool) bool {
	if !r.lit('{') {
		return false
	}
	if r.lit('}') {
		return true
	}
	for {
		key, ok := r.key()
		if !ok || !field(key) {
			return false
		}
		if !r.lit(',') {
			return r.lit('}')
		}
	}
}

// key reads a key without escapes and its colon.
func (r *jsonReader) key() ([]byte, bool) {
	if !r.lit('"') {
		return nil, false
	}
	start := r.i
	for r.i < len(r.b) && r.b[r.i] != '"' {
		if r.b[r.i] == '\\' || r.b[r.i] < 0x20 {
			return nil, false
		}
		r.i++
	}
	key := r.b[start:r.i]
	return key, r.lit('"') && r.lit(':')
}

// into reads a string into *dst.
func (r *jsonReader) into(dst *string) bool {
	s, ok := r.str()
	*dst = s
	return ok
}

// str reads a string without surrogate escapes. b is valid UTF-8.
func (r *jsonReader) str() (string, bool) {
	if !r.lit('"') {
		return "", false
	}
	start := r.i
	for r.i+8 <= len(r.b) { // eight bytes at a time past plain ones
		v := binary.LittleEndian.Uint64(r.b[r.i:])
		if hasByte(v, '"') || hasByte(v, '\\') || (v-lowBits*0x20)&^v&highBits != 0 {
			break
		}
		r.i += 8
	}
	for r.i < len(r.b) {
		switch c := r.b[r.i]; {
		case c == '"':
			r.i++
			return r.s[start : r.i-1], true
		case c == '\\':
			return r.escaped(append([]byte(nil), r.b[start:r.i]...))
		case c < 0x20:
			return "", false
		}
		r.i++
	}
	return "", false
}

// escaped reads the rest of a string that has escapes, after buf.
func (r *jsonReader) escaped(buf []byte) (string, bool) {
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			r.i++
			return string(buf), true
		case c < 0x20:
			return "", false
		case c != '\\':
			j := r.i
			for j < len(r.b) && r.b[j] != '"' && r.b[j] != '\\' && r.b[j] >= 0x20 {
				j++
			}
			buf = append(buf, r.b[r.i:j]...)
			r.i = j
			continue
		}
		if r.i+1 >= len(r.b) {
			return "", false
		}
		switch e := r.b[r.i+1]; e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			if r.i+6 > len(r.b) {
				return "", false
			}
			v, err := strconv.ParseUint(string(r.b[r.i+2:r.i+6]), 16, 16)
			if err != nil || utf16.IsSurrogate(rune(v)) {
				return "", false
			}
			buf = utf8.AppendRune(buf, rune(v))
			r.i += 4
		default:
			return "", false
		}
		r.i += 2
	}
	return "", false
}

// int64 reads an integer as JSON writes it (no fraction, exponent or
// leading zero) into *dst.
func (r *jsonReader) int64(dst *int64) bool {
	start := r.i
	r.lit('-')
	digits := r.i
	for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
		r.i++
	}
	if r.i == digits || r.b[digits] == '0' && r.i > digits+1 {
		return false
	}
	n, err := strconv.ParseInt(r.s[start:r.i], 10, 64)
	*dst = n
	return err == nil
}

// timestamp reads a string into *t with time.Time's own UnmarshalJSON, as
// encoding/json does.
func (r *jsonReader) timestamp(e *Event) bool {
	start := r.i
	if _, ok := r.str(); !ok {
		return false
	}
	return e.Timestamp.UnmarshalJSON(r.b[start:r.i]) == nil
}

func (r *jsonReader) event(e *Event) bool {
	return r.object(func(key []byte) bool {
		switch string(key) {
		case "id":
			return r.into(&e.ID)
		case "timestamp":
			return r.timestamp(e)
		case "action":
			return r.into(&e.Action)
		case "target":
			return r.object(func(key []byte) bool {
				switch string(key) {
				case "type":
					return r.into(&e.Target.Type)
				case "name":
					return r.into(&e.Target.Name)
				case "mediaType":
					return r.into(&e.Target.MediaType)
				case "size":
					return r.int64(&e.Target.Size)
				case "artifactType":
					return r.into(&e.Target.ArtifactType)
				case "length":
					return r.int64(&e.Target.Length)
				case "repository":
					return r.into(&e.Target.Repository)
				case "fromRepository":
					return r.into(&e.Target.FromRepository)
				case "digest":
					var s string
					ok := r.into(&s)
					e.Target.Digest = digest.Digest(s)
					return ok
				case "tag":
					return r.into(&e.Target.Tag)
				case "url":
					return r.into(&e.Target.URL)
				}
				return false
			})
		case "request":
			return r.object(func(key []byte) bool {
				switch string(key) {
				case "id":
					return r.into(&e.Request.ID)
				case "addr":
					return r.into(&e.Request.Addr)
				case "host":
					return r.into(&e.Request.Host)
				case "method":
					return r.into(&e.Request.Method)
				case "useragent":
					return r.into(&e.Request.UserAgent)
				}
				return false
			})
		case "actor":
			return r.object(func(key []byte) bool {
				return string(key) == "name" && r.into(&e.Actor.Name)
			})
		case "source":
			return r.object(func(key []byte) bool {
				switch string(key) {
				case "addr":
					return r.into(&e.Source.Addr)
				case "instanceID":
					return r.into(&e.Source.InstanceID)
				}
				return false
			})
		}
		return false
	})
}
