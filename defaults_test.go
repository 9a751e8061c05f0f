package notifications

import (
	"net/http"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// README, Delivery guarantee: "2xx and 3xx accept (a redirect ... without a
// Location is retried). 400, 410, 413, 415 and 422 mean the receiver
// refuses this content ... Everything else ... 408, 425, 429, 5xx — is
// retried". DefaultStatusPolicy's doc: "every other status may succeed
// later and is retried" (so 404 and 1xx too). A redirect the policy sees
// came without a Location (the endpoint handles the others).
func TestDefaultStatusPolicy(t *testing.T) {
	tests := []struct {
		code int
		want Outcome
	}{
		{200, Accepted}, {201, Accepted}, {202, Accepted}, {204, Accepted}, {299, Accepted},
		{300, Accepted}, {304, Accepted}, {305, Accepted}, {399, Accepted},
		{301, Retry}, {302, Retry}, {303, Retry}, {307, Retry}, {308, Retry},
		{400, Reject}, {410, Reject}, {413, Reject}, {415, Reject}, {422, Reject},
		{408, Retry}, {425, Retry}, {429, Retry},
		{500, Retry}, {501, Retry}, {502, Retry}, {503, Retry}, {504, Retry}, {599, Retry},
		{100, Retry}, {199, Retry}, {401, Retry}, {403, Retry}, {404, Retry}, {405, Retry},
		{409, Retry}, {411, Retry}, {412, Retry}, {414, Retry}, {416, Retry}, {418, Retry},
		{421, Retry}, {423, Retry}, {424, Retry}, {426, Retry}, {431, Retry}, {451, Retry},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, DefaultStatusPolicy(tt.code), "status %d", tt.code)
	}
}

// README, Configuration: defaults are "applied to zero values, and for
// Timeout and Backoff to negative ones too" (withDefaults also gives a
// negative Threshold its default: NewEndpoint runs with it, OpenEndpoint
// refuses it, see TestOpenEndpointNegatives): Timeout 1s, Threshold 10, Backoff 1s,
// MaxBatch 1000, CloseTimeout 5s ("negative waits for ever"), SpoolSync 1s,
// BackoffPolicy "ThresholdBackoff from the three fields above" with "±20%
// jitter", Logger "logrus' standard logger".
func TestConfigurationDefaults(t *testing.T) {
	own := ThresholdBackoff{Threshold: 1, Backoff: time.Hour}
	logger := testLogger()
	tests := []struct {
		name   string
		config EndpointConfig
		want   EndpointConfig
	}{
		{"zero", EndpointConfig{}, EndpointConfig{
			Timeout: time.Second, Threshold: 10, Backoff: time.Second, MaxBatch: 1000,
			CloseTimeout: 5 * time.Second, SpoolSync: time.Second,
			BackoffPolicy: ThresholdBackoff{Threshold: 10, Backoff: time.Second, Jitter: 0.2},
			Logger:        logrus.StandardLogger(),
		}},
		{"negative", EndpointConfig{Timeout: -1, Threshold: -1, Backoff: -1, CloseTimeout: -1}, EndpointConfig{
			Timeout: time.Second, Threshold: 10, Backoff: time.Second, MaxBatch: 1000,
			CloseTimeout: -1, SpoolSync: time.Second,
			BackoffPolicy: ThresholdBackoff{Threshold: 10, Backoff: time.Second, Jitter: 0.2},
			Logger:        logrus.StandardLogger(),
		}},
		{"policy from the three fields", EndpointConfig{Threshold: 3, Backoff: 2 * time.Second, MaxBackoff: time.Minute}, EndpointConfig{
			Timeout: time.Second, Threshold: 3, Backoff: 2 * time.Second, MaxBackoff: time.Minute, MaxBatch: 1000,
			CloseTimeout: 5 * time.Second, SpoolSync: time.Second,
			BackoffPolicy: ThresholdBackoff{Threshold: 3, Backoff: 2 * time.Second, MaxBackoff: time.Minute, Jitter: 0.2},
			Logger:        logrus.StandardLogger(),
		}},
		{"set fields kept", EndpointConfig{
			Timeout: 3 * time.Second, Threshold: 2, Backoff: 4 * time.Second, MaxBatch: 7,
			CloseTimeout: time.Minute, SpoolSync: 9 * time.Second, BackoffPolicy: own, Logger: logger,
		}, EndpointConfig{
			Timeout: 3 * time.Second, Threshold: 2, Backoff: 4 * time.Second, MaxBatch: 7,
			CloseTimeout: time.Minute, SpoolSync: 9 * time.Second, BackoffPolicy: own, Logger: logger,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.config.withDefaults()
			assert.Equal(t, tt.want.Timeout, got.Timeout, "Timeout")
			assert.Equal(t, tt.want.Threshold, got.Threshold, "Threshold")
			assert.Equal(t, tt.want.Backoff, got.Backoff, "Backoff")
			assert.Equal(t, tt.want.MaxBackoff, got.MaxBackoff, "MaxBackoff")
			assert.Equal(t, tt.want.MaxBatch, got.MaxBatch, "MaxBatch")
			assert.Equal(t, tt.want.CloseTimeout, got.CloseTimeout, "CloseTimeout")
			assert.Equal(t, tt.want.SpoolSync, got.SpoolSync, "SpoolSync")
			assert.Equal(t, tt.want.BackoffPolicy, got.BackoffPolicy, "BackoffPolicy")
			assert.Same(t, tt.want.Logger, got.Logger, "Logger")
		})
	}

	// "visible on the endpoint afterwards"; its Logger adds the endpoint field.
	e, err := NewDelivererEndpoint("promise-defaults", "fake", &fakeDeliverer{}, EndpointConfig{})
	require.NoError(t, err)
	require.NoError(t, e.Close())
	assert.Equal(t, DefaultCloseTimeout, e.CloseTimeout)
	assert.Equal(t, DefaultSpoolSync, e.SpoolSync)
	assert.Equal(t, ThresholdBackoff{Threshold: 10, Backoff: time.Second, Jitter: 0.2}, e.BackoffPolicy)
	entry, ok := e.Logger.(*logrus.Entry)
	require.True(t, ok, "the endpoint logs through an entry of the default logger")
	assert.Same(t, logrus.StandardLogger(), entry.Logger)
	assert.Equal(t, "promise-defaults", entry.Data["endpoint"])
}

