package notifications

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// checkTLSVersions returns an error when an endpoint to endpointURL would
// speak TLS with t's TLSClientConfig and that leaves no version to speak: a
// MaxVersion below the MinVersion (TLS 1.2 when unset, crypto/tls's
// default for clients). Every request would fail with "tls: no supported
// versions satisfy MinVersion and MaxVersion". An http URL, or a transport
// that makes its TLS connections itself (DialTLSContext, DialTLS), does not
// use the configuration.
func checkTLSVersions(endpointURL string, t *http.Transport) error {
	if t == nil || t.TLSClientConfig == nil || t.TLSClientConfig.MaxVersion == 0 || t.DialTLSContext != nil || t.DialTLS != nil { // DialTLS: deprecated
		return nil
	}
	if u, err := url.Parse(endpointURL); err != nil || !strings.EqualFold(u.Scheme, "https") {
		return nil
	}
	c := t.TLSClientConfig
	least := c.MinVersion
	if least == 0 {
		least = tls.VersionTLS12
	}
	if c.MaxVersion < least {
		return fmt.Errorf("Transport.TLSClientConfig.MaxVersion %s is below its MinVersion %s: no TLS version is left (MinVersion defaults to TLS 1.2)",
			tls.VersionName(c.MaxVersion), tls.VersionName(least))
	}
	return nil
}
