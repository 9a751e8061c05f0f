package notifications

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testAuthHeader = "Bearer topsecret-value"

// newSecondHostReceiver starts a receiver on 127.0.0.2, another host than the
// 127.0.0.1 of httptest servers, or skips the test where that address cannot
// be bound.
func newSecondHostReceiver(t *testing.T) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("127.0.0.2 cannot be bound here: %v", err)
	}
	rc := newUnstartedReceiver(t, nil)
	require.NoError(t, rc.Listener.Close())
	rc.Listener = ln
	rc.Start()
	return rc
}

func TestEndpointDoesNotFollowRedirectToAnotherHost(t *testing.T) {
	other := newSecondHostReceiver(t)
	// The origin redirects the first four attempts, then accepts, so that
	// Close, which waits for the queue to drain, returns.
	var attempts atomic.Int32
	redirect := http.RedirectHandler(other.URL+"/hook?token=abc", http.StatusTemporaryRedirect)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if attempts.Add(1) <= 4 {
			redirect.ServeHTTP(w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(origin.Close)

	logger, hook := logtest.NewNullLogger()
	config := fastConfig()
	config.Headers = http.Header{"Authorization": {testAuthHeader}}
	config.Logger = logger
	e, err := OpenEndpoint("cross-host", origin.URL, config)
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("x", 2)...))
	require.NoError(t, e.Close())

	assert.Empty(t, other.requestHeaders(), "the other host received no request, so no Authorization header")
	var m EndpointMetrics
	e.ReadMetrics(&m)
	assert.Equal(t, 8, m.Failures, "four redirected attempts of two events, each a failure")
	assert.Zero(t, m.Errors, "the origin answered: a failure, not an error")
	assert.Equal(t, 2, m.Successes)
	assert.Equal(t, map[string]int{"307 Temporary Redirect": 8, "200 OK": 2}, m.Statuses)

	var warned *logrus.Entry
	for _, entry := range hook.AllEntries() {
		if strings.Contains(entry.Message, "redirect not followed") {
			warned = entry
		}
	}
	require.NotNil(t, warned, "a log line says why")
	assert.Equal(t, logrus.WarnLevel, warned.Level)
	assert.Equal(t, "cross-host", warned.Data["endpoint"])
	assert.Equal(t, "307 Temporary Redirect", warned.Data["status"])
	assert.Contains(t, warned.Data["reason"], "another origin, http://127.0.0.2:")
	assert.NotContains(t, warned.Data["reason"], "token", "the Location's query stays out of the logs")
	assertLogOmits(t, hook, "a header value", "topsecret")
}

func TestHTTPDelivererRedirectPolicy(t *testing.T) {
	other := newSecondHostReceiver(t)
	_, otherPort, err := net.SplitHostPort(other.Listener.Addr().String())
	require.NoError(t, err)

	var origin *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("/chain/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n == 0 {
			assert.Equal(t, http.MethodPost, r.Method)
			assert.Equal(t, testAuthHeader, r.Header.Get("Authorization"))
			w.WriteHeader(http.StatusOK)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/chain/%d", n-1), http.StatusPermanentRedirect)
	})
	mux.Handle("/found", http.RedirectHandler("/chain/0", http.StatusFound))
	mux.Handle("/see-other", http.RedirectHandler("/chain/0", http.StatusSeeOther))
	mux.Handle("/moved", http.RedirectHandler("/chain/0", http.StatusMovedPermanently))
	mux.Handle("/other-host", http.RedirectHandler(other.URL+"/", http.StatusTemporaryRedirect))
	mux.HandleFunc("/localhost", func(w http.ResponseWriter, r *http.Request) {
		// Same port, another host name: another origin all the same.
		u, _ := url.Parse(origin.URL)
		http.Redirect(w, r, "http://localhost:"+u.Port()+"/chain/0", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/default-port", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.2/", http.StatusTemporaryRedirect)
	})
	mux.Handle("/not-modified", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotModified) // no Location: a final answer
	}))
	origin = httptest.NewServer(mux)
	t.Cleanup(origin.Close)

	config := fastConfig()
	config.Headers = http.Header{"Authorization": {testAuthHeader}}
	tests := []struct {
		path    string
		outcome Outcome
		status  string
		reason  string
	}{
		{"/chain/5", Accepted, "200 OK", ""},
		{"/chain/6", Retry, "308 Permanent Redirect", "more than 5 redirects"},
		{"/found", Retry, "302 Found", "as a GET"},
		{"/see-other", Retry, "303 See Other", "as a GET"},
		{"/moved", Retry, "301 Moved Permanently", "as a GET"},
		{"/other-host", Retry, "307 Temporary Redirect", "another origin, http://127.0.0.2:" + otherPort},
		{"/localhost", Retry, "307 Temporary Redirect", "another origin, http://localhost:"},
		{"/default-port", Retry, "307 Temporary Redirect", "another origin, http://127.0.0.2"},
		{"/not-modified", Accepted, "304 Not Modified", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			logger, hook := logtest.NewNullLogger()
			config.Logger = logger
			d := newHTTPDeliverer(origin.URL+tt.path, config)
			defer d.Close()
			got := d.Deliver(t.Context(), testEvents("r", 1))
			assert.Equal(t, tt.outcome, got.Outcome, "%v", got.Err)
			assert.Equal(t, tt.status, got.Status)
			if tt.reason == "" {
				assert.NoError(t, got.Err)
				assert.Empty(t, hook.AllEntries())
				return
			}
			require.ErrorIs(t, got.Err, ErrRedirectNotFollowed)
			assert.Contains(t, got.Err.Error(), tt.reason)
			require.Len(t, hook.AllEntries(), 1)
			assert.Contains(t, hook.LastEntry().Data["reason"], tt.reason)
			assertLogOmits(t, hook, "a header value", "topsecret")
		})
	}
	assert.Empty(t, other.requestHeaders(), "nothing reached the other host")
}

