package jetstream

import "strings"

// msgID returns the Nats-Msg-Id of an event whose ID is id: id itself,
// unless NATS would not carry it as it is. nats.go trims whitespace from
// both ends of a header value and turns CR and LF into spaces, so that
// IDs such as "x" and " x" would share one Nats-Msg-Id, and the stream's
// duplicate window would keep only the first of the two events. Such an
// ID, one with any other control character (which a NATS header value
// should not hold: ADR-4 allows printable ASCII), and one with a '%' are
// percent-encoded instead (each control character, space and '%' as %XX):
// every ID gets a Nats-Msg-Id of its own, and the IDs registries send
// (UUIDs) are used as they are.
func msgID(id string) string {
	if !needsEscape(id) {
		return id
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(id) + 16)
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c == 0x7f || c == '%' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// needsEscape reports whether id has a space at either end or a control
// character, which NATS alters or a header should not hold, or could be the
// escaped form of another ID (it holds a '%'): see msgID. Spaces inside an
// ID are kept by NATS, and need none.
func needsEscape(id string) bool {
	if id == "" {
		return false
	}
	if id[0] == ' ' || id[len(id)-1] == ' ' {
		return true
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < ' ' || c == 0x7f || c == '%' {
			return true
		}
	}
	return false
}
