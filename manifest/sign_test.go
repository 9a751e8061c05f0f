package manifest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/docker/libtrust"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newKey(t *testing.T, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	require.NoError(t, err)
	return key
}

// signManifests are the manifests Sign is tried on.
func signManifests(t *testing.T) map[string]*Manifest {
	t.Helper()
	ms := map[string]*Manifest{
		"empty": {},
		"escapes": {
			Versioned: Versioned{SchemaVersion: 1},
			Name:      "a/b", Tag: "t<&>", Architecture: "amd64",
			FSLayers: []FSLayer{{BlobSum: "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"}},
			History:  []History{{V1Compatibility: "{\"x\":\"ünï\\u2028\\\"\"}"}},
		},
	}
	for _, v := range vectors {
		var sm SignedManifest
		require.NoError(t, json.Unmarshal(readVector(t, v.file), &sm))
		ms[v.file] = &sm.Manifest
	}
	return ms
}

func TestSignVerifiesWithLibtrust(t *testing.T) {
	key := newKey(t, elliptic.P256())
	for name, m := range signManifests(t) {
		t.Run(name, func(t *testing.T) {
			sm, err := Sign(m, key)
			require.NoError(t, err)
			assert.Equal(t, *m, sm.Manifest)

			keys := compareWithLibtrust(t, sm, 1)
			pub, ok := keys[0].CryptoPublicKey().(*ecdsa.PublicKey)
			require.True(t, ok)
			assert.True(t, pub.Equal(&key.PublicKey), "libtrust verified with the signing key")
			kid, err := keyID(&key.PublicKey)
			require.NoError(t, err)
			assert.Equal(t, keys[0].KeyID(), kid)

			want, err := json.MarshalIndent(m, "", "   ")
			require.NoError(t, err)
			payload, err := sm.Payload()
			require.NoError(t, err)
			assert.Equal(t, string(want), string(payload))

			var back SignedManifest
			require.NoError(t, json.Unmarshal(sm.Raw, &back))
			assert.Equal(t, *sm, back)
		})
	}
}

func TestSignFormat(t *testing.T) {
	key := newKey(t, elliptic.P256())
	at := time.Date(2015, 4, 1, 12, 30, 0, 0, time.FixedZone("X", 3600))
	m := &Manifest{Versioned: Versioned{SchemaVersion: 1}, Name: "a/b", Tag: "t"}
	sm, err := signAt(m, key, at)
	require.NoError(t, err)

	var parsed struct {
		Signatures []struct {
			Header struct {
				JWK map[string]string `json:"jwk"`
				Alg string            `json:"alg"`
			} `json:"header"`
			Signature string `json:"signature"`
			Protected string `json:"protected"`
		} `json:"signatures"`
	}
	require.NoError(t, json.Unmarshal(sm.Raw, &parsed))
	require.Len(t, parsed.Signatures, 1)
	sig := parsed.Signatures[0]

	payload, err := json.MarshalIndent(m, "", "   ")
	require.NoError(t, err)
	protected, err := base64.RawURLEncoding.DecodeString(sig.Protected)
	require.NoError(t, err)
	assert.Equal(t, `{"formatLength":`+itoa(len(payload)-2)+`,"formatTail":"Cn0","time":"2015-04-01T11:30:00Z"}`,
		string(protected))

	rawSig, err := base64.RawURLEncoding.DecodeString(sig.Signature)
	require.NoError(t, err)
	assert.Len(t, rawSig, 64)
	assert.Equal(t, "ES256", sig.Header.Alg)
	kid, err := keyID(&key.PublicKey)
	require.NoError(t, err)
	point, err := key.PublicKey.Bytes()
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"crv": "P-256", "kid": kid, "kty": "EC",
		"x": base64.RawURLEncoding.EncodeToString(point[1:33]),
		"y": base64.RawURLEncoding.EncodeToString(point[33:]),
	}, sig.Header.JWK)

	// The signatures are spliced in where the payload's tail was.
	assert.True(t, strings.HasPrefix(string(sm.Raw), string(payload[:len(payload)-2])+",\n   \"signatures\": [\n      {\n         \"header\": {\n            \"jwk\": {\n               \"crv\": \"P-256\",\n"))
	assert.True(t, strings.HasSuffix(string(sm.Raw), "\"\n      }\n   ]\n}"))
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestSignRejects(t *testing.T) {
	m := &Manifest{Name: "a/b"}
	for _, tc := range []struct {
		name string
		m    *Manifest
		key  *ecdsa.PrivateKey
	}{
		{"P-224", m, newKey(t, elliptic.P224())},
		{"P-384", m, newKey(t, elliptic.P384())},
		{"P-521", m, newKey(t, elliptic.P521())},
		{"nil key", m, nil},
		{"zero key", m, &ecdsa.PrivateKey{}},
		{"nil manifest", nil, newKey(t, elliptic.P256())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sm, err := Sign(tc.m, tc.key)
			require.Error(t, err)
			assert.Nil(t, sm)
		})
	}
}

func TestKeyID(t *testing.T) {
	t.Run("vector", func(t *testing.T) {
		// The JWK of signed-manifest.json and the kid libtrust gave it.
		x, err := base64.RawURLEncoding.DecodeString("UxPcS97FOpoIC-oKodOa5xVdiLulaJ9rFzCiuaq0lAE")
		require.NoError(t, err)
		y, err := base64.RawURLEncoding.DecodeString("vVUUEUx9cLO28gnYuhx7p_oHSZVV6vgmD96WbFscMTY")
		require.NoError(t, err)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		require.NoError(t, err)
		kid, err := keyID(pub)
		require.NoError(t, err)
		assert.Equal(t, "BZLD:3QJL:7ORI:B2EC:ESSF:YWJA:ZLZG:Y2MS:BW7E:E2NW:HAPL:DCHT", kid)
	})
	t.Run("libtrust", func(t *testing.T) {
		for range 5 {
			key := newKey(t, elliptic.P256())
			want, err := libtrust.FromCryptoPublicKey(&key.PublicKey)
			require.NoError(t, err)
			kid, err := keyID(&key.PublicKey)
			require.NoError(t, err)
			assert.Equal(t, want.KeyID(), kid)
		}
	})
}

// TestSignaturesMerged splices the signatures of two keys, out of key ID
// order and signed at different times, into one manifest: libtrust accepts
// it, and Signatures sorts as libtrust does.
func TestSignaturesMerged(t *testing.T) {
	m := &Manifest{Versioned: Versioned{SchemaVersion: 1}, Name: "a/b", Tag: "t"}
	var blocks []json.RawMessage
	var kids []string
	for i := range 2 {
		key := newKey(t, elliptic.P256())
		sm, err := signAt(m, key, time.Date(2015, 1, 1+i, 0, 0, 0, 0, time.UTC))
		require.NoError(t, err)
		var top struct {
			Signatures []json.RawMessage `json:"signatures"`
		}
		require.NoError(t, json.Unmarshal(sm.Raw, &top))
		blocks = append(blocks, top.Signatures[0])
		kid, err := keyID(&key.PublicKey)
		require.NoError(t, err)
		kids = append(kids, kid)
	}
	if kids[0] < kids[1] { // put them out of order
		blocks[0], blocks[1] = blocks[1], blocks[0]
		kids[0], kids[1] = kids[1], kids[0]
	}

	payload, err := json.MarshalIndent(m, "", "   ")
	require.NoError(t, err)
	list, err := json.Marshal(blocks)
	require.NoError(t, err)
	raw := string(payload[:len(payload)-2]) + `,"signatures":` + string(list) + "}"
	sm := SignedManifest{Raw: []byte(raw)}

	js, err := libtrust.ParsePrettySignature(sm.Raw, "signatures")
	require.NoError(t, err)
	_, err = js.Verify()
	require.NoError(t, err)
	got, err := sm.Payload()
	require.NoError(t, err)
	assert.Equal(t, string(payload), string(got))

	sigs, err := sm.Signatures()
	require.NoError(t, err)
	require.Len(t, sigs, 2)
	assert.Contains(t, string(sigs[0]), kids[1], "sorted by key ID")
	assert.Contains(t, string(sigs[1]), kids[0])
	want, err := js.Signatures()
	require.NoError(t, err)
	assert.Equal(t, want, sigs)
}
