package manifest

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// signaturesKey is the top-level key under which the pretty signature form
// splices the JWS signatures into the manifest.
const signaturesKey = "signatures"

var (
	// ErrNoSignatures is returned (wrapped) by Payload and Signatures when
	// the manifest carries no signature: Raw is empty, has no "signatures"
	// key, or that key holds null or an empty list.
	ErrNoSignatures = errors.New("manifest: no signatures")

	// ErrMalformedSignature is returned (wrapped) by Payload and Signatures
	// when the "signatures" block cannot be interpreted: it is not a list of
	// signature objects, a protected header is missing or corrupt, its
	// formatLength does not fit Raw, or the signatures disagree on
	// formatLength or formatTail.
	ErrMalformedSignature = errors.New("manifest: malformed signature")
)

// jwsHeader is the unprotected header of one JWS signature.
type jwsHeader struct {
	// JWK is the signer's public key as a JSON Web Key, kept as received.
	JWK json.RawMessage `json:"jwk,omitempty"`
	// Algorithm is the JWS algorithm, e.g. "ES256" or "RS256".
	Algorithm string `json:"alg"`
	// Chain is an optional x509 chain, base64 (standard) DER certificates.
	Chain []string `json:"x5c,omitempty"`
}

// jwsSignature is one element of the "signatures" array, and also the form
// Signatures hands out (the field order and omissions are libtrust's).
type jwsSignature struct {
	Header    jwsHeader `json:"header"`
	Signature string    `json:"signature"`
	Protected string    `json:"protected,omitempty"`
}

// protectedHeader is the decoded protected header of a pretty signature.
type protectedHeader struct {
	FormatLength int    `json:"formatLength"`
	FormatTail   string `json:"formatTail"` // base64url, no padding
	Time         string `json:"time"`       // RFC 3339, UTC
}

// prettySignature is the parsed signature block of a SignedManifest.
type prettySignature struct {
	signatures   []jwsSignature
	kids         []string // declared key ID of each signature's JWK, or ""
	formatLength int
	formatTail   []byte
}

// UnmarshalJSON decodes the manifest fields from b and keeps a copy of b,
// unchanged, in Raw. Signatures are not checked here: Payload and Signatures
// report on them. On error sm is left unchanged.
func (sm *SignedManifest) UnmarshalJSON(b []byte) error {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("manifest: decoding signed manifest: %w", err)
	}
	sm.Manifest = m
	sm.Raw = bytes.Clone(b)
	return nil
}

// MarshalJSON returns a copy of Raw when it is not empty, so that a parsed
// manifest is written back byte for byte with its signatures. Without Raw it
// returns the JSON of the unsigned Manifest alone, which carries no signature.
//
// Note that encoding/json compacts what MarshalJSON returns when the manifest
// is marshalled as part of another value; call MarshalJSON (or use Raw)
// directly to keep the exact signed bytes.
func (sm *SignedManifest) MarshalJSON() ([]byte, error) {
	if len(sm.Raw) > 0 {
		return bytes.Clone(sm.Raw), nil
	}
	return json.Marshal(&sm.Manifest)
}

// Payload returns the signed payload of the manifest: the bytes that the
// signatures cover and whose sha256 is the manifest's digest. It is
// Raw[:formatLength] followed by the decoded formatTail, both taken from the
// signatures' protected headers, exactly as libtrust's ParsePrettySignature
// computed it; it is not a prefix of Raw.
//
// Every signature must carry a protected header, and all of them must agree
// on formatLength and formatTail (their times may differ). Errors wrap
// ErrNoSignatures or ErrMalformedSignature, or the JSON error when Raw is not
// a JSON object. The returned slice never aliases Raw. Payload does not
// verify the signatures themselves.
func (sm *SignedManifest) Payload() ([]byte, error) {
	ps, err := sm.parseSignatures()
	if err != nil {
		return nil, err
	}
	p := make([]byte, 0, ps.formatLength+len(ps.formatTail))
	p = append(p, sm.Raw[:ps.formatLength]...)
	return append(p, ps.formatTail...), nil
}

// Signatures returns the manifest's signatures as opaque blobs, one per
// signature, as libtrust's JSONSignature.Signatures did: each blob is the
// compact JSON object {"header":{"jwk":…,"alg":…},"signature":…,
// "protected":…} of one signature (unknown header fields dropped), sorted by
// the key ID the JWK declares, then by signature. Together with Payload the
// blobs reassemble the signed manifest (libtrust.NewJSONSignature accepts
// them). Signatures fails exactly when Payload does, with the same errors,
// and does not verify the signatures either.
func (sm *SignedManifest) Signatures() ([][]byte, error) {
	ps, err := sm.parseSignatures()
	if err != nil {
		return nil, err
	}
	order := make([]int, len(ps.signatures))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(
			cmp.Compare(ps.kids[a], ps.kids[b]),
			cmp.Compare(ps.signatures[a].Signature, ps.signatures[b].Signature),
		)
	})
	blobs := make([][]byte, 0, len(order))
	for _, i := range order {
		blob, err := json.Marshal(ps.signatures[i])
		if err != nil {
			return nil, fmt.Errorf("%w: signature %d: %w", ErrMalformedSignature, i, err)
		}
		blobs = append(blobs, blob)
	}
	return blobs, nil
}

