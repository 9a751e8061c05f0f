package notifications

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

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
