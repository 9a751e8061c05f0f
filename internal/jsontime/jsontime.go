// Package jsontime says which times JSON can hold as encoding/json writes
// them, for the encoders of the notifications package and the receiver's
// checks of what it decoded, which must agree.
package jsontime

import "time"

// Encodable reports whether encoding/json encodes t as its RFC 3339 form:
// time.Time.MarshalJSON refuses years outside 0-9999 and zone offsets of a
// day or more. Parsers take more (a "+24:00" offset, say), which nothing
// could send on.
func Encodable(t time.Time) bool {
	if y := t.Year(); y < 0 || y > 9999 {
		return false
	}
	_, offset := t.Zone()
	return offset > -24*3600 && offset < 24*3600
}
