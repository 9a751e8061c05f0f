package manifest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// prettyIndent is the indentation of the signed manifest JSON, as libtrust
// and the registries of the era wrote it.
const prettyIndent = "   "

// ecJWK is the JSON Web Key of a P-256 public key, fields in libtrust's
// (alphabetical) order.
type ecJWK struct {
	Crv string `json:"crv"`
	Kid string `json:"kid"`
	Kty string `json:"kty"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// Sign signs m with key and returns the signed manifest in the JWS "pretty
// signature" form libtrust produced: m marshalled with json.MarshalIndent and
// a three-space indent, with a "signatures" list of one ES256 signature
// spliced in before the closing brace. The signature's header carries the
// public key as a JWK whose "kid" is the libtrust key ID, and its protected
// header records formatLength, formatTail and the signing time (UTC).
//
// The result is what UnmarshalJSON makes of its Raw, so its Manifest is a
// copy of m and its Payload is exactly the signed payload. libtrust's
// ParsePrettySignature and Verify accept it. Only P-256 keys are supported;
// any other key, a nil key or a nil manifest is an error.
func Sign(m *Manifest, key *ecdsa.PrivateKey) (*SignedManifest, error) {
	return signAt(m, key, time.Now())
}

// signAt is Sign with the signing time passed in.
func signAt(m *Manifest, key *ecdsa.PrivateKey, now time.Time) (*SignedManifest, error) {
	if m == nil {
		return nil, errors.New("manifest: sign: nil manifest")
	}
	if key == nil || key.Curve == nil {
		return nil, errors.New("manifest: sign: nil key")
	}
	if key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("manifest: sign: unsupported curve %s, only P-256 is supported", key.Curve.Params().Name)
	}

	jwk, err := publicJWK(&key.PublicKey)
	if err != nil {
		return nil, err
	}

	payload, err := json.MarshalIndent(m, "", prettyIndent)
	if err != nil {
		return nil, fmt.Errorf("manifest: sign: encoding manifest: %w", err)
	}
	// The tail is the final "\n}"; the signatures go in front of it.
	if !bytes.HasSuffix(payload, []byte("\n}")) {
		return nil, fmt.Errorf("manifest: sign: unexpected manifest encoding ending %q", payload[max(0, len(payload)-2):])
	}
	formatLength := len(payload) - 2

	protectedJSON, err := json.Marshal(protectedHeader{
		FormatLength: formatLength,
		FormatTail:   encodeBase64URL(payload[formatLength:]),
		Time:         now.UTC().Format(time.RFC3339),
	})
	if err != nil {
		return nil, fmt.Errorf("manifest: sign: encoding protected header: %w", err)
	}
	protected := encodeBase64URL(protectedJSON)

	sig, err := signES256(key, protected+"."+encodeBase64URL(payload))
	if err != nil {
		return nil, err
	}

	block, err := json.MarshalIndent([]jwsSignature{{
		Header:    jwsHeader{JWK: jwk, Algorithm: "ES256"},
		Signature: encodeBase64URL(sig),
		Protected: protected,
	}}, prettyIndent, prettyIndent)
	if err != nil {
		return nil, fmt.Errorf("manifest: sign: encoding signatures: %w", err)
	}

	var raw bytes.Buffer
	raw.Grow(formatLength + len(block) + 32)
	raw.Write(payload[:formatLength])
	raw.WriteString(",\n" + prettyIndent + `"` + signaturesKey + `": `)
	raw.Write(block)
	raw.WriteString("\n}")

	sm := new(SignedManifest)
	if err := sm.UnmarshalJSON(raw.Bytes()); err != nil {
		return nil, fmt.Errorf("manifest: sign: %w", err)
	}
	return sm, nil
}

// signES256 signs input with key as JWS ES256 does: ECDSA over the SHA-256
// of input, the signature being r and s as 32-byte big-endian numbers, r
// first.
func signES256(key *ecdsa.PrivateKey, input string) ([]byte, error) {
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		return nil, fmt.Errorf("manifest: sign: %w", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return sig, nil
}

// publicJWK returns the JWK of a P-256 public key, with its libtrust key ID.
func publicJWK(pub *ecdsa.PublicKey) (json.RawMessage, error) {
	point, err := pub.Bytes() // 0x04 || x || y, 32 bytes each for P-256
	if err != nil {
		return nil, fmt.Errorf("manifest: sign: public key: %w", err)
	}
	if len(point) != 65 {
		return nil, fmt.Errorf("manifest: sign: public key point of %d bytes, want 65", len(point))
	}
	kid, err := keyID(pub)
	if err != nil {
		return nil, err
	}
	return json.Marshal(ecJWK{
		Crv: "P-256",
		Kid: kid,
		Kty: "EC",
		X:   encodeBase64URL(point[1:33]),
		Y:   encodeBase64URL(point[33:]),
	})
}

// keyID returns the libtrust key ID of pub: the SHA-256 of its DER (PKIX)
// encoding truncated to 240 bits, base32 encoded, in twelve groups of four
// characters separated by colons.
func keyID(pub any) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("manifest: key ID: %w", err)
	}
	sum := sha256.Sum256(der)
	s := base32.StdEncoding.EncodeToString(sum[:30]) // 240 bits: 48 characters, no padding
	groups := make([]string, 0, len(s)/4)
	for i := 0; i < len(s); i += 4 {
		groups = append(groups, s[i:i+4])
	}
	return strings.Join(groups, ":"), nil
}
