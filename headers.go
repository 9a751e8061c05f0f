package notifications

import (
	"fmt"
	"net/http"
)

// checkHeaders returns an error naming the first header of h that net/http
// refuses to send: a name that is not an HTTP token, or a value with a
// control character other than a tab (a line break, say). Every request
// of the endpoint would fail with it. The error never quotes a value.
func checkHeaders(h http.Header) error {
	for name, values := range h {
		if !validHeaderName(name) {
			return fmt.Errorf("header name %q is not an HTTP token", name)
		}
		for _, v := range values {
			if !validHeaderValue(v) {
				return fmt.Errorf("header %q has a value with a control character", name)
			}
		}
	}
	return nil
}

// usableHeaders returns h without the headers checkHeaders refuses (h
// itself when there are none): what NewEndpoint sends when its
// configuration has some.
func usableHeaders(h http.Header) http.Header {
	if checkHeaders(h) == nil {
		return h
	}
	usable := make(http.Header, len(h))
	for name, values := range h {
		if checkHeaders(http.Header{name: values}) == nil {
			usable[name] = values
		}
	}
	return usable
}

// validHeaderName reports whether name is an HTTP token (RFC 9110 section
// 5.1), as net/http requires of a header name.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case isTokenPunct(c):
		default:
			return false
		}
	}
	return true
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

// validHeaderValue reports whether net/http sends v as a header value: no
// control character but for a tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
