package receiver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regnotify/notifications"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testEvents returns n events with IDs prefix-0, prefix-1, ...
func testEvents(prefix string, n int) []notifications.Event {
	events := make([]notifications.Event, n)
	for i := range events {
		events[i].ID = fmt.Sprintf("%s-%d", prefix, i)
		events[i].Timestamp = time.Now().UTC()
		events[i].Action = notifications.EventActionPush
		events[i].Target.Type = notifications.EventTargetTypeBlob
		events[i].Target.Name = "library/roundtrip"
	}
	return events
}

// statusCounter wraps a handler and counts its answers by status code.
type statusCounter struct {
	next   http.Handler
	counts [600]atomic.Int32
}

func (s *statusCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	s.next.ServeHTTP(sw, r)
	s.counts[sw.code].Add(1)
}

func (s *statusCounter) count(code int) int { return int(s.counts[code].Load()) }

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// openEndpoint opens a signed endpoint to url with short waits.
func openEndpoint(t *testing.T, url string, secrets ...string) *notifications.Endpoint {
	t.Helper()
	e, err := notifications.OpenEndpoint(t.Name(), url, notifications.EndpointConfig{
		SigningSecrets: secrets,
		Timeout:        2 * time.Second,
		Threshold:      3,
		Backoff:        time.Millisecond,
	})
	require.NoError(t, err)
	return e
}

func TestEndpointToReceiverWithKeyRotation(t *testing.T) {
	old, current := testSecret("old"), testSecret("current")
	rec := &recorder{}
	srv := httptest.NewServer(New(Config{Secrets: []string{current}}, rec.handle))
	t.Cleanup(srv.Close)

	e := openEndpoint(t, srv.URL, old, current)
	var want []string
	for i := range 10 {
		events := testEvents(fmt.Sprintf("rotation-%d", i), 1+i%3)
		for _, ev := range events {
			want = append(want, ev.ID)
		}
		require.NoError(t, e.Write(events...))
	}
	require.NoError(t, e.Close()) // flushes
	assert.Equal(t, want, rec.ids())
	var m notifications.EndpointMetrics
	e.ReadMetrics(&m)
	assert.Equal(t, len(want), m.Successes)
	assert.Zero(t, m.Failures)
}

func TestEndpointRetriesAreHandledOnce(t *testing.T) {
	secret := testSecret("retry")
	rec := &recorder{fail: func(call int) error {
		if call == 1 {
			return errors.New("database busy")
		}
		return nil
	}}
	counter := &statusCounter{next: New(Config{Secrets: []string{secret}}, rec.handle)}
	srv := httptest.NewServer(counter)
	t.Cleanup(srv.Close)

	e := openEndpoint(t, srv.URL, secret)
	require.NoError(t, e.Write(testEvents("once", 3)...))
	require.NoError(t, e.Close())

	assert.Equal(t, 1, counter.count(http.StatusServiceUnavailable), "the failed handle answered 503")
	assert.Equal(t, 1, counter.count(http.StatusOK))
	assert.Equal(t, []string{"once-0", "once-1", "once-2"}, rec.ids()[3:], "handled again after the failure")
	var m notifications.EndpointMetrics
	e.ReadMetrics(&m)
	assert.Equal(t, map[string]int{"503 Service Unavailable": 3, "200 OK": 3}, m.Statuses)
}

// TestEndpointTimeoutIsHandledOnce: the first attempt's handle outlasts the
// endpoint's timeout, so the endpoint sends the envelope again while it is
// still being handled, then once more; the events reach handle once.
func TestEndpointTimeoutIsHandledOnce(t *testing.T) {
	secret := testSecret("timeout")
	var calls atomic.Int32
	release := make(chan struct{})
	counter := &statusCounter{}
	counter.next = New(Config{Secrets: []string{secret}}, func(ctx context.Context, events []notifications.Event) error {
		calls.Add(1)
		select { // hold the events until the sender has retried
		case <-release:
		case <-time.After(10 * time.Second):
		}
		return nil
	})
	srv := httptest.NewServer(counter)
	t.Cleanup(srv.Close)

	e, err := notifications.OpenEndpoint("timeout", srv.URL, notifications.EndpointConfig{
		SigningSecrets: []string{secret},
		Timeout:        100 * time.Millisecond,
		Threshold:      10,
		Backoff:        time.Millisecond,
	})
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("slow", 2)...))
	require.Eventually(t, func() bool { return counter.count(http.StatusServiceUnavailable) >= 1 },
		10*time.Second, time.Millisecond, "a retry found the events in flight")
	close(release)
	require.NoError(t, e.Close())

	assert.Equal(t, int32(1), calls.Load(), "handled once")
	var m notifications.EndpointMetrics
	e.ReadMetrics(&m)
	assert.Equal(t, 2, m.Successes)
	assert.Equal(t, 2, m.Statuses["200 OK"], "accepted as a duplicate")
}
