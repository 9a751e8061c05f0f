package stdwebhooks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/receiver"
)

// newSecret returns a fresh Standard Webhooks secret, whsec_ and the
// base64 of 32 random bytes.
func newSecret(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// referenceWebhook returns the reference library's verifier and signer for
// secret.
func referenceWebhook(t *testing.T, secret string) *standardwebhooks.Webhook {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	return wh
}

func testEvents(prefix string, n int) []notifications.Event {
	events := make([]notifications.Event, n)
	for i := range events {
		e := &events[i]
		e.ID = prefix + "-" + strconv.Itoa(i)
		e.Timestamp = time.Now().UTC()
		e.Action = notifications.EventActionPush
		e.Target.Repository, e.Target.Tag = "library/hello", "v"+strconv.Itoa(i)
		e.Target.MediaType = "application/vnd.oci.image.manifest.v1+json"
		e.Target.Digest = "sha256:0123"
	}
	return events
}

// The reference library verifies every request a signing endpoint sends,
// in either wire format, with either of its two secrets (the one rotated
// in and the one rotated out): a receiver built on it takes our webhooks.
func TestReferenceLibraryVerifiesEndpointSignatures(t *testing.T) {
	for _, format := range []notifications.Format{notifications.FormatEnvelope, notifications.FormatCloudEvents} {
		t.Run(string(format), func(t *testing.T) {
			newer, older := newSecret(t), newSecret(t)
			verifiers := []*standardwebhooks.Webhook{referenceWebhook(t, newer), referenceWebhook(t, older)}
			var (
				mu       sync.Mutex
				requests int
				failures []error
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, err := io.ReadAll(r.Body)
				require.NoError(t, err)
				mu.Lock()
				defer mu.Unlock()
				requests++
				for _, wh := range verifiers {
					if err := wh.Verify(body, r.Header); err != nil {
						failures = append(failures, err)
						w.WriteHeader(http.StatusUnauthorized)
						return
					}
				}
				w.WriteHeader(http.StatusNoContent)
			}))
			defer srv.Close()

			e, err := notifications.OpenEndpoint("signed", srv.URL, notifications.EndpointConfig{
				SigningSecrets: []string{newer, older},
				WireFormat:     format,
				Threshold:      1,
				Backoff:        time.Millisecond,
			})
			require.NoError(t, err)
			require.NoError(t, e.Write(testEvents("one", 1)...)) // a batch of one (a structured CloudEvent)
			require.NoError(t, e.Write(testEvents("many", 5)...))
			require.NoError(t, e.Close())

			var m notifications.EndpointMetrics
			e.ReadMetrics(&m)
			mu.Lock()
			defer mu.Unlock()
			assert.Empty(t, failures, "the reference library refused a signature")
			assert.Positive(t, requests)
			assert.Equal(t, 6, m.Successes, "every event accepted")
		})
	}
}

// The receiver accepts an envelope the reference library signed, and
// refuses it once a byte of it changed, or when another secret signed it.
func TestReceiverVerifiesReferenceLibrarySignatures(t *testing.T) {
	secret := newSecret(t)
	var (
		mu  sync.Mutex
		got []string
	)
	srv := httptest.NewServer(receiver.New(receiver.Config{Secrets: []string{secret}}, func(_ context.Context, events []notifications.Event) error {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range events {
			got = append(got, e.ID)
		}
		return nil
	}))
	defer srv.Close()

	body, err := json.Marshal(notifications.Envelope{Events: testEvents("ref", 2)})
	require.NoError(t, err)
	post := func(t *testing.T, signer *standardwebhooks.Webhook, id string, signed, sent []byte) int {
		t.Helper()
		at := time.Now()
		signature, err := signer.Sign(id, at, signed)
		require.NoError(t, err)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, bytes.NewReader(sent))
		require.NoError(t, err)
		req.Header.Set("Content-Type", notifications.EventsMediaType)
		req.Header.Set(standardwebhooks.HeaderWebhookID, id)
		req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(at.Unix(), 10))
		req.Header.Set(standardwebhooks.HeaderWebhookSignature, signature)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}

	tampered := bytes.Replace(body, []byte("library/hello"), []byte("library/hellp"), 1)
	require.NotEqual(t, body, tampered)
	assert.Equal(t, http.StatusUnauthorized, post(t, referenceWebhook(t, secret), "msg_tampered", body, tampered), "a changed body")
	assert.Equal(t, http.StatusUnauthorized, post(t, referenceWebhook(t, newSecret(t)), "msg_other", body, body), "another secret")
	mu.Lock()
	assert.Empty(t, got, "nothing refused was handled")
	mu.Unlock()

	code := post(t, referenceWebhook(t, secret), "msg_signed", body, body)
	assert.Less(t, code, 300, "the signed envelope is accepted")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"ref-0", "ref-1"}, got)
}
