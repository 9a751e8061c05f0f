package notifications

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/regnotify/notifications/internal/httpfield"
)

// checkHeaders returns an error naming a header of h that net/http refuses
// to send: a name that is not an HTTP token, a value with a control
// character other than a tab (a line break, say), or a connection header
// HTTP/2 refuses (see checkConnectionHeader). Every request of the
// endpoint would fail with it. The error never quotes a value, nor a name
// past its first invalid byte (a token pasted as a name, with its header).
func checkHeaders(h http.Header) error {
	for name, values := range h {
		if err := checkHeader(name, values); err != nil {
			return err
		}
	}
	return nil
}

// checkHeader is checkHeaders for one header.
func checkHeader(name string, values []string) error {
	switch i := httpfield.InvalidNameByte(name); {
	case name == "":
		return errors.New("empty header name")
	case i == 0:
		return errors.New("header name is not an HTTP token (its first byte cannot be in one)")
	case i > 0:
		return fmt.Errorf("header name beginning %q is not an HTTP token (byte %d cannot be in one)", name[:i], i+1)
	}
	for _, v := range values {
		if !httpfield.ValidValue(v) {
			return fmt.Errorf("header %q has a value with a control character", name)
		}
	}
	return checkConnectionHeader(name, values)
}

// checkConnectionHeader refuses the values of the headers that manage a
// connection which net/http's HTTP/2 transport refuses to send, and quotes
// in its error (checkConnHeaders): a Connection other than close or
// keep-alive, an Upgrade, a Transfer-Encoding other than chunked. Over
// HTTPS, where HTTP/2 is negotiated, every request would fail with them.
func checkConnectionHeader(name string, values []string) error {
	// one reports whether values is at most one value, empty or among
	// allowed: compared as net/http does, Connection's without regard to
	// case, the others exactly.
	one := func(equal func(a, b string) bool, allowed ...string) bool {
		return len(values) == 0 || len(values) == 1 && (values[0] == "" || slices.ContainsFunc(allowed, func(a string) bool { return equal(values[0], a) }))
	}
	exactly := func(a, b string) bool { return a == b }
	switch http.CanonicalHeaderKey(name) {
	case "Connection":
		if !one(strings.EqualFold, "close", "keep-alive") {
			return errors.New(`header "Connection" may only be close or keep-alive: HTTP/2 refuses other values`)
		}
	case "Upgrade":
		if !one(exactly, "chunked") { // what net/http lets through
			return errors.New(`header "Upgrade" cannot be sent: HTTP/2 refuses it`)
		}
	case "Transfer-Encoding":
		if !one(exactly, "chunked") {
			return errors.New(`header "Transfer-Encoding" may only be chunked: HTTP/2 refuses other values`)
		}
	}
	return nil
}

// usableHeaders returns h without the headers checkHeaders refuses (h
// itself when there are none), and why each was left out: what NewEndpoint
// sends when its configuration has some.
func usableHeaders(h http.Header) (http.Header, []error) {
	if checkHeaders(h) == nil {
		return h, nil
	}
	usable := make(http.Header, len(h))
	var left []error
	for name, values := range h {
		if err := checkHeader(name, values); err != nil {
			left = append(left, err)
			continue
		}
		usable[name] = values
	}
	return usable, left
}
