package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/receiver"
)

// sink is a webhook receiver behind the relay: it records every event it is
// handed (the receiver package dedupes by ID, so a count above one means
// the relay sent an event twice in separate requests it accepted... which
// the receiver would drop; raw counts are kept in posts).
type sink struct {
	*httptest.Server
	mu     sync.Mutex
	events []notifications.Event
	posts  int
}

func newSink(t *testing.T) *sink {
	s := &sink{}
	h := receiver.New(receiver.Config{}, func(_ context.Context, events []notifications.Event) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.events = append(s.events, events...)
		return nil
	})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.posts++
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sink) received() []notifications.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notifications.Event(nil), s.events...)
}

// quiet is a logger that records instead of printing.
func quiet() (logrus.FieldLogger, *test.Hook) {
	l, hook := test.NewNullLogger()
	l.SetLevel(logrus.DebugLevel)
	return l, hook
}

// openEndpoint opens an endpoint to url with fast retries.
func openEndpoint(t *testing.T, name, url string, config notifications.EndpointConfig) *notifications.Endpoint {
	t.Helper()
	config.Threshold, config.Backoff = 3, time.Millisecond
	config.Logger, _ = quiet()
	e, err := notifications.OpenEndpoint(name, url, config)
	require.NoError(t, err)
	return e
}

// events returns n events with IDs prefix-0, ... and every seed field set.
func events(prefix string, n int) []notifications.Event {
	out := make([]notifications.Event, n)
	for i := range out {
		e := &out[i]
		e.ID = fmt.Sprintf("%s-%d", prefix, i)
		e.Timestamp = time.Date(2026, 12, 1, 15, 0, i, 0, time.UTC)
		e.Action = notifications.EventActionPush
		e.Target.Type = notifications.EventTargetTypeManifest
		e.Target.Name = "library/hello"
		e.Target.Digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		e.Target.Tag = "latest"
		e.Target.URL = "http://registry.local/v2/library/hello/manifests/latest"
		e.Request = notifications.RequestRecord{ID: "req", Addr: "10.0.0.1:1234", Host: "registry.local", Method: "PUT", UserAgent: "docker/27"}
		e.Actor.Name = "ci"
		e.Source = notifications.SourceRecord{Addr: "registry-1:5000", InstanceID: "instance"}
	}
	return out
}

// post sends events to the relay's ingress as a registry does and returns
// the status.
func post(t *testing.T, url, token string, events []notifications.Event) int {
	t.Helper()
	authorization := ""
	if token != "" {
		authorization = "Bearer " + token
	}
	return postAuthorized(t, url, authorization, events)
}

