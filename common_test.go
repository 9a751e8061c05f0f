package notifications

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testEvents returns n distinct events, with IDs prefix-0, prefix-1, ...
func testEvents(prefix string, n int) []Event {
	events := make([]Event, n)
	for i := range events {
		events[i].ID = fmt.Sprintf("%s-%d", prefix, i)
		events[i].Action = EventActionPush
		events[i].Target.Type = EventTargetTypeBlob
		events[i].Target.Name = "library/test"
	}
	return events
}

// ids returns the IDs of events, in order.
func ids(events []Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

// fakeSink records every block written to it. Its Write fails while fail
// returns an error for the attempt number (1-based).
type fakeSink struct {
	mu     sync.Mutex
	blocks [][]Event
	writes int
	closed int
	fail   func(attempt int) error
	block  chan struct{} // when non-nil, Write waits on it first
}

func (s *fakeSink) Write(events ...Event) error {
	if s.block != nil {
		<-s.block
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed > 0 {
		return ErrSinkClosed
	}
	s.writes++
	if s.fail != nil {
		if err := s.fail(s.writes); err != nil {
			return err
		}
	}
	s.blocks = append(s.blocks, append([]Event(nil), events...))
	return nil
}

func (s *fakeSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed++
	if s.closed > 1 {
		return errAlreadyClosed
	}
	return nil
}

// events returns every event written, in order.
func (s *fakeSink) events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Event
	for _, b := range s.blocks {
		out = append(out, b...)
	}
	return out
}

func (s *fakeSink) attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// checkClose closes sink, then checks that a Write after Close returns
// ErrSinkClosed and that a second Close returns an error.
func checkClose(t *testing.T, sink Sink) {
	t.Helper()
	require.NoError(t, sink.Close())
	assert.ErrorIs(t, sink.Write(testEvents("after-close", 1)...), ErrSinkClosed)
	assert.ErrorIs(t, sink.Close(), ErrSinkClosed, "a second Close returns an error")
}

// receiver is an httptest webhook receiver that records every envelope and
// the requests' headers. respond chooses the status for each request (1-based);
// nil answers 200.
type receiver struct {
	*httptest.Server

	mu        sync.Mutex
	envelopes []Envelope
	headers   []http.Header
	requests  int
	respond   func(n int, w http.ResponseWriter) int
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter) int) *receiver {
	rc := newUnstartedReceiver(t, respond)
	rc.Start()
	return rc
}

// newUnstartedReceiver returns a receiver whose server the test configures
// and starts.
func newUnstartedReceiver(t *testing.T, respond func(n int, w http.ResponseWriter) int) *receiver {
	rc := &receiver{respond: respond}
	rc.Server = httptest.NewUnstartedServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

// hangUp is a respond function result that drops the connection instead of
// answering: the sender sees a transport error.
const hangUp = -1

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.requests++
	n := rc.requests
	rc.headers = append(rc.headers, r.Header.Clone())
	rc.mu.Unlock()

	code := http.StatusOK
	if rc.respond != nil {
		code = rc.respond(n, w)
	}
	if code == hangUp {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return
	}
	if code >= 200 && code < 400 {
		var env Envelope
		if err := json.Unmarshal(body, &env); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.envelopes = append(rc.envelopes, env)
		rc.mu.Unlock()
	}
	w.WriteHeader(code)
}

// received returns every event accepted so far, in order.
func (rc *receiver) received() []Event {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []Event
	for _, env := range rc.envelopes {
		out = append(out, env.Events...)
	}
	return out
}

func (rc *receiver) requestHeaders() []http.Header {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]http.Header(nil), rc.headers...)
}

// eventually polls cond until it holds, failing the test after a while.
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, time.Millisecond, msg)
}

// fastConfig is an endpoint configuration with short waits, for tests.
func fastConfig() EndpointConfig {
	return EndpointConfig{Timeout: 2 * time.Second, Threshold: 3, Backoff: time.Millisecond}
}

var errTest = errors.New("test failure")
