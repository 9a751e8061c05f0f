package notifications

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/regnotify/notifications/internal/httpfield"
)

// checkHeaders returns an error naming a header of h that net/http refuses
// to send: a name that is not an HTTP token, or a value with a control
// character other than a tab (a line break, say). Every request of the
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