func TestSameOrigin(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"http://example.com/a", "http://example.com/b?q=1", true},
		{"http://example.com/", "http://example.com:80/", true},
		{"https://example.com/", "https://EXAMPLE.com:443/", true},
		{"http://[::1]:8080/", "http://[::1]:8080/x", true},
		{"http://example.com/", "https://example.com/", false},
		{"http://example.com:8080/", "http://example.com:8081/", false},
		{"http://example.com/", "http://example.org/", false},
		{"http://example.com/", "http://user:pw@example.org/", false},
		{"https://example.com:80/", "http://example.com/", false},
	}
	for _, tt := range tests {
		a, err := url.Parse(tt.a)
		require.NoError(t, err)
		b, err := url.Parse(tt.b)
		require.NoError(t, err)
		assert.Equal(t, tt.want, sameOrigin(a, b), "%s vs %s", tt.a, tt.b)
		assert.Equal(t, tt.want, sameOrigin(b, a), "%s vs %s", tt.b, tt.a)
	}
}

// A redirect whose Location does not parse is not followed, and nothing
// shows its Location: net/http's error for it quotes the header whole.
func TestEndpointRedirectWithUnparsableLocation(t *testing.T) {
	for _, code := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			var attempts atomic.Int32
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if attempts.Add(1) <= 2 {
					w.Header().Set("Location", "https://other.example/cb%zz?token=SEKRET")
					w.WriteHeader(code)
					return
				}
				w.WriteHeader(http.StatusOK)
			}))
			t.Cleanup(origin.Close)
			logger, hook := logtest.NewNullLogger()
			config := fastConfig()
			config.Logger = logger
			var failures []error
			config.OnFinished = func(f Finished) { failures = append(failures, f.Err) }
			e, err := OpenEndpoint("bad-location", origin.URL, config)
			require.NoError(t, err)
			require.NoError(t, e.Write(testEvents("x", 1)...))
			var m EndpointMetrics
			require.Eventually(t, func() bool { e.ReadMetrics(&m); return m.Failures+m.Errors >= 1 }, 10*time.Second, time.Millisecond)
			assert.NotContains(t, m.LastFailure, "SEKRET")
			assert.Contains(t, m.LastFailure, "its Location is not a URL")
			require.NoError(t, e.Close())

			assert.Equal(t, int32(3), attempts.Load(), "retried, then delivered")
			for _, err := range failures {
				assert.NoError(t, err, "the event was delivered in the end")
			}
			assertLogOmits(t, hook, "the Location", "SEKRET", "cb%zz")
			var warned bool
			for _, entry := range hook.AllEntries() {
				warned = warned || (strings.Contains(entry.Message, "redirect not followed") && entry.Data["reason"] == "its Location is not a URL")
			}
			assert.True(t, warned, "a log line says why")
		})
	}
}

// A redirect without a Location told the endpoint nowhere to send the
// events: DefaultStatusPolicy retries it (it was accepted, the events
// counted delivered), and a StatusPolicy of the caller's may still accept
// it.
func TestRedirectWithoutLocation(t *testing.T) {
	rc := newReceiver(t, func(int, http.ResponseWriter) int { return http.StatusTemporaryRedirect })
	tests := []struct {
		name   string
		policy StatusPolicy
		want   Outcome
	}{
		{"default policy", nil, Retry},
		{"a policy accepting every 3xx", func(code int) Outcome {
			if code >= 300 && code < 400 {
				return Accepted
			}
			return DefaultStatusPolicy(code)
		}, Accepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config := fastConfig()
			config.StatusPolicy = tt.policy
			config.Logger = testLogger()
			d := newHTTPDeliverer(rc.URL, config.withDefaults())
			defer d.Close()
			got := d.Deliver(t.Context(), testEvents("r", 1))
			assert.Equal(t, tt.want, got.Outcome, "%v", got.Err)
			assert.Equal(t, "307 Temporary Redirect", got.Status)
			assert.NotErrorIs(t, got.Err, ErrRedirectNotFollowed, "nowhere to follow")
		})
	}
}
