package notifications

import (
	"encoding/base64"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// The writers the hand-written JSON encoders (encode.go, cloudevents.go)
// share: strings escaped as encoding/json escapes them, numbers, base64,
// RFC 3339 times, and objects with the omitempty rules of struct tags. Each
// writes into a jsonOut, which appends or only counts.

const hexDigits = "0123456789abcdef"

// jsonSafe[b] is true for the ASCII bytes encoding/json writes unescaped.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// Eight bytes at a time: masks for the tests of safePrefix.
const (
	lowBits  = 0x0101010101010101
	highBits = 0x8080808080808080
)

// hasByte reports whether a byte of v is c.
func hasByte(v uint64, c byte) bool {
	x := v ^ (lowBits * uint64(c))
	return (x-lowBits)&^x&highBits != 0
}

// safePrefix returns the length of the longest prefix of s that
// encoding/json writes as it is: printable ASCII but for '"', '\\', '<',
// '>' and '&'. It tests eight bytes at a time.
func safePrefix(s string) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		v := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if v&highBits != 0 || // a byte of 0x80 or more
			(v-lowBits*0x20)&^v&highBits != 0 || // a control byte
			hasByte(v, '"') || hasByte(v, '\\') || hasByte(v, '<') || hasByte(v, '>') || hasByte(v, '&') {
			break
		}
	}
	for i < len(s) && s[i] < utf8.RuneSelf && jsonSafe[s[i]] {
		i++
	}
	return i
}

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	i := safePrefix(s)
	if i == len(s) {
		dst = append(dst, s...)
		return append(dst, '"')
	}
	start := 0
	for i < len(s) {
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
