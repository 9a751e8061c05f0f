package relay

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications"
)

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
