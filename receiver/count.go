package receiver

import (
	"encoding/json"
	"fmt"

	"github.com/regnotify/notifications"
)

// MaxEvents is the most events a request may carry: a request with more is
// answered 413, which a regnotify endpoint takes as a sign to send smaller
// batches. Its default MaxBatch is 1,000. The cap bounds the memory a
// request costs: an event of a few bytes of JSON ({"id":"a"}) takes
// hundreds in memory once decoded.
const MaxEvents = 10_000

// ErrTooManyEvents is wrapped by Decode's error for a request of more than
// MaxEvents events, answered with 413.
var ErrTooManyEvents = fmt.Errorf("more than %d events in one request", MaxEvents)

// countElements returns how many elements data, a valid JSON array, holds,
// or limit+1 once it is over limit. It reads no further than it must and
// allocates nothing: the cap is checked before anything is decoded. Data
// that is not an array counts 0.
func countElements(data []byte, limit int) int {
	i := 0
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	if i == len(data) || data[i] != '[' {
		return 0
	}
	depth, commas, any := 1, 0, false
	inString, escaped := false, false
	for _, c := range data[i+1:] {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		if isSpace(c) {
			continue
		}
		if c == ']' && depth == 1 {
			break
		}
		any = true
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
		case ']', '}':
			depth--
		case ',':
			if depth == 1 {
				if commas++; commas >= limit {
					return limit + 1
				}
			}
		}
	}
	if !any {
		return 0
	}
	return commas + 1
}

// isSpace reports whether c is JSON whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// envelopeEvents is an envelope's list of events, refused past MaxEvents
// before any of them is decoded.
type envelopeEvents []notifications.Event

// UnmarshalJSON implements json.Unmarshaler; data is valid JSON (Unmarshal
// checks the whole body first).
func (e *envelopeEvents) UnmarshalJSON(data []byte) error {
	if countElements(data, MaxEvents) > MaxEvents {
		return ErrTooManyEvents
	}
	return json.Unmarshal(data, (*[]notifications.Event)(e))
}
