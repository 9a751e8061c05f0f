package notifications

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/sirupsen/logrus"
)

// ErrRedirectNotFollowed is wrapped by the error of a delivery attempt whose
// answer was a redirect the endpoint did not follow: to another scheme, host
// or port, one that would resend the POST as a GET (301, 302, 303), or one
// more than maxRedirects. Such an attempt counts as a failure, under the
// redirect's status, and is retried.
var ErrRedirectNotFollowed = errors.New("notifications: redirect not followed")

// sameOriginRedirects is the endpoint's redirect policy: it follows at most
// maxRedirects redirects, each to the scheme, host and port of the original
// request and keeping its method. At any other redirect it stops, and the
// redirect itself is the answer, which Deliver counts as a failure: configured
// headers and signatures never reach another origin.
func sameOriginRedirects(req *http.Request, via []*http.Request) error {
	first := via[0]
	if len(via) > maxRedirects || !sameOrigin(req.URL, first.URL) || req.Method != first.Method {
		return http.ErrUseLastResponse
	}
	return nil
}

// notFollowed reports whether resp is a redirect that sameOriginRedirects
// refused to follow: the client follows every other one with a Location,
// and returns one without a Location as it is, for the StatusPolicy.
func notFollowed(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return resp.Header.Get("Location") != ""
	}
	return false
}

// badLocationReason is why a redirect whose Location does not parse is not
// followed.
const badLocationReason = "its Location is not a URL"

// badLocation reports whether err, http.Client.Do's without its *url.Error,
// is its refusal of a redirect whose Location does not parse. That error
// quotes the Location, token and all: it is never shown.
func badLocation(err error) bool {
	return strings.HasPrefix(err.Error(), "failed to parse Location header")
}

// redirectNotFollowed logs why resp was not followed and returns it as a
// failed attempt. Neither the log line nor the error holds the Location's
// path or query, which may carry tokens.
func (h *httpDeliverer) redirectNotFollowed(resp *http.Response) Delivery {
	status := fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	to, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
	var reason string
	switch {
	case err != nil: // the client parsed it before: kept in case it stops doing so
		reason = badLocationReason
	case !sameOrigin(to, resp.Request.URL):
		reason = "to another origin, " + origin(to)
	case resp.StatusCode == http.StatusMovedPermanently, resp.StatusCode == http.StatusFound,
		resp.StatusCode == http.StatusSeeOther:
		reason = "it would resend the POST as a GET, without the events"
	default:
		reason = fmt.Sprintf("more than %d redirects", maxRedirects)
	}
	return h.refusedRedirect(status, reason)
}

// refusedRedirect logs that a redirect of status (empty: unknown) was not
// followed, and why, and returns the failed attempt.
func (h *httpDeliverer) refusedRedirect(status, reason string) Delivery {
	log := h.log
	if log == nil {
		log = logrus.StandardLogger()
	}
	fields := logrus.Fields{"reason": reason}
	if status != "" {
		fields["status"] = status
	}
	log.WithFields(fields).Warn("notifications: redirect not followed; configure the endpoint with the final URL")
	return Delivery{
		Outcome: Retry,
		Status:  status,
		Err:     fmt.Errorf("%w (%s)", ErrRedirectNotFollowed, reason),
	}
}

// sameOrigin reports whether a and b have the same scheme, host and port,
// an omitted port standing for the scheme's default.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) &&
		strings.EqualFold(a.Hostname(), b.Hostname()) &&
		effectivePort(a) == effectivePort(b)
}

// effectivePort returns u's port, or the default port of its scheme.
func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}

// origin returns scheme://host[:port] of u, without user, path or query.
func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }
