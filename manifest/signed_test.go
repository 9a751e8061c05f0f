package manifest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/libtrust"
	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vectors are the signed manifests in testdata, produced by libtrust.
var vectors = []struct {
	file       string
	signatures int
	name, tag  string
	digest     digest.Digest
}{
	{"signed-manifest.json", 1, "library/hello", "latest",
		"sha256:3c45d32f87c28530a034b79571ba3fc2ad7b0bc9b3a191289b002d02973de354"},
	{"signed-manifest-2sig.json", 2, "acme/web-app", "v1.2.3",
		"sha256:f956b74dfd82f59b7ee542404586f1ff1c4662b9835b5431daf7855dd21fb87b"},
}

func readVector(t testing.TB, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	require.NoError(t, err)
	return b
}

func TestVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.file, func(t *testing.T) {
			raw := readVector(t, v.file)
			var sm SignedManifest
			require.NoError(t, json.Unmarshal(raw, &sm))

			assert.Equal(t, 1, sm.SchemaVersion)
			assert.Equal(t, v.name, sm.Name)
			assert.Equal(t, v.tag, sm.Tag)
			assert.Equal(t, raw, sm.Raw)

			payload, err := sm.Payload()
			require.NoError(t, err)
			assert.Equal(t, v.digest, digest.FromBytes(payload))
			assert.False(t, bytes.HasPrefix(raw, payload), "the payload is not a prefix of Raw")
			// The payload is the manifest as MarshalIndent writes it.
			indented, err := json.MarshalIndent(&sm.Manifest, "", "   ")
			require.NoError(t, err)
			assert.Equal(t, string(indented), string(payload))

			sigs, err := sm.Signatures()
			require.NoError(t, err)
			assert.Len(t, sigs, v.signatures)

			out, err := sm.MarshalJSON()
			require.NoError(t, err)
			assert.Equal(t, raw, out, "MarshalJSON returns Raw byte for byte")
		})
	}
}

// TestVectorsAgainstLibtrust checks Payload and Signatures against the
// reference implementation, and that the blobs reassemble with the payload.
func TestVectorsAgainstLibtrust(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.file, func(t *testing.T) {
			sm := SignedManifest{Raw: readVector(t, v.file)}
			compareWithLibtrust(t, &sm, v.signatures)
		})
	}
}

// compareWithLibtrust checks that sm verifies with libtrust and that our
// Payload and Signatures equal libtrust's; it returns libtrust's keys.
func compareWithLibtrust(t *testing.T, sm *SignedManifest, signatures int) []libtrust.PublicKey {
	t.Helper()
	js, err := libtrust.ParsePrettySignature(sm.Raw, "signatures")
	require.NoError(t, err)
	keys, err := js.Verify()
	require.NoError(t, err)
	require.Len(t, keys, signatures)

	want, err := js.Payload()
	require.NoError(t, err)
	got, err := sm.Payload()
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))

	wantSigs, err := js.Signatures()
	require.NoError(t, err)
	gotSigs, err := sm.Signatures()
	require.NoError(t, err)
	require.Len(t, gotSigs, signatures)
	for i := range wantSigs {
		assert.Equal(t, string(wantSigs[i]), string(gotSigs[i]), "signature %d", i)
	}

	// Payload plus the blobs is the whole signed manifest again.
	joined, err := libtrust.NewJSONSignature(got, gotSigs...)
	require.NoError(t, err)
	_, err = joined.Verify()
	require.NoError(t, err)

	// libtrust renders the same bytes from what it parsed.
	pretty, err := js.PrettySignature("signatures")
	require.NoError(t, err)
	assert.Equal(t, string(sm.Raw), string(pretty))
	return keys
}

func TestUnmarshalJSONCopiesRaw(t *testing.T) {
	raw := readVector(t, "signed-manifest.json")
	var sm SignedManifest
	require.NoError(t, sm.UnmarshalJSON(raw))
	want := bytes.Clone(raw)
	raw[0] = 'X'
	assert.Equal(t, want, sm.Raw)
}

