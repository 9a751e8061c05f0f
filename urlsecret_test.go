package notifications

import (
	"encoding/json"
	"expvar"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// userinfoParts are the user name and password pieces of the URLs below:
// none may appear in an error, a log line or expvar.
var userinfoParts = []string{"alice9", "Zq", "x9", "4711"}

// assertNoUserinfo fails when s holds a part of the user info.
func assertNoUserinfo(t *testing.T, s, what string) {
	t.Helper()
	for _, part := range userinfoParts {
		assert.NotContains(t, s, part, "%s shows part of the user info", what)
	}
}

func TestURLUserinfoNeverShown(t *testing.T) {
	urls := []struct {
		name   string
		url    string
		usable bool // OpenEndpoint accepts it
	}{
		{"well-formed", "http://alice9:Zqx9@127.0.0.1:1/hook", true},
		{"user name only", "http://alice9Zqx9@127.0.0.1:1/hook", true},
		{"# in the password", "http://alice9:Zq#x9@127.0.0.1:1/hook", false},
		{"/ in the password", "http://alice9:Zq/x9@127.0.0.1:1/hook", false},
		{"? in the password", "http://alice9:Zq?x9@127.0.0.1:1/hook", false},
		{"digits read as a port", "http://alice9:4711/Zqx9@127.0.0.1:1/hook", false},
		{"no scheme: opaque", "alice9:Zqx9@127.0.0.1:1/hook", false},
		{"no scheme, no password", "alice9Zqx9@127.0.0.1:1/hook", false},
		{"bad escape", "http://alice9:Zq%zzx9@127.0.0.1:1/hook", false},
		{"space", "http://alice9:Zq x9@127.0.0.1:1/hook", false},
		{"control character", "http://alice9:Zq\x7fx9@127.0.0.1:1/hook", false},
		{"two @", "http://alice9:Zq@x9@127.0.0.1:1/hook", true},
		{"@ in the path too", "http://alice9:Zqx9@127.0.0.1:1/a@b", false},
	}
	for _, tt := range urls {
		t.Run(tt.name, func(t *testing.T) {
			config := fastConfig()
			config.CloseTimeout = -1

			e, err := OpenEndpoint("hook", tt.url, config)
			if tt.usable {
				require.NoError(t, err)
				require.NoError(t, e.Close())
			} else {
				require.ErrorIs(t, err, ErrInvalidConfig)
				assertNoUserinfo(t, err.Error(), "OpenEndpoint's error")
			}

			logger, hook := logtest.NewNullLogger()
			logger.SetLevel(logrus.DebugLevel)
			config.Logger = logger
			config.MaxEventAge = 1 // gives up at once: Close does not wait
			e = NewEndpoint("hook", tt.url, config)
			published, err := json.Marshal(e.published())
			require.NoError(t, err)
			assertNoUserinfo(t, string(published), "the expvar entry")
			assertNoUserinfo(t, expvar.Get("registry").String(), "expvar")
			require.NoError(t, e.Close())
			assertLogOmits(t, hook, "part of the user info", userinfoParts...)

			d := newHTTPDeliverer(tt.url, fastConfig())
			defer d.Close()
			got := d.Deliver(t.Context(), testEvents("u", 1))
			require.Error(t, got.Err)
			assertNoUserinfo(t, got.Err.Error(), "a delivery error")
		})
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://hooks.example/registry", "https://hooks.example/registry"},
		{"https://u:p@hooks.example/registry", "https://xxxxx@hooks.example/registry"},
		{"https://u@hooks.example/", "https://xxxxx@hooks.example/"},
		{"https://u:p#q@hooks.example/", "https://xxxxx@hooks.example/"},
		{"u:p@hooks.example/", "xxxxx@hooks.example/"},
		{"u:a://b@hooks.example/", "xxxxx@hooks.example/"},
		{"nats://u:p@a:4222,nats://b:4222 registry.events.>", "nats://xxxxx@a:4222,nats://b:4222 registry.events.>"},
		{"not a URL", "not a URL"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, RedactURL(tt.in), tt.in)
	}
	assert.False(t, strings.Contains(RedactURL("http://alice9:4711/Zq@h/"), "4711"))
}

// expvar shows an endpoint's scheme and host only: webhook services put
// their secret in the path (Slack, Discord, Teams) or the query (Azure
// Functions), where no header can take it.
func TestExpvarWithholdsPathAndQuery(t *testing.T) {
	tests := []struct{ url, published string }{
		{"https://hooks.slack.com/services/T0ABC/B0DEF/S3cretS3cret", "https://hooks.slack.com/xxxxx"},
		{"https://discord.com/api/webhooks/1234/S3cretS3cret", "https://discord.com/xxxxx"},
		{"https://fn.azurewebsites.net/api/hook?code=S3cretS3cret", "https://fn.azurewebsites.net/xxxxx"},
		{"https://u:S3cretS3cret@hooks.example:8443/registry#S3cretS3cret", "https://xxxxx@hooks.example:8443/xxxxx"},
		{"https://hooks.example?S3cretS3cret", "https://hooks.example/xxxxx"},
		{"https://hooks.example/", "https://hooks.example/"},
		{"https://hooks.example", "https://hooks.example"},
		{"hooks.example/S3cretS3cret", "hooks.example/xxxxx"},
		{"hooks.example/services/S3cretS3cret?next=http://x", "hooks.example/xxxxx"},
		{"hooks.example?https://S3cretS3cret", "hooks.example/xxxxx"},
		{`https://hooks.slack.com\services\S3cretS3cret`, "https://hooks.slack.com/xxxxx"},
		{"http://[::1]:8080/S3cretS3cret", "http://[::1]:8080/xxxxx"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			config := fastConfig()
			config.CloseTimeout = -1
			e := NewEndpoint("hook", tt.url, config)
			defer func() { _ = e.Close() }()
			assert.Equal(t, tt.published, e.published().URL)
			assert.NotContains(t, expvar.Get("registry").String(), "S3cret")
		})
	}
}

