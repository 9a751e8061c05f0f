package notifications

import (
	"context"
	"encoding/json"
	"errors"
	"expvar"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewEndpointDefaults(t *testing.T) {
	tests := []struct {
		name   string
		config EndpointConfig
		want   EndpointConfig
	}{
		{"zero", EndpointConfig{}, EndpointConfig{Timeout: time.Second, Threshold: 10, Backoff: time.Second}},
		{"negative", EndpointConfig{Timeout: -1, Threshold: -1, Backoff: -1}, EndpointConfig{Timeout: time.Second, Threshold: 10, Backoff: time.Second}},
		{"kept", EndpointConfig{Timeout: 3 * time.Second, Threshold: 2, Backoff: 5 * time.Second}, EndpointConfig{Timeout: 3 * time.Second, Threshold: 2, Backoff: 5 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEndpoint("defaults", "http://127.0.0.1:1/", tt.config)
			defer e.Close()
			assert.Equal(t, tt.want.Timeout, e.Timeout)
			assert.Equal(t, tt.want.Threshold, e.Threshold)
			assert.Equal(t, tt.want.Backoff, e.Backoff)
			assert.Equal(t, "defaults", e.Name())
			assert.Equal(t, "http://127.0.0.1:1/", e.URL())
		})
	}
}

func TestEndpointDeliversInOrderWithHeaders(t *testing.T) {
	rc := newReceiver(t, nil)
	config := fastConfig()
	config.Headers = http.Header{"Authorization": {"Bearer s3cret"}, "X-Multi": {"one", "two"}}
	e := NewEndpoint("order", rc.URL, config)
	var want []string
	for i := range 100 {
		block := testEvents("order-"+string(rune('a'+i%26)), 1+i%3)
		for j := range block {
			block[j].ID += "-" + time.Now().Format(time.RFC3339Nano)
		}
		want = append(want, ids(block)...)
		require.NoError(t, e.Write(block...))
	}
	checkClose(t, e)
	assert.Equal(t, want, ids(rc.received()))
	for _, h := range rc.requestHeaders() {
		assert.Equal(t, EventsMediaType, h.Get("Content-Type"))
		assert.Equal(t, []string{"Bearer s3cret"}, h.Values("Authorization"))
		assert.Equal(t, []string{"one", "two"}, h.Values("X-Multi"))
	}
	var m EndpointMetrics
	e.ReadMetrics(&m)
	assert.Equal(t, len(want), m.Events)
	assert.Equal(t, len(want), m.Successes)
	assert.Equal(t, map[string]int{"200 OK": len(want)}, m.Statuses)
	assert.Zero(t, m.Pending)
}

func TestEndpointAnswers(t *testing.T) {
	tests := []struct {
		name      string
		codes     []int // answers in turn; the last repeats
		wantStats map[string]int
		wantFail  int
	}{
		{"2xx accepted", []int{http.StatusAccepted}, map[string]int{"202 Accepted": 2}, 0},
		{"3xx accepted", []int{http.StatusNotModified}, map[string]int{"304 Not Modified": 2}, 0},
		{"5xx retried", []int{500, 502, 200}, map[string]int{"500 Internal Server Error": 2, "502 Bad Gateway": 2, "200 OK": 2}, 4},
		{"429 retried", []int{429, 200}, map[string]int{"429 Too Many Requests": 2, "200 OK": 2}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, func(n int, _ http.ResponseWriter) int {
				return tt.codes[min(n, len(tt.codes))-1]
			})
			e := NewEndpoint(tt.name, rc.URL, fastConfig())
			require.NoError(t, e.Write(testEvents("a", 2)...))
			require.NoError(t, e.Close())
			var m EndpointMetrics
			e.ReadMetrics(&m)
			assert.Equal(t, tt.wantStats, m.Statuses)
			assert.Equal(t, 2, m.Successes)
			assert.Equal(t, tt.wantFail, m.Failures)
			assert.Zero(t, m.Errors)
		})
	}
}