func TestUnmarshalJSONErrorLeavesManifest(t *testing.T) {
	sm := SignedManifest{Manifest: Manifest{Name: "keep"}, Raw: []byte(`{"name":"keep"}`)}
	for _, in := range []string{``, `{`, `[]`, `{"schemaVersion":"one"}`, `{"fsLayers":[{"blobSum":1}]}`} {
		require.Error(t, sm.UnmarshalJSON([]byte(in)), "input %q", in)
		assert.Equal(t, "keep", sm.Name)
		assert.Equal(t, `{"name":"keep"}`, string(sm.Raw))
	}
}

func TestMarshalJSONWithoutRaw(t *testing.T) {
	sm := SignedManifest{Manifest: Manifest{Versioned: Versioned{SchemaVersion: 1}, Name: "a/b", Tag: "t"}}
	out, err := sm.MarshalJSON()
	require.NoError(t, err)
	assert.JSONEq(t, `{"schemaVersion":1,"name":"a/b","tag":"t","architecture":"","fsLayers":null,"history":null}`, string(out))

	out[0] = 'X' // MarshalJSON hands out a copy of Raw
	sm.Raw = []byte(`{"raw":true}`)
	out, err = sm.MarshalJSON()
	require.NoError(t, err)
	out[0] = 'X'
	assert.Equal(t, `{"raw":true}`, string(sm.Raw))
}

// b64 encodes s as unpadded base64url.
func b64(s string) string { return encodeBase64URL([]byte(s)) }

// pretty returns a signed manifest whose signatures carry the given protected
// headers (already encoded).
func pretty(protected ...string) string {
	sigs := make([]string, len(protected))
	for i, p := range protected {
		sigs[i] = `{"header":{"alg":"ES256"},"signature":"c2ln","protected":"` + p + `"}`
	}
	return `{"name":"x","signatures":[` + strings.Join(sigs, ",") + `]}`
}

// header returns an encoded protected header with the given JSON fields.
func header(fields string) string { return b64("{" + fields + "}") }

func TestPayloadErrors(t *testing.T) {
	ok := header(`"formatLength":10,"formatTail":"` + b64("\n}") + `","time":"t"`)
	for _, tc := range []struct {
		name string
		raw  string
		want error // nil: any error
	}{
		{"empty", ``, ErrNoSignatures},
		{"not JSON", `{"name":`, nil},
		{"array", `[1,2]`, nil},
		{"string", `"signatures"`, nil},
		{"null", `null`, ErrNoSignatures},
		{"no signatures key", `{"name":"x"}`, ErrNoSignatures},
		{"key differs in case", `{"Signatures":[]}`, ErrNoSignatures},
		{"signatures null", `{"signatures":null}`, ErrNoSignatures},
		{"signatures empty", `{"signatures":[]}`, ErrNoSignatures},
		{"signatures object", `{"signatures":{"protected":"e30"}}`, ErrMalformedSignature},
		{"signature not object", `{"signatures":[1]}`, ErrMalformedSignature},
		{"jwk not object", `{"signatures":[{"header":{"jwk":"k"},"protected":"` + ok + `"}]}`, ErrMalformedSignature},
		{"jwk kid not string", `{"signatures":[{"header":{"jwk":{"kid":1}},"protected":"` + ok + `"}]}`, ErrMalformedSignature},
		{"missing protected", `{"signatures":[{"signature":"c2ln"}]}`, ErrMalformedSignature},
		{"protected bad base64", pretty("!!!!"), ErrMalformedSignature},
		{"protected bad length", pretty("abcde"), ErrMalformedSignature},
		{"protected not JSON", pretty(b64("hello")), ErrMalformedSignature},
		{"protected array", pretty(b64("[1]")), ErrMalformedSignature},
		{"protected null", pretty(b64("null")), ErrMalformedSignature},
		{"no formatLength", pretty(header(`"formatTail":"Cn0"`)), ErrMalformedSignature},
		{"formatLength null", pretty(header(`"formatLength":null,"formatTail":"Cn0"`)), ErrMalformedSignature},
		{"formatLength string", pretty(header(`"formatLength":"10","formatTail":"Cn0"`)), ErrMalformedSignature},
		{"formatLength fraction", pretty(header(`"formatLength":3.5,"formatTail":"Cn0"`)), ErrMalformedSignature},
		{"formatLength huge", pretty(header(`"formatLength":1e300,"formatTail":"Cn0"`)), ErrMalformedSignature},
		{"formatLength negative", pretty(header(`"formatLength":-1,"formatTail":"Cn0"`)), ErrMalformedSignature},
		{"formatLength past end", pretty(header(`"formatLength":100000,"formatTail":"Cn0"`)), ErrMalformedSignature},
		{"no formatTail", pretty(header(`"formatLength":10`)), ErrMalformedSignature},
		{"formatTail number", pretty(header(`"formatLength":10,"formatTail":7`)), ErrMalformedSignature},
		{"formatTail bad base64", pretty(header(`"formatLength":10,"formatTail":"*"`)), ErrMalformedSignature},
		{"formatLength conflict", pretty(ok, header(`"formatLength":11,"formatTail":"Cn0"`)), ErrMalformedSignature},
		{"formatTail conflict", pretty(ok, header(`"formatLength":10,"formatTail":"`+b64("\n }")+`"`)), ErrMalformedSignature},
		{"second protected corrupt", pretty(ok, "%%%%"), ErrMalformedSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sm := SignedManifest{Raw: []byte(tc.raw)}
			payload, err := sm.Payload()
			require.Error(t, err)
			assert.Nil(t, payload)
			sigs, sigErr := sm.Signatures()
			require.Error(t, sigErr)
			assert.Nil(t, sigs)
			assert.Equal(t, err.Error(), sigErr.Error())
			if tc.want != nil {
				assert.ErrorIs(t, err, tc.want)
			} else {
				assert.False(t, errors.Is(err, ErrNoSignatures) || errors.Is(err, ErrMalformedSignature), "%v", err)
			}
		})
	}
}

