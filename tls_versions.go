package notifications

import (
	"crypto/tls"
	"fmt"
	"net/http"
)

// checkTLSVersions returns an error when t's TLS configuration leaves no
// version to speak: a MaxVersion below the MinVersion (TLS 1.2 when unset,
// crypto/tls's default for clients). Every https request would fail with
// "tls: no supported versions satisfy MinVersion and MaxVersion".
func checkTLSVersions(t *http.Transport) error {
	if t == nil || t.TLSClientConfig == nil || t.TLSClientConfig.MaxVersion == 0 {
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
