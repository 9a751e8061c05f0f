package notifications

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/regnotify/notifications/internal/stdwebhooks"
	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testSecret returns a well-formed secret of 32 bytes derived from seed.
func testSecret(seed string) string {
	key := bytes.Repeat([]byte(seed), 32)[:32]
	return stdwebhooks.SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

func keyOf(t *testing.T, secret string) []byte {
	t.Helper()
	key, err := stdwebhooks.ParseSecret(secret)
	require.NoError(t, err)
	return key
}

// envelopeBody is the body an endpoint sends for events.
func envelopeBody(t *testing.T, events []Event) []byte {
	t.Helper()
	body, err := json.Marshal(Envelope{Events: events})
	require.NoError(t, err)
	return body
}

func TestOpenEndpointRejectsMalformedSecrets(t *testing.T) {
	short := stdwebhooks.SecretPrefix + base64.StdEncoding.EncodeToString([]byte("only-twenty-three-bytes"))
	tests := []struct {
		name   string
		secret string
	}{
		{"no prefix", strings.TrimPrefix(testSecret("a"), stdwebhooks.SecretPrefix)},
		{"not base64", "whsec_top$ecret-value"},
		{"too short", short},
		{"too long", stdwebhooks.SecretPrefix + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), 65))},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config := fastConfig()
			config.SigningSecrets = []string{testSecret("good"), tt.secret}
			e, err := OpenEndpoint("signed", "http://127.0.0.1:1/", config)
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Nil(t, e)
			assert.Contains(t, err.Error(), "SigningSecrets[1]")
			if encoded := strings.TrimPrefix(tt.secret, stdwebhooks.SecretPrefix); encoded != "" {
				assert.NotContains(t, err.Error(), encoded, "the error never shows the secret")
			}
		})
	}
}

func TestEndpointSignsEveryAttempt(t *testing.T) {
	rc := newReceiver(t, func(n int, _ http.ResponseWriter) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	first, second := testSecret("first"), testSecret("second")
	config := fastConfig()
	config.SigningSecrets = []string{first, second}
	config.Headers = http.Header{"Webhook-Id": {"configured headers do not override the signature"}}
	e, err := OpenEndpoint("signed", rc.URL, config)
	require.NoError(t, err)
	events := testEvents("signed", 3)
	require.NoError(t, e.Write(events...))
	checkClose(t, e)

	headers := rc.requestHeaders()
	require.Len(t, headers, 3, "two failed attempts and a success")
	body := envelopeBody(t, events)
	for i, h := range headers {
		assert.Equal(t, messageID(events, body), h.Get(stdwebhooks.HeaderID), "attempt %d: the same id on every retry", i)
		assert.Len(t, strings.Fields(h.Get(stdwebhooks.HeaderSignature)), 2, "one entry per secret")
		for _, secret := range []string{first, second} {
			assert.NoError(t, stdwebhooks.Verify(h, [][]byte{keyOf(t, secret)}, body, time.Now(), time.Minute))
		}
	}
}

func TestSignerTimestampIsTheAttempts(t *testing.T) {
	rc := newReceiver(t, nil)
	config := fastConfig()
	config.SigningSecrets = []string{testSecret("clock")}
	d := newHTTPDeliverer(rc.URL, config)
	defer d.Close()
	events := testEvents("clock", 1)
	for _, at := range []time.Time{time.Unix(1_700_000_000, 0), time.Unix(1_700_000_042, 0)} {
		d.signer.now = func() time.Time { return at }
		require.Equal(t, Accepted, d.Deliver(t.Context(), events).Outcome)
	}
	headers := rc.requestHeaders()
	require.Len(t, headers, 2)
	assert.Equal(t, "1700000000", headers[0].Get(stdwebhooks.HeaderTimestamp))
	assert.Equal(t, "1700000042", headers[1].Get(stdwebhooks.HeaderTimestamp))
	assert.Equal(t, headers[0].Get(stdwebhooks.HeaderID), headers[1].Get(stdwebhooks.HeaderID))
	assert.NotEqual(t, headers[0].Get(stdwebhooks.HeaderSignature), headers[1].Get(stdwebhooks.HeaderSignature))
}

func TestNewEndpointSkipsMalformedSecrets(t *testing.T) {
	const bad = "whsec_not-a-secret-value"
	good := testSecret("good")
	tests := []struct {
		name     string
		secrets  []string
		wantKeys int
	}{
		{"bad then good", []string{bad, good}, 1},
		{"only bad: unsigned", []string{bad}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, nil)
			logger, hook := test.NewNullLogger()
			config := fastConfig()
			config.SigningSecrets = tt.secrets
			config.Logger = logger
			e := NewEndpoint("lenient", rc.URL, config)
			require.NoError(t, e.Write(testEvents("l", 1)...))
			require.NoError(t, e.Close())

			require.NotEmpty(t, hook.AllEntries(), "the malformed secret is logged")
			for _, entry := range hook.AllEntries() {
				line, err := entry.String()
				require.NoError(t, err)
				assert.NotContains(t, line, "not-a-secret")
			}
			assert.Equal(t, logrus.ErrorLevel, hook.AllEntries()[0].Level)

			headers := rc.requestHeaders()
			require.Len(t, headers, 1)
			if tt.wantKeys == 0 {
				assert.Empty(t, headers[0].Get(stdwebhooks.HeaderSignature))
				return
			}
			assert.Len(t, strings.Fields(headers[0].Get(stdwebhooks.HeaderSignature)), tt.wantKeys)
		})
	}
}

func TestSigningSecretsNeverPublished(t *testing.T) {
	secret := testSecret("published")
	config := fastConfig()
	config.SigningSecrets = []string{secret}
	e, err := OpenEndpoint("published-secrets", "http://127.0.0.1:1/", config)
	require.NoError(t, err)
	defer e.Close()
	published, err := json.Marshal(e.published())
	require.NoError(t, err)
	encoded := strings.TrimPrefix(secret, stdwebhooks.SecretPrefix)
	assert.NotContains(t, string(published), encoded)
	asJSON, err := json.Marshal(e.EndpointConfig)
	require.NoError(t, err)
	assert.NotContains(t, string(asJSON), encoded, "the field is not marshalled")
}

func TestMessageID(t *testing.T) {
	withIDs := func(ids ...string) []Event {
		events := make([]Event, len(ids))
		for i, id := range ids {
			events[i].ID = id
		}
		return events
	}
	a := messageID(withIDs("a", "b"), []byte("one body"))
	assert.True(t, strings.HasPrefix(a, "msg_"))
	assert.Len(t, a, len("msg_")+24)
	assert.Equal(t, a, messageID(withIDs("a", "b"), []byte("another encoding")), "only the IDs count")
	assert.NotEqual(t, a, messageID(withIDs("b", "a"), nil), "order counts")
	assert.NotEqual(t, messageID(withIDs("ab", "c"), nil), messageID(withIDs("a", "bc"), nil), "IDs are delimited")
	assert.NotEqual(t, messageID(withIDs("", ""), []byte("x")), messageID(withIDs("", ""), []byte("y")),
		"without IDs the body decides")
	assert.Equal(t, messageID(withIDs(""), []byte("x")), messageID(withIDs(""), []byte("x")))
}