func TestEndpointRetriesTransportErrorsAndTimeouts(t *testing.T) {
	var slow atomic.Int32
	slow.Store(2)
	rc := newReceiver(t, func(int, http.ResponseWriter) int {
		if slow.Add(-1) >= 0 {
			time.Sleep(200 * time.Millisecond) // longer than the endpoint's timeout
		}
		return http.StatusOK
	})
	config := fastConfig()
	config.Timeout = 20 * time.Millisecond
	e := NewEndpoint("timeouts", rc.URL, config)
	require.NoError(t, e.Write(testEvents("t", 3)...))
	require.NoError(t, e.Close())
	var m EndpointMetrics
	e.ReadMetrics(&m)
	// The first attempt, of the three events, timed out: they were sent
	// again in parts of one (the pace, half of three), the first of which
	// timed out too, then was sent again.
	assert.Equal(t, 3+1, m.Errors, "the timed-out attempts' events")
	assert.Zero(t, e.Sink.(*eventQueue).fit.paced.Load(), "a single event's timeout lifted the pace")
	assert.Equal(t, 3, m.Successes)
	assert.Equal(t, map[string]int{"200 OK": 3}, m.Statuses, "errors add no status key")
	assert.Len(t, rc.received(), 3)
}

// README, Configuration: Timeout bounds each request "from dialling to the
// end of the answer": an answer whose body never ends does not hold the
// endpoint (the attempt returns, with the status it had; without the bound
// this test would hang until its own timeout).
func TestEndpointTimeoutBoundsAStalledAnswer(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("half"))
		w.(http.Flusher).Flush()
		select { // the rest of the body never comes
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	config := fastConfig()
	config.Timeout = 500 * time.Millisecond
	d := newHTTPDeliverer(srv.URL, config)
	defer d.Close()
	got := d.Deliver(t.Context(), testEvents("stalled", 1))
	assert.Equal(t, Accepted, got.Outcome, "the status came: %v", got.Err)
	assert.Equal(t, "200 OK", got.Status)
}

// TestEndpointDoesNotPaceOnDialTimeouts: an attempt that timed out while it
// dialed never reached the receiver, so its batch's size was not why no
// answer came: the batch is sent again whole, and batches stay unpaced.
// (An endpoint behind an unreachable host used to come back from the
// outage with batches cut to a few events.)
func TestEndpointDoesNotPaceOnDialTimeouts(t *testing.T) {
	rc := newReceiver(t, func(int, http.ResponseWriter) int { return http.StatusOK })
	released := make(chan struct{})
	defer close(released)
	var dials atomic.Int32
	transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) == 1 { // hangs until the attempt gives up
			select {
			case <-ctx.Done():
			case <-released:
			}
			return nil, errors.New("dial abandoned")
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	config := fastConfig()
	config.Timeout = 300 * time.Millisecond // the hanging dial's, and room for the next attempt's round trip
	config.Transport = transport
	e := NewEndpoint("unreachable", rc.URL, config)
	require.NoError(t, e.Write(testEvents("d", 10)...))
	require.NoError(t, e.Close())
	var m EndpointMetrics
	e.ReadMetrics(&m)
	assert.Equal(t, 10, m.Errors, "one attempt of the ten events timed out")
	assert.Equal(t, 10, m.Successes)
	assert.Len(t, rc.received(), 10)
	assert.Len(t, rc.requestHeaders(), 1, "the batch was sent again whole, in one request")
	assert.Zero(t, e.Sink.(*eventQueue).fit.paced.Load(), "batches are not paced")
}

func TestEndpointRetriesDroppedConnections(t *testing.T) {
	rc := newReceiver(t, func(n int, _ http.ResponseWriter) int {
		if n <= 4 {
			return hangUp
		}
		return http.StatusOK
	})
	e := NewEndpoint("dropped", rc.URL, fastConfig())
	require.NoError(t, e.Write(testEvents("d", 2)...))
	require.NoError(t, e.Close())
	var m EndpointMetrics
	e.ReadMetrics(&m)
	assert.Equal(t, 8, m.Errors, "four dropped attempts of two events")
	assert.Equal(t, 2, m.Successes)
	assert.Len(t, rc.received(), 2)
}

func TestEndpointReusesConnections(t *testing.T) {
	var conns atomic.Int32
	rc := newUnstartedReceiver(t, nil)
	rc.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	rc.Start()
	e := NewEndpoint("reuse", rc.URL, fastConfig())
	for range 20 {
		require.NoError(t, e.Write(testEvents("r", 1)...))
	}
	require.NoError(t, e.Close())
	assert.Len(t, rc.received(), 20)
	assert.Equal(t, int32(1), conns.Load(), "one keep-alive connection serves every POST")
}

