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
	"sync/atomic"
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

func TestOperations(t *testing.T) {
	a := newSink(t)
	r, _ := newRelay(t, Config{}, openEndpoint(t, "a", a.URL, notifications.EndpointConfig{}))
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "metrics here") })
	ops := httptest.NewServer(r.Operations(metrics))
	defer ops.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(ops.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get(MetricsPath)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "metrics here", body)
	code, body = get(HealthPath)
	assert.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"state":"running","endpoints":[{"name":"a","state":"idle","pending":0,"delivered":0,"failures":0,"errors":0,"dropped":0}]}`, body)
	require.NoError(t, r.Close())
	code, body = get(HealthPath)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, `"stopping"`)
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

func TestPartialSetForgetsOldest(t *testing.T) {
	s := newPartialSet(3, 2)
	for i := range 10 {
		s.mark(events(fmt.Sprint("p", i), 1), i%2)
	}
	held := func(id string, target int) bool {
		return len(s.unheld([]notifications.Event{{ID: id}}, target)) == 0
	}
	assert.Equal(t, 3, s.len())
	assert.True(t, held("p9-0", 1))
	assert.False(t, held("p9-0", 0))
	assert.False(t, held("p0-0", 0), "the oldest are forgotten")
	s.forget(events("p9", 1))
	assert.False(t, held("p9-0", 1))
}

// unheld leaves out, in order, the events a target holds.
func TestPartialSetUnheld(t *testing.T) {
	s := newPartialSet(10, 2)
	sent := events("u", 4)
	assert.Equal(t, eventIDs(sent), eventIDs(s.unheld(sent, 0)), "nothing held")
	s.mark([]notifications.Event{sent[1], sent[3]}, 0)
	assert.Equal(t, []string{"u-0", "u-2"}, eventIDs(s.unheld(sent, 0)))
	assert.Equal(t, eventIDs(sent), eventIDs(s.unheld(sent, 1)), "another target")
	s.mark(sent, 1)
	assert.Empty(t, s.unheld(sent, 1))
}

// httptestServer serves h on loopback until the test ends and returns its
// URL.
func httptestServer(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// An endpoint at MaxPending refuses the block: the registry is answered 503
// and, when it sends the events again once there is room, each endpoint gets
// each event once. The endpoint gives nothing up (the registry sends the
// events again): nothing in Dropped nor in its DeadLetter.
func TestRelayFullEndpointAnswers503(t *testing.T) {
	gate := make(chan struct{})
	full, roomy := newSink(t), newSink(t)
	held := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-gate
		full.Config.Handler.ServeHTTP(w, r)
	})
	dead := &deadLetters{}
	fullEndpoint := openEndpoint(t, "full", held, notifications.EndpointConfig{MaxPending: 1, DeadLetter: dead})
	r, url := newRelay(t, Config{}, fullEndpoint, openEndpoint(t, "roomy", roomy.URL, notifications.EndpointConfig{}))
	require.Equal(t, http.StatusOK, post(t, url, "", events("one", 1)))
	sent := events("two", 1)
	assert.Equal(t, http.StatusServiceUnavailable, post(t, url, "", sent), "the full endpoint cannot hold it")
	close(gate)
	require.Eventually(t, func() bool { return post(t, url, "", sent) == http.StatusOK }, 10*time.Second, 10*time.Millisecond,
		"the registry's retry is taken once there is room")
	require.NoError(t, r.Close())
	assert.Equal(t, []string{"one-0", "two-0"}, eventIDs(full.received()))
	assert.Equal(t, []string{"one-0", "two-0"}, eventIDs(roomy.received()), "the endpoint that took it first is not given it again")
	var m notifications.EndpointMetrics
	fullEndpoint.ReadMetrics(&m)
	assert.Zero(t, m.Dropped, "nothing given up")
	assert.Zero(t, dead.count.Load(), "nothing in the dead letter sink")
}

// deadLetters counts the events a DeadLetter sink is given.
type deadLetters struct{ count atomic.Int64 }

func (d *deadLetters) Write(events ...notifications.Event) error {
	d.count.Add(int64(len(events)))
	return nil
}

func (d *deadLetters) Close() error { return nil }

// Events an endpoint ignores do not count against its MaxPending: a full
// endpoint that ignores pulls does not hold them back from the others.
func TestRelayFullEndpointIgnoringTheEvents(t *testing.T) {
	gate := make(chan struct{})
	held := httptestServer(t, func(w http.ResponseWriter, r *http.Request) { <-gate })
	t.Cleanup(func() { close(gate) }) // before the server's Close, which waits for its handlers
	other := newSink(t)
	_, url := newRelay(t, Config{},
		openEndpoint(t, "full", held, notifications.EndpointConfig{MaxPending: 1, CloseTimeout: 100 * time.Millisecond, Ignore: notifications.IgnoreConfig{Actions: []string{notifications.EventActionPull}}}),
		openEndpoint(t, "other", other.URL, notifications.EndpointConfig{}))
	require.Equal(t, http.StatusOK, post(t, url, "", events("push", 1)), "full holds it, its webhook held")
	pulls := events("pull", 2)
	for i := range pulls {
		pulls[i].Action = notifications.EventActionPull
	}
	assert.Equal(t, http.StatusOK, post(t, url, "", pulls), "full ignores them: only the other endpoint holds them")
	require.Eventually(t, func() bool { return len(other.received()) == 3 }, 10*time.Second, time.Millisecond)
}

// A block larger than an endpoint's MaxPending, which it could never hold,
// is answered 413 (a regnotify sender then sends smaller batches), and no
// endpoint gets it.
func TestRelayBlockLargerThanMaxPending(t *testing.T) {
	small, other := newSink(t), newSink(t)
	r, url := newRelay(t, Config{},
		openEndpoint(t, "other", other.URL, notifications.EndpointConfig{}),
		openEndpoint(t, "small", small.URL, notifications.EndpointConfig{MaxPending: 2}))
	assert.Equal(t, http.StatusRequestEntityTooLarge, post(t, url, "", events("big", 3)))
	assert.Equal(t, http.StatusOK, post(t, url, "", events("fits", 2)))
	require.NoError(t, r.Close())
	assert.Equal(t, []string{"fits-0", "fits-1"}, eventIDs(small.received()))
	assert.Equal(t, []string{"fits-0", "fits-1"}, eventIDs(other.received()), "nothing of the refused block reached the other endpoint")
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

// Status says idle with nothing pending; delivering with events pending
// and no attempt refused or failed since the last accepted one; failing with
// events pending and the last attempt not accepted (what /healthz reports),
// or, in the status log lines, failures grown since the last line.
func TestStatusStates(t *testing.T) {
	var answer atomic.Int32 // the receiver's status; 0: hold the request until release, then 200
	var holding atomic.Bool
	release := make(chan struct{})
	srv := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		code := int(answer.Load())
		if code == 0 {
			holding.Store(true)
			select {
			case <-release:
			case <-r.Context().Done():
			}
			code = http.StatusOK
		}
		w.WriteHeader(code)
	})
	e := openEndpoint(t, "st", srv, notifications.EndpointConfig{Threshold: 1, Backoff: 5 * time.Millisecond, CloseTimeout: time.Millisecond})
	defer e.Close()
	assert.Equal(t, "idle", status(e, nil).State)

	require.NoError(t, e.Write(events("held", 1)...))
	require.Eventually(t, holding.Load, 10*time.Second, time.Millisecond, "the request is out")
	assert.Equal(t, "delivering", status(e, nil).State, "pending, nothing failed")
	answer.Store(http.StatusInternalServerError)
	close(release)
	require.Eventually(t, func() bool { return status(e, nil).State == "idle" }, 10*time.Second, time.Millisecond, "the held event delivered")

	require.NoError(t, e.Write(events("down", 1)...))
	var s EndpointStatus
	require.Eventually(t, func() bool { s = status(e, nil); return s.Failures > 0 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, "failing", s.State, "the last attempt failed: /healthz says so")
	assert.Equal(t, 1, s.Pending)
	assert.Equal(t, "failing", status(e, &EndpointStatus{}).State, "and failures grew since the last status line")

	answer.Store(http.StatusOK)
	require.Eventually(t, func() bool { return status(e, nil).State == "idle" }, 10*time.Second, time.Millisecond, "recovered")
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
