package stdwebhooks

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The example of the Standard Webhooks reference libraries.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func secretOf(n int) string {
	return SecretPrefix + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", n)))
}

func TestParseSecret(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		ok     bool
	}{
		{"reference vector", vectorSecret, true},
		{"24 bytes", secretOf(24), true},
		{"64 bytes", secretOf(64), true},
		{"23 bytes", secretOf(23), false},
		{"65 bytes", secretOf(65), false},
		{"no prefix", strings.TrimPrefix(secretOf(32), SecretPrefix), false},
		{"url alphabet", SecretPrefix + base64.URLEncoding.EncodeToString([]byte(strings.Repeat("\xff", 32))), false},
		{"not base64", SecretPrefix + "not base64 at all!!", false},
		{"empty", "", false},
		{"prefix only", SecretPrefix, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := ParseSecret(tt.secret)
			if tt.ok {
				require.NoError(t, err)
				assert.NotEmpty(t, key)
				return
			}
			require.ErrorIs(t, err, ErrMalformedSecret)
			if encoded := strings.TrimPrefix(tt.secret, SecretPrefix); encoded != "" {
				assert.NotContains(t, err.Error(), encoded, "errors never quote the secret")
			}
		})
	}
}

func TestSignReferenceVector(t *testing.T) {
	key, err := ParseSecret(vectorSecret)
	require.NoError(t, err)
	h := http.Header{}
	Sign(h, [][]byte{key}, vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	assert.Equal(t, vectorID, h.Get(HeaderID))
	assert.Equal(t, "1614265330", h.Get(HeaderTimestamp))
	assert.Equal(t, vectorSignature, h.Get(HeaderSignature))
	require.NoError(t, Verify(h, [][]byte{key}, []byte(vectorBody), time.Unix(vectorTimestamp+10, 0), 5*time.Minute))
}

func TestVerify(t *testing.T) {
	k1, err := ParseSecret(secretOf(32))
	require.NoError(t, err)
	k2, err := ParseSecret(secretOf(40))
	require.NoError(t, err)
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"events":[{"id":"a"}]}`)
	signed := func(keys ...[]byte) http.Header {
		h := http.Header{}
		Sign(h, keys, "msg_x", now, body)
		return h
	}
	tests := []struct {
		name    string
		header  func() http.Header
		keys    [][]byte
		body    []byte
		at      time.Time
		wantErr error
	}{
		{"one key", func() http.Header { return signed(k1) }, [][]byte{k1}, body, now, nil},
		{"rotation: receiver knows the second", func() http.Header { return signed(k1, k2) }, [][]byte{k2}, body, now, nil},
		{"receiver knows two keys", func() http.Header { return signed(k2) }, [][]byte{k1, k2}, body, now, nil},
		{"unknown versions ignored", func() http.Header {
			h := signed(k1)
			h.Set(HeaderSignature, "v1a,AAAA v2,zzz "+h.Get(HeaderSignature))
			return h
		}, [][]byte{k1}, body, now, nil},
		{"edge of tolerance", func() http.Header { return signed(k1) }, [][]byte{k1}, body, now.Add(5 * time.Minute), nil},
		{"wrong key", func() http.Header { return signed(k1) }, [][]byte{k2}, body, now, ErrNoMatch},
		{"other body", func() http.Header { return signed(k1) }, [][]byte{k1}, []byte(`{"events":[{"id":"b"}]}`), now, ErrNoMatch},
		{"other id", func() http.Header { h := signed(k1); h.Set(HeaderID, "msg_y"); return h }, [][]byte{k1}, body, now, ErrNoMatch},
		{"malformed signature", func() http.Header { h := signed(k1); h.Set(HeaderSignature, "v1,!!!"); return h }, [][]byte{k1}, body, now, ErrNoMatch},
		{"non-canonical base64", func() http.Header {
			h := signed(k1)
			h.Set(HeaderSignature, flipSpareBits(h.Get(HeaderSignature)))
			return h
		}, [][]byte{k1}, body, now, ErrNoMatch},
		{"short signature", func() http.Header { h := signed(k1); h.Set(HeaderSignature, "v1,AAAA"); return h }, [][]byte{k1}, body, now, ErrNoMatch},
		{"no signature header", func() http.Header { h := signed(k1); h.Del(HeaderSignature); return h }, [][]byte{k1}, body, now, ErrMissingHeader},
		{"no id header", func() http.Header { h := signed(k1); h.Del(HeaderID); return h }, [][]byte{k1}, body, now, ErrMissingHeader},
		{"no timestamp header", func() http.Header { h := signed(k1); h.Del(HeaderTimestamp); return h }, [][]byte{k1}, body, now, ErrMissingHeader},
		{"timestamp not a number", func() http.Header { h := signed(k1); h.Set(HeaderTimestamp, "yesterday"); return h }, [][]byte{k1}, body, now, ErrBadTimestamp},
		{"timestamp huge", func() http.Header { h := signed(k1); h.Set(HeaderTimestamp, "-9223372036854775808"); return h }, [][]byte{k1}, body, now, ErrBadTimestamp},
		{"replayed too late", func() http.Header { return signed(k1) }, [][]byte{k1}, body, now.Add(5*time.Minute + time.Second), ErrBadTimestamp},
		{"from the future", func() http.Header { return signed(k1) }, [][]byte{k1}, body, now.Add(-5*time.Minute - time.Second), ErrBadTimestamp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.header(), tt.keys, tt.body, tt.at, 5*time.Minute)
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
}

// flipSpareBits changes the unused low bit of the last character of a
// base64 signature entry: lenient decoders read the same bytes.
func flipSpareBits(entry string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	i := strings.LastIndexFunc(entry, func(r rune) bool { return r != '=' })
	flipped := alphabet[strings.IndexByte(alphabet, entry[i])^1]
	return entry[:i] + string(flipped) + entry[i+1:]
}

func TestFlipSpareBitsIsLenientlyEqual(t *testing.T) {
	sig := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	a, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sig, "v1,"))
	require.NoError(t, err)
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(flipSpareBits(sig), "v1,"))
	require.NoError(t, err)
	assert.Equal(t, a, b, "the test case is about encoding only")
}