func TestEndpointExpvarHidesHeaderValues(t *testing.T) {
	rc := newReceiver(t, nil)
	config := fastConfig()
	config.Headers = http.Header{"Authorization": {"Bearer topsecret-value"}}
	e := NewEndpoint("expvar-endpoint", rc.URL, config)
	require.NoError(t, e.Write(testEvents("x", 2)...))
	eventually(t, func() bool {
		var m EndpointMetrics
		e.ReadMetrics(&m)
		return m.Successes == 2
	}, "delivered")

	v := expvar.Get("registry").(*expvar.Map).Get("notifications").(*expvar.Map).Get("endpoints")
	require.NotNil(t, v)
	published := v.String()
	assert.NotContains(t, published, "topsecret")
	var list []map[string]any
	require.NoError(t, json.Unmarshal([]byte(published), &list))
	var found map[string]any
	for _, item := range list {
		if item["name"] == "expvar-endpoint" {
			found = item
		}
	}
	require.NotNil(t, found, "the open endpoint is published")
	assert.Equal(t, rc.URL, found["url"])
	assert.Contains(t, found["Headers"], "Authorization")
	for _, key := range []string{"Timeout", "Threshold", "Backoff", "Metrics"} {
		assert.Contains(t, found, key)
	}
	metrics := found["Metrics"].(map[string]any)
	assert.EqualValues(t, 2, metrics["Successes"])
	assert.Equal(t, map[string]any{"200 OK": float64(2)}, metrics["Statuses"])

	require.NoError(t, e.Close())
	assert.NotContains(t, v.String(), "expvar-endpoint", "a closed endpoint leaves expvar")
}

func TestEndpointErrorsNeverShowHeaderValues(t *testing.T) {
	rc := newReceiver(t, func(int, http.ResponseWriter) int { return http.StatusForbidden })
	config := fastConfig()
	config.Headers = http.Header{"Authorization": {"Bearer topsecret-value"}}
	d := newHTTPDeliverer(rc.URL, config)
	defer d.Close()
	got := d.Deliver(t.Context(), testEvents("s", 1))
	require.Error(t, got.Err)
	err := &DeliveryError{Endpoint: "e", Delivery: got}
	assert.NotContains(t, err.Error(), "topsecret")
	assert.Contains(t, err.Error(), "403 Forbidden")
}

func TestEndpointCloseReleasesGoroutines(t *testing.T) {
	rc := newReceiver(t, nil)
	before := runtime.NumGoroutine()
	for range 30 {
		e := NewEndpoint("leak", rc.URL, fastConfig())
		require.NoError(t, e.Write(testEvents("l", 2)...))
		require.NoError(t, e.Close())
	}
	eventually(t, func() bool { return runtime.NumGoroutine() <= before+2 },
		"goroutines come back after Close (server-side connection goroutines end as clients hang up)")
}

func TestHTTPDelivererRedirects(t *testing.T) {
	rc := newReceiver(t, nil)
	mux := http.NewServeMux()
	mux.Handle("/moved", http.RedirectHandler("/final", http.StatusTemporaryRedirect))
	mux.Handle("/elsewhere", http.RedirectHandler(rc.URL+"/final", http.StatusTemporaryRedirect))
	mux.Handle("/loop", http.RedirectHandler("/loop", http.StatusTemporaryRedirect))
	mux.HandleFunc("/final", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "Bearer s3cret", r.Header.Get("Authorization"), "same-origin redirects keep the headers")
		w.WriteHeader(http.StatusOK)
	})
	origin := httptest.NewServer(mux)
	t.Cleanup(origin.Close)

	config := fastConfig()
	config.Headers = http.Header{"Authorization": {"Bearer s3cret"}}
	tests := []struct {
		path    string
		outcome Outcome
		status  string
	}{
		{"/moved", Accepted, "200 OK"},
		{"/elsewhere", Retry, "307 Temporary Redirect"}, // another port is another origin
		{"/loop", Retry, "307 Temporary Redirect"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			d := newHTTPDeliverer(origin.URL+tt.path, config)
			defer d.Close()
			got := d.Deliver(t.Context(), testEvents("r", 1))
			assert.Equal(t, tt.outcome, got.Outcome, "%v", got.Err)
			assert.Equal(t, tt.status, got.Status)
		})
	}
	assert.Empty(t, rc.requestHeaders(), "nothing reached the other origin")
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"100000", 5 * time.Minute},
		{"99999999999999999999", 5 * time.Minute}, // past int64: capped, not ignored
		{"-99999999999999999999", 0},
		{"soon", 0},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{now.Add(time.Hour).Format(http.TimeFormat), 5 * time.Minute},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, parseRetryAfter(tt.value, now), "Retry-After %q", tt.value)
	}
}
