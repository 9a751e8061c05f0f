package notifications

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"time"

	"github.com/regnotify/notifications/internal/stdwebhooks"
)

// signer adds the Standard Webhooks headers (webhook-id, webhook-timestamp,
// webhook-signature) to each delivery attempt of an HTTP endpoint configured
// with SigningSecrets. The signature header has one "v1," entry per usable
// secret, in the configured order, so that a receiver can rotate keys.
type signer struct {
	keys [][]byte
	now  func() time.Time
}

// newSigner returns a signer for the well-formed secrets among secrets, or
// nil when there is none. Malformed secrets are skipped here: OpenEndpoint
// refuses them, and NewEndpoint logs them (see validateSigningSecrets).
func newSigner(secrets []string) *signer {
	var keys [][]byte
	for _, secret := range secrets {
		if key, err := stdwebhooks.ParseSecret(secret); err == nil {
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	return &signer{keys: keys, now: time.Now}
}

// sign sets the signature headers of one attempt to deliver events as body.
// The timestamp is the time of the attempt; the ID is messageID's.
func (s *signer) sign(h http.Header, events []Event, body []byte) {
	stdwebhooks.Sign(h, s.keys, messageID(events, body), s.now(), body)
}

// messageID returns the webhook-id of the envelope of events: "msg_" and the
// base64url of the first 18 bytes of a SHA-256 over the events' IDs, in order.
// It depends only on which events the envelope carries, so it is the same for
// every retry of the envelope, and for the same batch sent again after a
// restart. When an event has no ID the body itself is hashed instead, so that
// envelopes with different content never share an ID.
func messageID(events []Event, body []byte) string {
	h := sha256.New()
	useIDs := len(events) > 0
	for _, e := range events {
		if e.ID == "" {
			useIDs = false
			break
		}
	}
	if useIDs {
		h.Write([]byte("regnotify event ids\x00"))
		var n [binary.MaxVarintLen64]byte
		for _, e := range events {
			h.Write(n[:binary.PutUvarint(n[:], uint64(len(e.ID)))])
			h.Write([]byte(e.ID))
		}
	} else {
		h.Write([]byte("regnotify body\x00"))
		h.Write(body)
	}
	return "msg_" + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18])
}

// validateSigningSecrets reports the first malformed secret by its index,
// never by its value.
func validateSigningSecrets(name string, secrets []string) error {
	for i, secret := range secrets {
		if _, err := stdwebhooks.ParseSecret(secret); err != nil {
			return fmt.Errorf("%w: endpoint %q: SigningSecrets[%d]: %w", ErrInvalidConfig, name, i, err)
		}
	}
	return nil
}