// postAuthorized is post with this Authorization header (none when empty).
func postAuthorized(t *testing.T, url, authorization string, events []notifications.Event) int {
	t.Helper()
	body, err := json.Marshal(notifications.Envelope{Events: events})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url+EventsPath, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", notifications.EventsMediaType)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// newRelay returns a relay over endpoints, closed when the test ends, and
// its ingress URL.
func newRelay(t *testing.T, cfg Config, endpoints ...*notifications.Endpoint) (*Relay, string) {
	t.Helper()
	for _, e := range endpoints {
		cfg.Targets = append(cfg.Targets, Target{Endpoint: e})
	}
	if cfg.Logger == nil {
		cfg.Logger, _ = quiet()
	}
	r, err := New(cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(r.Handler())
	t.Cleanup(func() {
		srv.Close()
		_ = r.Close()
	})
	return r, srv.URL
}

func TestRelayDeliversEveryField(t *testing.T) {
	a, b := newSink(t), newSink(t)
	r, url := newRelay(t, Config{}, openEndpoint(t, "a", a.URL, notifications.EndpointConfig{}), openEndpoint(t, "b", b.URL, notifications.EndpointConfig{}))
	sent := events("e", 5)
	require.Equal(t, http.StatusOK, post(t, url, "", sent[:2]))
	require.Equal(t, http.StatusOK, post(t, url, "", sent[2:]))
	require.NoError(t, r.Close())
	for _, s := range []*sink{a, b} {
		got := s.received()
		require.Len(t, got, len(sent))
		for i := range sent {
			assert.True(t, sent[i].Timestamp.Equal(got[i].Timestamp))
			got[i].Timestamp = sent[i].Timestamp
		}
		assert.Equal(t, sent, got)
	}
}

func TestRelayDedupesByID(t *testing.T) {
	a := newSink(t)
	e := openEndpoint(t, "a", a.URL, notifications.EndpointConfig{})
	r, url := newRelay(t, Config{}, e)
	sent := events("dup", 3)
	for range 3 { // a registry retrying an answer it lost
		require.Equal(t, http.StatusOK, post(t, url, "", sent))
	}
	require.Equal(t, http.StatusOK, post(t, url, "", append(events("dup", 4)[3:], sent[0])))
	require.NoError(t, r.Close())
	a.mu.Lock()
	defer a.mu.Unlock()
	assert.Equal(t, []string{"dup-0", "dup-1", "dup-2", "dup-3"}, eventIDs(a.events))
	// The sink's receiver dedupes too: the endpoint's count says what left
	// the relay. (The POSTs were 2, one a block, or 1 when the second block
	// came before the first was sent.)
	var m notifications.EndpointMetrics
	e.ReadMetrics(&m)
	assert.Equal(t, 4, m.Events, "events sent again never leave the relay")
	assert.LessOrEqual(t, a.posts, 2)
}

func TestRelayAnswers503UntilEveryEndpointHolds(t *testing.T) {
	a := newSink(t)
	open := openEndpoint(t, "open", a.URL, notifications.EndpointConfig{})
	closed := openEndpoint(t, "closed", a.URL, notifications.EndpointConfig{})
	require.NoError(t, closed.Close())
	log, hook := quiet()
	r, url := newRelay(t, Config{Logger: log}, open, closed)
	sent := events("partial", 2)
	assert.Equal(t, http.StatusServiceUnavailable, post(t, url, "", sent))
	assert.Equal(t, http.StatusServiceUnavailable, post(t, url, "", sent), "the registry retries")
	assert.Equal(t, 2, r.partial.len(), "the open endpoint's share is remembered")
	require.NoError(t, open.Close())
	assert.Len(t, a.received(), 2, "the endpoint that took the events is not given them again")
	assert.Contains(t, hook.LastEntry().Message, "refused")
	assert.Contains(t, fmt.Sprint(hook.LastEntry().Data["error"]), `endpoint "closed"`)
}

func TestRelayBearerToken(t *testing.T) {
	a := newSink(t)
	_, url := newRelay(t, Config{Token: "t0ken"}, openEndpoint(t, "a", a.URL, notifications.EndpointConfig{}))
	tests := []struct {
		authorization string
		want          int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer wrong", http.StatusUnauthorized},
		{"Bearer t0ken", http.StatusOK},
		{"bearer t0ken", http.StatusOK}, // the scheme is case-insensitive (RFC 9110)
		{"Basic t0ken", http.StatusUnauthorized},
		{"t0ken", http.StatusUnauthorized},
		{"Bearer t0ken2", http.StatusUnauthorized},
	}
	for i, tt := range tests {
		assert.Equal(t, tt.want, postAuthorized(t, url, tt.authorization, events(fmt.Sprint("tok-", i), 1)), "Authorization %q", tt.authorization)
	}
}

func TestRelaySignedIngress(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	a := newSink(t)
	r, url := newRelay(t, Config{Secrets: []string{secret}}, openEndpoint(t, "a", a.URL, notifications.EndpointConfig{}))
	assert.Equal(t, http.StatusUnauthorized, post(t, url, "", events("unsigned", 1)))
	// A regnotify endpoint that signs is a sender the relay accepts.
	signer := openEndpoint(t, "signer", url+EventsPath, notifications.EndpointConfig{SigningSecrets: []string{secret}})
	require.NoError(t, signer.Write(events("signed", 2)...))
	require.NoError(t, signer.Close())
	require.NoError(t, r.Close())
	assert.Len(t, a.received(), 2)
}

func TestRunStopsIngressThenFlushes(t *testing.T) {
	a := newSink(t)
	log, hook := quiet()
	r, err := New(Config{Targets: []Target{{Endpoint: openEndpoint(t, "a", a.URL, notifications.EndpointConfig{})}}, Logger: log, StatusInterval: time.Millisecond})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, &HTTPIngress{Listener: ln}) }()
	url := "http://" + ln.Addr().String()
	require.Equal(t, http.StatusOK, post(t, url, "", events("run", 3)))
	require.Eventually(t, func() bool {
		for _, e := range hook.AllEntries() {
			if e.Message == "relay: endpoint status (counts since the last line)" {
				return true
			}
		}
		return false
	}, 10*time.Second, time.Millisecond, "Run logs where each endpoint stands")
	cancel()
	require.NoError(t, <-done)
	assert.Len(t, a.received(), 3)
	assert.True(t, r.Stopping())
	_, err = net.Dial("tcp", ln.Addr().String())
	assert.Error(t, err, "the ingress no longer listens")
	var closedLine bool
	for _, e := range hook.AllEntries() {
		closedLine = closedLine || (e.Message == "relay: endpoint closed, everything delivered" && e.Data["endpoint"] == "a")
	}
	assert.True(t, closedLine, "the log says how each endpoint ended")
}