func TestPayloadEdges(t *testing.T) {
	tail := b64("\n}")
	raw := pretty(header(`"formatLength":10,"formatTail":"` + tail + `","time":"2015-01-01T00:00:00Z"`))
	for _, tc := range []struct {
		name string
		raw  string
		want string
	}{
		{"one signature", raw, raw[:10] + "\n}"},
		{"times differ", pretty(
			header(`"formatLength":10,"formatTail":"`+tail+`","time":"2015-01-01T00:00:00Z"`),
			header(`"formatLength":10,"formatTail":"`+tail+`","time":"2016-01-01T00:00:00Z"`),
		), raw[:10] + "\n}"},
		{"zero length, empty tail", pretty(header(`"formatLength":0,"formatTail":""`)), ""},
		{"length is all of Raw", wholeRaw(t), wholeRaw(t)},
		{"padded base64", pretty(base64.URLEncoding.EncodeToString([]byte(`{"formatLength":1,"formatTail":"Cn0="}`))), "{\n}"},
		{"jwk null", `{"signatures":[{"header":{"jwk":null},"protected":"` + header(`"formatLength":1,"formatTail":""`) + `"}]}`, "{"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sm := SignedManifest{Raw: []byte(tc.raw)}
			payload, err := sm.Payload()
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(payload))
			_, err = sm.Signatures()
			require.NoError(t, err)
		})
	}
}

// wholeRaw returns a signed manifest whose formatLength is its own length.
func wholeRaw(t *testing.T) string {
	for n := range 1000 {
		raw := pretty(header(fmt.Sprintf(`"formatLength":%d,"formatTail":""`, n)))
		if len(raw) == n {
			return raw
		}
	}
	t.Fatal("no fixed point")
	return ""
}

func TestPayloadDoesNotAliasRaw(t *testing.T) {
	sm := SignedManifest{Raw: readVector(t, "signed-manifest.json")}
	raw := bytes.Clone(sm.Raw)
	p, err := sm.Payload()
	require.NoError(t, err)
	for i := range p {
		p[i] = 'X'
	}
	p = append(p, "more"...)
	assert.Equal(t, raw, sm.Raw)
}