// README, Configuration: OpenEndpoint "refuses a negative count
// (Threshold, MaxPending, MaxBatch) or a negative MaxBackoff, MaxEventAge
// or SpoolSync, which NewEndpoint logs (a negative Threshold then takes its
// default)"; negative Timeout and Backoff take their defaults, visible on
// the endpoint.
func TestOpenEndpointNegatives(t *testing.T) {
	e, err := OpenEndpoint("negatives", "http://127.0.0.1:1/", EndpointConfig{Timeout: -1, Backoff: -time.Second})
	require.NoError(t, err)
	require.NoError(t, e.Close())
	assert.Equal(t, DefaultTimeout, e.Timeout)
	assert.Equal(t, DefaultBackoff, e.Backoff)

	for _, config := range []EndpointConfig{
		{Threshold: -1}, {MaxPending: -1}, {MaxBatch: -1}, {MaxBackoff: -1}, {MaxEventAge: -1}, {SpoolSync: -1},
	} {
		_, err := OpenEndpoint("negatives", "http://127.0.0.1:1/", config)
		assert.ErrorIs(t, err, ErrInvalidConfig, "%+v", config)
	}
	logger, hook := logtest.NewNullLogger()
	e = NewEndpoint("negatives", "http://127.0.0.1:1/", EndpointConfig{Threshold: -1, Logger: logger})
	require.NoError(t, e.Close())
	assert.Equal(t, DefaultThreshold, e.Threshold)
	require.NotEmpty(t, hook.AllEntries())
	assert.Contains(t, hook.AllEntries()[0].Data[logrus.ErrorKey].(error).Error(), "negative Threshold")
}

// README, Delivery guarantee: "Retry-After on 429 and 503 is honoured
// (seconds or HTTP date, at most 5 minutes)": the HTTP deliverer hands it
// to the queue as Delivery.RetryAfter (which the queue waits: see
// TestRetryHonoursRetryAfter), for those two statuses only.
func TestRetryAfterOn429And503Only(t *testing.T) {
	inAnHour := func() string { return time.Now().Add(time.Hour).UTC().Format(http.TimeFormat) }
	tests := []struct {
		name       string
		code       int
		retryAfter func() string
		want       time.Duration
	}{
		{"429 seconds", http.StatusTooManyRequests, func() string { return "7" }, 7 * time.Second},
		{"503 seconds", http.StatusServiceUnavailable, func() string { return "7" }, 7 * time.Second},
		{"429 capped", http.StatusTooManyRequests, func() string { return "100000" }, 5 * time.Minute},
		{"503 capped", http.StatusServiceUnavailable, func() string { return "301" }, 5 * time.Minute},
		{"503 date capped", http.StatusServiceUnavailable, inAnHour, 5 * time.Minute},
		{"429 without header", http.StatusTooManyRequests, func() string { return "" }, 0},
		{"500 ignored", http.StatusInternalServerError, func() string { return "7" }, 0},
		{"502 ignored", http.StatusBadGateway, func() string { return "7" }, 0},
		{"408 ignored", http.StatusRequestTimeout, func() string { return "7" }, 0},
		{"200 ignored", http.StatusOK, func() string { return "7" }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, func(_ int, w http.ResponseWriter) int {
				if v := tt.retryAfter(); v != "" {
					w.Header().Set("Retry-After", v)
				}
				return tt.code
			})
			config := fastConfig()
			config.Logger = testLogger()
			d := newHTTPDeliverer(rc.URL, config.withDefaults())
			defer d.Close()
			got := d.Deliver(t.Context(), testEvents("ra", 1))
			assert.Equal(t, DefaultStatusPolicy(tt.code), got.Outcome, "%v", got.Err)
			assert.Equal(t, tt.want, got.RetryAfter)
		})
	}
}

// README, Configuration: a batch holds "as many as fit in 1 MiB of request
// body", pinned as a literal.
func TestEnvelopeLimitIs1MiB(t *testing.T) {
	assert.Equal(t, 1<<20, maxEnvelopeBytes)
}