func TestNewRefusesNoEndpoint(t *testing.T) {
	_, err := New(Config{})
	assert.Error(t, err)
	_, err = New(Config{Targets: []Target{{}}})
	assert.Error(t, err)
}

// A Token or a secret the HTTP ingress could never match refused every
// request, for ever (401, or 500 for a malformed secret): New refuses it,
// without quoting it.
func TestNewRefusesCredentialsNoRequestMatches(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"token with a trailing space", Config{Token: "t0ken-XYZZY "}, "Token ends with a space or a tab"},
		{"token with a trailing tab", Config{Token: "t0ken-XYZZY\t"}, "Token ends with a space or a tab"},
		{"token with a line break", Config{Token: "t0ken-XYZZY\n"}, "control character"},
		{"token with a NUL", Config{Token: "t0ken\x00XYZZY"}, "control character"},
		{"malformed secret", Config{Secrets: []string{"whsec_not-base64-XYZZY!"}}, "Secrets: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Targets = []Target{{Endpoint: openEndpoint(t, "a", "http://127.0.0.1:1/", notifications.EndpointConfig{})}}
			r, err := New(tt.cfg)
			assert.Nil(t, r)
			require.Error(t, err)
			assert.Contains(t, strings.ToLower(err.Error()), strings.ToLower(tt.want))
			assert.NotContains(t, err.Error(), "XYZZY", "the value is not quoted")
			require.NoError(t, tt.cfg.Targets[0].Endpoint.Close())
		})
	}
	// A space or a tab inside or before a token, or a Unicode space after
	// it, is carried: taken.
	r, err := New(Config{Token: " t0ken with\tspaces\u00a0", Targets: []Target{{Endpoint: openEndpoint(t, "a", "http://127.0.0.1:1/", notifications.EndpointConfig{})}}})
	require.NoError(t, err)
	require.NoError(t, r.Close())
}

// httptestServer serves h on loopback until the test ends and returns its
// URL.
func httptestServer(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// Ignore.MediaTypes (distribution's ignoredmediatypes) keep events of those
// target media types from one endpoint, not from the others.
func TestRelayIgnoredMediaTypes(t *testing.T) {
	a, b := newSink(t), newSink(t)
	log, _ := quiet()
	r, err := New(Config{Logger: log, Targets: []Target{
		{Endpoint: openEndpoint(t, "a", a.URL, notifications.EndpointConfig{Ignore: notifications.IgnoreConfig{MediaTypes: []string{"application/octet-stream"}}})},
		{Endpoint: openEndpoint(t, "b", b.URL, notifications.EndpointConfig{})},
	}})
	require.NoError(t, err)
	sent := events("mt", 2)
	sent[0].Target.MediaType = "application/octet-stream"
	sent[1].Target.MediaType = "application/vnd.oci.image.manifest.v1+json"
	require.NoError(t, r.Write(sent))
	require.NoError(t, r.Close())
	assert.Equal(t, []string{"mt-1"}, eventIDs(a.received()))
	assert.Equal(t, []string{"mt-0", "mt-1"}, eventIDs(b.received()))
}

// An event without an ID cannot be told apart from another: the relay's
// record of which targets took a block refused in part would have taken a
// later ID-less event for it, and one target never got that event, nor
// counted it. Write refuses such a block before any target gets it.
func TestWriteRefusesEventsWithoutAnID(t *testing.T) {
	a := newSink(t)
	e := openEndpoint(t, "a", a.URL, notifications.EndpointConfig{})
	r, err := New(Config{Targets: []Target{{Endpoint: e}}})
	require.NoError(t, err)
	block := events("x", 3)
	block[1].ID = ""
	err = r.Write(block)
	require.ErrorIs(t, err, ErrNoID)
	assert.ErrorContains(t, err, "event 2 of 3")
	require.NoError(t, r.Write(events("y", 1)))
	require.NoError(t, r.Close())
	assert.Equal(t, []string{"y-0"}, eventIDs(a.received()), "nothing of the refused block")
}
