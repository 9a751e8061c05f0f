package receiver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/internal/stdwebhooks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testSecret returns a well-formed secret of 32 bytes derived from seed.
func testSecret(seed string) string {
	return stdwebhooks.SecretPrefix + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte(seed), 32)[:32])
}

// envelope returns the JSON envelope of events with the given IDs.
func envelope(t testing.TB, ids ...string) []byte {
	t.Helper()
	events := make([]notifications.Event, len(ids))
	for i, id := range ids {
		events[i].ID = id
		events[i].Action = notifications.EventActionPush
		events[i].Target.Type = notifications.EventTargetTypeManifest
		events[i].Target.Name = "library/test"
	}
	body, err := json.Marshal(notifications.Envelope{Events: events})
	require.NoError(t, err)
	return body
}

// newRequest returns a POST of body with the events media type, signed at
// `at` by secrets when there are any.
func newRequest(t testing.TB, body []byte, at time.Time, secrets ...string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/events", bytes.NewReader(body))
	r.Header.Set("Content-Type", notifications.EventsMediaType)
	if len(secrets) > 0 {
		keys := make([][]byte, len(secrets))
		for i, s := range secrets {
			key, err := stdwebhooks.ParseSecret(s)
			require.NoError(t, err)
			keys[i] = key
		}
		stdwebhooks.Sign(r.Header, keys, "msg_test", at, body)
	}
	return r
}

// recorder is a handle func that records the IDs of every call; fail decides
// the result of each call (1-based).
type recorder struct {
	mu    sync.Mutex
	calls [][]string
	fail  func(call int) error
}

func (rec *recorder) handle(_ context.Context, events []notifications.Event) error {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	rec.calls = append(rec.calls, ids)
	if rec.fail != nil {
		return rec.fail(len(rec.calls))
	}
	return nil
}

func (rec *recorder) ids() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []string
	for _, c := range rec.calls {
		out = append(out, c...)
	}
	return out
}

