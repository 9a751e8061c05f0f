package receiver

import (
	"fmt"
	"net/http"
	"time"

	"github.com/regnotify/notifications/internal/stdwebhooks"
)

// Errors of Verifier.Verify and NewVerifier. Their messages never contain a
// secret or a signature.
var (
	// ErrMissingHeader: webhook-id, webhook-timestamp or webhook-signature
	// is absent or empty.
	ErrMissingHeader = stdwebhooks.ErrMissingHeader

	// ErrTimestamp: webhook-timestamp is not Unix seconds or is further
	// from now than the tolerance (a replay, or a skewed clock).
	ErrTimestamp = stdwebhooks.ErrBadTimestamp

	// ErrSignatureMismatch: no "v1," entry of webhook-signature is the
	// signature of the request by one of the secrets.
	ErrSignatureMismatch = stdwebhooks.ErrNoMatch

	// ErrMalformedSecret: a secret is not "whsec_" and the standard base64
	// of 24 to 64 bytes.
	ErrMalformedSecret = stdwebhooks.ErrMalformedSecret
)

// A Verifier checks Standard Webhooks signatures: HMAC-SHA256 by one of its
// secrets over webhook-id + "." + webhook-timestamp + "." + body, compared in
// constant time, with a timestamp within its tolerance. It is safe for
// concurrent use. The handler of New uses one; applications that receive
// requests their own way can call Verify directly.
type Verifier struct {
	keys      [][]byte
	tolerance time.Duration
}

// NewVerifier returns a verifier for secrets, or nil and no error when
// secrets is empty (there is nothing to verify). tolerance defaults to
// DefaultTolerance when zero or negative. An error wrapping
// ErrMalformedSecret names a malformed secret by its index.
func NewVerifier(secrets []string, tolerance time.Duration) (*Verifier, error) {
	if len(secrets) == 0 {
		return nil, nil
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	v := &Verifier{tolerance: tolerance}
	for i, secret := range secrets {
		key, err := stdwebhooks.ParseSecret(secret)
		if err != nil {
			return nil, fmt.Errorf("secret %d: %w", i, err)
		}
		v.keys = append(v.keys, key)
	}
	return v, nil
}

// Verify returns nil when header carries a valid signature of body by one of
// the verifier's secrets, with a timestamp within the tolerance of now;
// otherwise an error wrapping ErrMissingHeader, ErrTimestamp or
// ErrSignatureMismatch. Signature entries of versions other than v1 are
// ignored.
func (v *Verifier) Verify(header http.Header, body []byte, now time.Time) error {
	return stdwebhooks.Verify(header, v.keys, body, now, v.tolerance)
}

// checkHeaders is the part of Verify that needs no body.
func (v *Verifier) checkHeaders(header http.Header, now time.Time) error {
	return stdwebhooks.CheckHeaders(header, now, v.tolerance)
}
