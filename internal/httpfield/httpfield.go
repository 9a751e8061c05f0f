// Package httpfield holds net/http's rules for what a request's header
// fields may hold, which the endpoint's configuration and the relay's
// check before they use a header: a field net/http refuses makes every
// request fail.
package httpfield

// InvalidNameByte returns the index of the first byte of name that an HTTP
// token (RFC 9110 section 5.6.2), which net/http requires of a header
// name, cannot hold: 0 for an empty name, -1 when name is a token.
func InvalidNameByte(name string) int {
	if name == "" {
		return 0
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case isTokenPunct(c):
		default:
			return i
		}
	}
	return -1
}

// isTokenPunct reports whether c is one of the punctuation characters an
// HTTP token may hold.
func isTokenPunct(c byte) bool {
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// ValidValue reports whether net/http sends v as a header value: no
// control character but for a tab.
func ValidValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
