package notifications

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// checkURL returns why an endpoint cannot POST to rawURL, or nil. Its errors
// never quote the URL nor any part of it: a user name or password may be
// anywhere in a malformed one.
func checkURL(rawURL string) error {
	u, err := url.Parse(rawURL) // err quotes the URL: not used
	switch {
	case err != nil:
		return errors.New("URL does not parse (percent-encode '#', '/', '?', '@', '%' and spaces in a user name or password)")
	case u.Opaque != "" || !u.IsAbs() || u.Host == "":
		return errors.New("URL is not absolute, such as https://host/path")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("URL scheme is not http or https")
	case u.Hostname() == "":
		return errors.New("URL has no host name")
	case !validPort(u.Port()):
		return errors.New("URL port is not a number from 1 to 65535")
	case strings.Contains(afterAuthority(rawURL), "@"):
		// What url.Parse took for the host, port or path may be the start
		// of a password holding an unescaped '/', '?' or '#'.
		return errors.New("URL has an '@' after its host: percent-encode it as %40 (and '#', '/', '?' in a user name or password)")
	}
	return nil
}

// CheckURL returns why an HTTP endpoint cannot POST to rawURL (OpenEndpoint
// refuses it for this reason), or nil: a URL that does not parse, is not
// absolute http or https, has no host name or a bad port, or an unescaped
// '@' after its host. The error never quotes the URL nor any part of it.
// Configuration readers use it to report a bad URL where it was written.
func CheckURL(rawURL string) error { return checkURL(rawURL) }

// validPort reports whether port, as url.URL.Port returns it, can be
// dialled: empty (the scheme's port) or a number from 1 to 65535.
func validPort(port string) bool {
	if port == "" {
		return true
	}
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && n > 0
}

// afterAuthority returns what follows the authority of rawURL: its path,
// query and fragment, as written.
func afterAuthority(rawURL string) string { return rawURL[authorityEnd(rawURL):] }

// authorityEnd returns where the authority of rawURL ends: at the first
// '/', '?', '#' or backslash after its scheme and "://" (from the start of
// a string that does not begin with a scheme: a "://" further on may be in
// a query), or at its end.
func authorityEnd(rawURL string) int {
	start := 0
	if i := strings.Index(rawURL, "://"); i > 0 && isScheme(rawURL[:i]) {
		start = i + len("://")
	}
	if i := strings.IndexAny(rawURL[start:], "/?#\\"); i >= 0 {
		return start + i
	}
	return len(rawURL)
}

// RedactURL returns rawURL without its user information, as the library
// shows a URL: everything between its scheme and its last '@' is replaced
// by "xxxxx"
// ("https://xxxxx@hooks.example/"). The last '@' ends the user information
// of any URL, however malformed (a password holding '#', '/' or '?', no
// scheme at all, a comma-separated list of URLs), so no part of a user name
// or password remains. A string without '@' has no user information and is
// returned as it is. Path and query are kept (expvar withholds an HTTP
// endpoint's too).
func RedactURL(rawURL string) string {
	at := strings.LastIndexByte(rawURL, '@')
	if at < 0 {
		return rawURL
	}
	start := 0
	if i := strings.Index(rawURL, "://"); i > 0 && i < at && isScheme(rawURL[:i]) {
		start = i + len("://")
	}
	return rawURL[:start] + "xxxxx" + rawURL[at:]
}

// withoutPath returns rawURL with whatever follows its authority (path,
// query, fragment; see authorityEnd) replaced by "/xxxxx", unless that is
// empty or "/".
func withoutPath(rawURL string) string {
	end := authorityEnd(rawURL)
	if rest := rawURL[end:]; rest == "" || rest == "/" {
		return rawURL
	}
	return rawURL[:end] + "/xxxxx"
}

// isScheme reports whether s has the syntax of a URL scheme (RFC 3986, 3.1).
func isScheme(s string) bool {
	for i, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}
