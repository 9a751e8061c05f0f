// Package stdwebhooks holds the Standard Webhooks signature scheme
// (https://www.standardwebhooks.com/) that both ends of regnotify share: the
// secrets, the three headers and the HMAC-SHA256 signature over
// "id.timestamp.body".
//
// Nothing in this package puts a secret or a signature into an error
// message.
package stdwebhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a signed request.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

const (
	// SecretPrefix starts every secret; base64 (standard alphabet) of the key
	// bytes follows.
	SecretPrefix = "whsec_"

	// MinSecretBytes and MaxSecretBytes bound the length of a decoded key.
	MinSecretBytes = 24
	MaxSecretBytes = 64

	// signatureVersion prefixes each HMAC-SHA256 entry of the signature
	// header.
	signatureVersion = "v1,"
)

// ErrMalformedSecret is wrapped by ParseSecret's errors.
var ErrMalformedSecret = errors.New("malformed signing secret")

// Verification errors, wrapped with a detail that never quotes a secret.
var (
	// ErrMissingHeader: one of the three headers is absent or empty.
	ErrMissingHeader = errors.New("missing signature header")

	// ErrBadTimestamp: webhook-timestamp is not an integer or lies outside
	// the tolerance.
	ErrBadTimestamp = errors.New("signature timestamp not acceptable")

	// ErrNoMatch: no v1 entry of webhook-signature matches any key.
	ErrNoMatch = errors.New("no matching signature")
)

// ParseSecret returns the key bytes of a "whsec_" + base64 secret of
// MinSecretBytes to MaxSecretBytes bytes. Its errors wrap ErrMalformedSecret
// and never contain the secret.
func ParseSecret(secret string) ([]byte, error) {
	encoded, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: does not start with %q", ErrMalformedSecret, SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, fmt.Errorf("%w: not standard base64 after %q", ErrMalformedSecret, SecretPrefix)
	}
	if len(key) < MinSecretBytes || len(key) > MaxSecretBytes {
		return nil, fmt.Errorf("%w: %d bytes, want %d to %d", ErrMalformedSecret, len(key), MinSecretBytes, MaxSecretBytes)
	}
	return key, nil
}

// mac returns HMAC-SHA256(key, id + "." + timestamp + "." + body).
func mac(key []byte, id, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(timestamp))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Sign sets the three headers on h: id, timestamp (Unix seconds of now) and
// one "v1,<base64 HMAC>" entry per key, space-separated.
func Sign(h http.Header, keys [][]byte, id string, now time.Time, body []byte) {
	timestamp := strconv.FormatInt(now.Unix(), 10)
	entries := make([]string, len(keys))
	for i, key := range keys {
		entries[i] = signatureVersion + base64.StdEncoding.EncodeToString(mac(key, id, timestamp, body))
	}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, timestamp)
	h.Set(HeaderSignature, strings.Join(entries, " "))
}

// CheckHeaders checks what can be checked before the body is read: the three
// headers are present and the timestamp is within tolerance of now.
func CheckHeaders(h http.Header, now time.Time, tolerance time.Duration) error {
	for _, name := range []string{HeaderID, HeaderTimestamp, HeaderSignature} {
		if h.Get(name) == "" {
			return fmt.Errorf("%w: %s", ErrMissingHeader, name)
		}
	}
	ts, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s is not Unix seconds", ErrBadTimestamp, HeaderTimestamp)
	}
	slack := int64(tolerance / time.Second)
	if ts < now.Unix()-slack || ts > now.Unix()+slack {
		return fmt.Errorf("%w: %s is more than %s away from now", ErrBadTimestamp, HeaderTimestamp, tolerance)
	}
	return nil
}

// Verify checks a signed request: CheckHeaders, then that at least one v1
// entry of the signature header is the HMAC of the request under one of keys,
// compared in constant time. Entries of other versions are ignored.
func Verify(h http.Header, keys [][]byte, body []byte, now time.Time, tolerance time.Duration) error {
	if err := CheckHeaders(h, now, tolerance); err != nil {
		return err
	}
	id, timestamp := h.Get(HeaderID), h.Get(HeaderTimestamp)
	expected := make([][]byte, len(keys))
	for i, key := range keys {
		expected[i] = mac(key, id, timestamp, body)
	}
	for _, entry := range strings.Fields(h.Get(HeaderSignature)) {
		encoded, ok := strings.CutPrefix(entry, signatureVersion)
		if !ok {
			continue
		}
		// Strict: one encoding per signature, no spare bits to play with.
		got, err := base64.StdEncoding.Strict().DecodeString(encoded)
		if err != nil || len(got) != sha256.Size {
			continue
		}
		for _, want := range expected {
			if hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return ErrNoMatch
}