// serve runs r through h and returns the answer.
func serve(h http.Handler, r *http.Request) *http.Response {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func TestHandlerAnswers(t *testing.T) {
	secret := testSecret("receiver")
	now := time.Now()
	good := envelope(t, "a", "b")
	tests := []struct {
		name     string
		cfg      Config
		request  func() *http.Request
		fail     bool
		want     int
		wantCall bool
	}{
		{"accepted", Config{}, func() *http.Request { return newRequest(t, good, now) }, false, 200, true},
		{"signed", Config{Secrets: []string{secret}}, func() *http.Request { return newRequest(t, good, now, secret) }, false, 200, true},
		{"media type parameters", Config{}, func() *http.Request {
			r := newRequest(t, good, now)
			r.Header.Set("Content-Type", "Application/VND.docker.distribution.events.v1+JSON; charset=utf-8")
			return r
		}, false, 200, true},
		{"GET", Config{}, func() *http.Request { return httptest.NewRequest(http.MethodGet, "/events", nil) }, false, 405, false},
		{"PUT", Config{}, func() *http.Request {
			r := newRequest(t, good, now)
			r.Method = http.MethodPut
			return r
		}, false, 405, false},
		{"json media type", Config{}, func() *http.Request {
			r := newRequest(t, good, now)
			r.Header.Set("Content-Type", "application/json")
			return r
		}, false, 415, false},
		{"gzip", Config{}, func() *http.Request {
			r := newRequest(t, good, now)
			r.Header.Set("Content-Encoding", "gzip")
			return r
		}, false, 415, false},
		{"identity encoding", Config{}, func() *http.Request {
			r := newRequest(t, good, now)
			r.Header.Set("Content-Encoding", "identity")
			return r
		}, false, 200, true},
		{"no media type", Config{}, func() *http.Request {
			r := newRequest(t, good, now)
			r.Header.Del("Content-Type")
			return r
		}, false, 415, false},
		{"malformed media type", Config{}, func() *http.Request {
			r := newRequest(t, good, now)
			r.Header.Set("Content-Type", notifications.EventsMediaType+"; =;")
			return r
		}, false, 415, false},
		{"too large", Config{MaxBodyBytes: 16}, func() *http.Request { return newRequest(t, good, now) }, false, 413, false},
		{"too large, length unknown", Config{MaxBodyBytes: 16}, func() *http.Request {
			r := newRequest(t, good, now)
			r.ContentLength = -1
			return r
		}, false, 413, false},
		{"unsigned", Config{Secrets: []string{secret}}, func() *http.Request { return newRequest(t, good, now) }, false, 401, false},
		{"wrong secret", Config{Secrets: []string{secret}}, func() *http.Request { return newRequest(t, good, now, testSecret("other")) }, false, 401, false},
		{"malformed signature", Config{Secrets: []string{secret}}, func() *http.Request {
			r := newRequest(t, good, now, secret)
			r.Header.Set(stdwebhooks.HeaderSignature, "v1,not-base64!")
			return r
		}, false, 401, false},
		{"malformed timestamp", Config{Secrets: []string{secret}}, func() *http.Request {
			r := newRequest(t, good, now, secret)
			r.Header.Set(stdwebhooks.HeaderTimestamp, "1e9")
			return r
		}, false, 401, false},
		{"tampered body", Config{Secrets: []string{secret}}, func() *http.Request {
			r := newRequest(t, good, now, secret)
			r.Body = io.NopCloser(bytes.NewReader(envelope(t, "a", "c")))
			return r
		}, false, 401, false},
		{"replayed after tolerance", Config{Secrets: []string{secret}}, func() *http.Request {
			return newRequest(t, good, now.Add(-6*time.Minute), secret)
		}, false, 401, false},
		{"replayed within a short tolerance", Config{Secrets: []string{secret}, Tolerance: time.Minute}, func() *http.Request {
			return newRequest(t, good, now.Add(-2*time.Minute), secret)
		}, false, 401, false},
		{"from the future", Config{Secrets: []string{secret}}, func() *http.Request {
			return newRequest(t, good, now.Add(6*time.Minute), secret)
		}, false, 401, false},
		{"not JSON", Config{}, func() *http.Request { return newRequest(t, []byte("events!"), now) }, false, 400, false},
		{"not an envelope", Config{}, func() *http.Request { return newRequest(t, []byte(`[{"id":"a"}]`), now) }, false, 400, false},
		{"trailing data", Config{}, func() *http.Request { return newRequest(t, append(good, "{}"...), now) }, false, 400, false},
		{"no events", Config{}, func() *http.Request { return newRequest(t, []byte(`{"events":[]}`), now) }, false, 400, false},
		{"empty object", Config{}, func() *http.Request { return newRequest(t, []byte(`{}`), now) }, false, 400, false},
		{"empty body", Config{}, func() *http.Request { return newRequest(t, nil, now) }, false, 400, false},
		{"event without id", Config{}, func() *http.Request { return newRequest(t, []byte(`{"events":[{"id":"a"},{"action":"push"}]}`), now) }, false, 400, false},
		{"invalid UTF-8", Config{}, func() *http.Request { return newRequest(t, []byte("{\"events\":[{\"id\":\"\xff\"}]}"), now) }, false, 400, false},
		{"handle fails", Config{}, func() *http.Request { return newRequest(t, good, now) }, true, 503, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			if tt.fail {
				rec.fail = func(int) error { return errors.New("storage down") }
			}
			resp := serve(New(tt.cfg, rec.handle), tt.request())
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.want, resp.StatusCode, "answer %q", body)
			assert.Contains(t, resp.Header.Get("Content-Type"), "text/plain")
			assert.NotEmpty(t, strings.TrimSpace(string(body)), "a short reason")
			assert.Equal(t, 1, strings.Count(strings.TrimSpace(string(body)), "\n")+1, "one line")
			assert.NotContains(t, string(body), "storage down", "the application's error stays inside")
			assert.Equal(t, tt.wantCall, len(rec.ids()) > 0)
			if tt.want == 405 {
				assert.Equal(t, "POST", resp.Header.Get("Allow"))
			}
		})
	}
}