// parseSignatures reads and checks the "signatures" block of Raw and the
// protected header of every signature in it.
func (sm *SignedManifest) parseSignatures() (*prettySignature, error) {
	if len(sm.Raw) == 0 {
		return nil, fmt.Errorf("%w: Raw is empty", ErrNoSignatures)
	}
	// A map, not a struct, so that the key matches exactly (encoding/json
	// matches struct fields case-insensitively), as in libtrust.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(sm.Raw, &top); err != nil {
		return nil, fmt.Errorf("manifest: decoding signed manifest: %w", err)
	}
	block, ok := top[signaturesKey]
	if !ok {
		return nil, fmt.Errorf("%w: no %q key", ErrNoSignatures, signaturesKey)
	}
	var sigs []jwsSignature
	if err := json.Unmarshal(block, &sigs); err != nil {
		return nil, fmt.Errorf("%w: decoding %q: %w", ErrMalformedSignature, signaturesKey, err)
	}
	if len(sigs) == 0 {
		return nil, fmt.Errorf("%w: %q is empty", ErrNoSignatures, signaturesKey)
	}

	ps := &prettySignature{signatures: sigs, kids: make([]string, len(sigs))}
	for i := range sigs {
		sig := &sigs[i]
		kid, err := declaredKeyID(sig.Header.JWK)
		if err != nil {
			return nil, fmt.Errorf("%w: signature %d: %w", ErrMalformedSignature, i, err)
		}
		if kid == nil {
			sig.Header.JWK = nil // "jwk": null, treated as absent
		} else {
			ps.kids[i] = *kid
		}

		length, tail, err := parseProtected(sig.Protected)
		if err != nil {
			return nil, fmt.Errorf("%w: signature %d: %w", ErrMalformedSignature, i, err)
		}
		if i == 0 {
			ps.formatLength, ps.formatTail = length, tail
			continue
		}
		if length != ps.formatLength {
			return nil, fmt.Errorf("%w: signature %d: formatLength %d conflicts with %d in signature 0",
				ErrMalformedSignature, i, length, ps.formatLength)
		}
		if !bytes.Equal(tail, ps.formatTail) {
			return nil, fmt.Errorf("%w: signature %d: formatTail %q conflicts with %q in signature 0",
				ErrMalformedSignature, i, tail, ps.formatTail)
		}
	}
	if ps.formatLength < 0 || ps.formatLength > len(sm.Raw) {
		return nil, fmt.Errorf("%w: formatLength %d outside the %d bytes of the manifest",
			ErrMalformedSignature, ps.formatLength, len(sm.Raw))
	}
	return ps, nil
}

// declaredKeyID returns the "kid" of a JWK, "" when it has none, and nil when
// the JWK is absent or null. A JWK that is not a JSON object is an error.
func declaredKeyID(jwk json.RawMessage) (*string, error) {
	if len(jwk) == 0 || string(jwk) == "null" {
		return nil, nil
	}
	var key map[string]json.RawMessage
	if err := json.Unmarshal(jwk, &key); err != nil {
		return nil, fmt.Errorf("jwk: %w", err)
	}
	kid := ""
	if raw, ok := key["kid"]; ok {
		if err := json.Unmarshal(raw, &kid); err != nil {
			return nil, fmt.Errorf("jwk kid: %w", err)
		}
	}
	return &kid, nil
}

// parseProtected decodes a protected header and returns its formatLength and
// decoded formatTail. Both fields are required; "time" is not checked.
func parseProtected(protected string) (int, []byte, error) {
	if protected == "" {
		return 0, nil, errors.New("missing protected header")
	}
	b, err := decodeBase64URL(protected)
	if err != nil {
		return 0, nil, fmt.Errorf("protected header: %w", err)
	}
	var fields map[string]json.RawMessage // exact key match, as in libtrust
	if err := json.Unmarshal(b, &fields); err != nil {
		return 0, nil, fmt.Errorf("protected header: %w", err)
	}

	var length int
	if err := decodeField(fields, "formatLength", &length); err != nil {
		return 0, nil, err
	}
	var encodedTail string
	if err := decodeField(fields, "formatTail", &encodedTail); err != nil {
		return 0, nil, err
	}
	tail, err := decodeBase64URL(encodedTail)
	if err != nil {
		return 0, nil, fmt.Errorf("protected header formatTail: %w", err)
	}
	return length, tail, nil
}

// decodeField decodes the required, non-null field name of a protected
// header into v.
func decodeField(fields map[string]json.RawMessage, name string, v any) error {
	raw, ok := fields[name]
	if !ok || string(raw) == "null" {
		return fmt.Errorf("protected header: missing %s", name)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("protected header %s: %w", name, err)
	}
	return nil
}

// decodeBase64URL decodes base64url with or without padding, accepting what
// libtrust's joseBase64UrlDecode accepts (it also drops spaces and newlines).
func decodeBase64URL(s string) ([]byte, error) {
	s = strings.NewReplacer("\n", "", " ", "").Replace(s)
	switch len(s) % 4 {
	case 0:
	case 2:
		s += "=="
	case 3:
		s += "="
	default:
		return nil, fmt.Errorf("illegal base64url length %d", len(s))
	}
	return base64.URLEncoding.DecodeString(s)
}

// encodeBase64URL encodes b as base64url without padding, as JOSE requires.
func encodeBase64URL(b []byte) string {
	return base64.RawURLEncoding.EncodeToString(b)
}