// The target of a Deliverer of the caller's is shown as it was given, user
// info aside: it need not be a URL (a JetStream endpoint's is a server list
// and subjects).
func TestExpvarShowsADelivererTarget(t *testing.T) {
	e, err := NewDelivererEndpoint("js", "nats://u:p@a:4222,nats://b:4222 registry.events.>", &fakeDeliverer{}, fastConfig())
	require.NoError(t, err)
	defer func() { assert.NoError(t, e.Close()) }()
	assert.Equal(t, "nats://xxxxx@a:4222,nats://b:4222 registry.events.>", e.published().URL)
}

// README, Security: "Delivery errors never quote the URL", so a secret in
// its path or query (Slack's, an Azure Function's) reaches no error, no
// LastFailure and no log line, whatever the failure: a refused dial, a
// status the receiver answered, a request that timed out.
func TestDeliveryErrorsQuoteNoPathOrQuery(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer failing.Close()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	const secret = "/services/S3cretPath?code=S3cretQuery"
	for _, tt := range []struct{ name, url string }{
		{"refused dial", "http://127.0.0.1:1" + secret},
		{"status 500", failing.URL + secret},
		{"timeout", slow.URL + secret},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logger, hook := logtest.NewNullLogger()
			logger.SetLevel(logrus.DebugLevel)
			config := fastConfig()
			config.Timeout = 50 * time.Millisecond
			config.Logger = logger
			config.CloseTimeout = 10 * time.Millisecond // what is left is given up, and logged
			e, err := OpenEndpoint("secret-path", tt.url, config)
			require.NoError(t, err)
			assert.Equal(t, tt.url, e.URL(), "URL() returns it as configured")
			require.NoError(t, e.Write(testEvents("s", 1)...))
			var m EndpointMetrics
			require.Eventually(t, func() bool {
				e.ReadMetrics(&m)
				return m.LastFailure != ""
			}, 10*time.Second, time.Millisecond)
			_ = e.Close()
			assert.NotContains(t, m.LastFailure, "S3cret")
			assertLogOmits(t, hook, "the URL's path or query", "S3cret")

			d := newHTTPDeliverer(tt.url, config)
			defer d.Close()
			got := d.Deliver(t.Context(), testEvents("s", 1))
			require.NotEqual(t, Accepted, got.Outcome)
			if got.Err != nil {
				assert.NotContains(t, got.Err.Error(), "S3cret")
			}
		})
	}
}

// Endpoint.URL returns the URL as configured, user info included, while
// expvar shows it without.
func TestURLReturnsTheConfiguredURL(t *testing.T) {
	const url = "http://alice9:Zqx9@127.0.0.1:1/hook"
	e, err := OpenEndpoint("configured", url, fastConfig())
	require.NoError(t, err)
	defer func() { assert.NoError(t, e.Close()) }()
	assert.Equal(t, url, e.URL())
	assertNoUserinfo(t, e.published().URL, "expvar")
}