func TestHandlerSuppressesDuplicates(t *testing.T) {
	rec := &recorder{fail: func(call int) error {
		if call == 2 {
			return errors.New("fails once")
		}
		return nil
	}}
	h := New(Config{DedupeSize: 3}, rec.handle)
	steps := []struct {
		ids  []string
		want int
	}{
		{[]string{"a", "b"}, 200},      // call 1: a b
		{[]string{"b", "c", "c"}, 503}, // call 2 fails: c not remembered
		{[]string{"b", "c", "c"}, 200}, // call 3: c, once
		{[]string{"a", "b", "c"}, 200}, // only duplicates: no call
		{[]string{"d"}, 200},           // call 4: d; a is forgotten (DedupeSize 3)
		{[]string{"a", "d"}, 200},      // call 5: a again
	}
	for i, step := range steps {
		resp := serve(h, newRequest(t, envelope(t, step.ids...), time.Now()))
		require.Equal(t, step.want, resp.StatusCode, "step %d", i)
	}
	assert.Equal(t, [][]string{{"a", "b"}, {"c"}, {"c"}, {"d"}, {"a"}}, rec.calls)
}

// countingReader is an endless body that counts the bytes read from it.
type countingReader struct{ n atomic.Int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	c.n.Add(int64(len(p)))
	return len(p), nil
}

func TestHandlerBodyLimitReadsNoFurther(t *testing.T) {
	secret := testSecret("limit")
	tests := []struct {
		name     string
		cfg      Config
		sign     bool
		want     int
		maxBytes int64
	}{
		{"over the limit", Config{MaxBodyBytes: 1024}, false, 413, 1025},
		{"default limit", Config{}, false, 413, DefaultMaxBodyBytes + 1},
		{"unsigned: nothing read", Config{Secrets: []string{secret}}, false, 401, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := &countingReader{}
			r := httptest.NewRequest(http.MethodPost, "/events", body)
			r.ContentLength = -1
			r.Header.Set("Content-Type", notifications.EventsMediaType)
			rec := &recorder{}
			resp := serve(New(tt.cfg, rec.handle), r)
			assert.Equal(t, tt.want, resp.StatusCode)
			assert.LessOrEqual(t, body.n.Load(), tt.maxBytes)
			assert.Empty(t, rec.ids())
		})
	}
}

func TestHandlerMisconfigured(t *testing.T) {
	cfg := Config{Secrets: []string{testSecret("good"), "whsec_c2VjcmV0LXZhbHVl"}}
	err := cfg.Validate()
	require.ErrorIs(t, err, ErrInvalidConfig)
	require.ErrorIs(t, err, ErrMalformedSecret)
	assert.Contains(t, err.Error(), "secret 1")
	assert.NotContains(t, err.Error(), "c2VjcmV0LXZhbHVl")

	rec := &recorder{}
	resp := serve(New(cfg, rec.handle), newRequest(t, envelope(t, "a"), time.Now()))
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode, "never accepts unsigned requests instead")
	assert.Empty(t, rec.ids())

	require.NoError(t, Config{}.Validate())
	require.NoError(t, Config{Secrets: []string{testSecret("good")}}.Validate())
	assert.Panics(t, func() { New(Config{}, nil) })
}

// TestHandlerConcurrentDuplicates sends the same envelopes from many
// goroutines over loopback: every event reaches handle exactly once.
func TestHandlerConcurrentDuplicates(t *testing.T) {
	secret := testSecret("concurrent")
	var mu sync.Mutex
	counts := map[string]int{}
	h := New(Config{Secrets: []string{secret}}, func(_ context.Context, events []notifications.Event) error {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range events {
			counts[e.ID]++
		}
		return nil
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	const senders, envelopes = 8, 20
	key, err := stdwebhooks.ParseSecret(secret)
	require.NoError(t, err)
	bodies := make([][][]byte, senders) // built here: no require in the goroutines
	for s := range senders {
		for i := range envelopes {
			bodies[s] = append(bodies[s], envelope(t, fmt.Sprintf("e%d", i), fmt.Sprintf("e%d", (i+s)%envelopes)))
		}
	}
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, body := range bodies[s] {
				for { // retry as an endpoint would, until accepted
					req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
					if !assert.NoError(t, err) {
						return
					}
					req.Header.Set("Content-Type", notifications.EventsMediaType)
					stdwebhooks.Sign(req.Header, [][]byte{key}, "msg_concurrent", time.Now(), body)
					resp, err := srv.Client().Do(req)
					if !assert.NoError(t, err) {
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						break
					}
					if !assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode) {
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, counts, envelopes)
	for id, n := range counts {
		assert.Equal(t, 1, n, "event %s handled once", id)
	}
}
