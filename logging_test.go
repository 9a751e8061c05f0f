package notifications

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// README, What is never logged: "Events. Endpoints log counts and reasons,
// never an event". An endpoint taken through failed attempts, refusals and
// every way of giving events up logs none of their contents.
func TestEndpointsNeverLogEvents(t *testing.T) {
	const marker = "Zq81x"
	distinctive := func(prefix string, n int) []Event {
		events := testEvents(prefix+"-"+marker, n)
		for i := range events {
			e := &events[i]
			e.Timestamp = time.Now()
			e.Target.Name = "name-" + marker
			e.Target.Repository = "repo-" + marker
			e.Target.Tag = "tag-" + marker
			e.Target.Digest = digest.Digest("sha256:" + marker)
			e.Target.URL = "http://registry/v2/repo-" + marker + "/manifests/tag-" + marker
			e.Target.MediaType = "application/x-" + marker
			e.Actor.Name = "actor-" + marker
			e.Request = RequestRecord{ID: "req-" + marker, Addr: "addr-" + marker, Host: "host-" + marker, UserAgent: "ua-" + marker}
			e.Source = SourceRecord{Addr: "src-" + marker, InstanceID: "inst-" + marker}
		}
		return events
	}
	for _, format := range []Format{FormatEnvelope, FormatCloudEvents} {
		t.Run(string(format), func(t *testing.T) {
			release := make(chan struct{})
			fr := newFormatReceiver(t, func(n int) int {
				switch n {
				case 1:
					<-release // hold the first POST while the queue fills
					return http.StatusServiceUnavailable
				case 2:
					return http.StatusInternalServerError
				}
				return http.StatusOK
			})
			logger, hook := logtest.NewNullLogger()
			config := fastConfig()
			config.Threshold = 2
			config.WireFormat = format
			config.Logger = logger
			config.MaxPending = 4
			config.MaxEventAge = time.Hour
			config.DeadLetter = &fakeSink{fail: func(int) error { return errTest }}
			e, err := OpenEndpoint("quiet", fr.URL, config)
			require.NoError(t, err)

			block := distinctive("a", 4)
			block[1].ID = "poison"                              // refused by the receiver (400)
			block[2].Timestamp = time.Now().Add(-2 * time.Hour) // older than MaxEventAge
			require.NoError(t, e.Write(block...))
			eventually(t, func() bool { fr.mu.Lock(); defer fr.mu.Unlock(); return fr.requests == 1 }, "first POST out")
			assert.ErrorIs(t, e.Write(distinctive("full", 2)...), ErrQueueFull)
			close(release)
			require.NoError(t, e.Close())
			assert.Equal(t, []string{"a-" + marker + "-0", "a-" + marker + "-3"}, fr.acceptedIDs())

			assertLogOmits(t, hook, "an event", marker, "poison")
			var reasons []error
			for _, entry := range hook.AllEntries() {
				if entry.Message == "notifications: events given up" {
					reasons = append(reasons, entry.Data[logrus.ErrorKey].(error))
				}
			}
			// The test went through what it meant to: failures, refusals
			// and each way of giving up, logged.
			messages := map[string]bool{}
			for _, entry := range hook.AllEntries() {
				messages[entry.Message] = true
			}
			assert.True(t, messages["notifications: delivery attempt failed"])
			assert.True(t, messages["notifications: dead letter sink refused events"])
			for _, want := range []error{ErrQueueFull, ErrEventTooOld, ErrRejected} {
				assert.True(t, containsError(reasons, want), "given up: %v", want)
			}
		})
	}
}

func containsError(errs []error, target error) bool {
	for _, err := range errs {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// README, What is never logged: "json.Marshal of either ... writes
// <redacted> for each value (decoding a configuration with Headers still
// works)": a JSON configuration's headers decode as written, and the
// endpoint sends them.
func TestConfigJSONDecodesHeaders(t *testing.T) {
	const file = `{"Headers": {"Authorization": ["Bearer topsecret-value"], "X-Multi": ["one", "two"]},
		"Timeout": 2000000000, "Threshold": 3, "Backoff": 1000000, "WireFormat": "envelope"}`
	var config EndpointConfig
	require.NoError(t, json.Unmarshal([]byte(file), &config))
	assert.Equal(t, http.Header{"Authorization": {"Bearer topsecret-value"}, "X-Multi": {"one", "two"}}, config.Headers)
	assert.Equal(t, 2*time.Second, config.Timeout)
	assert.Equal(t, 3, config.Threshold)
	assert.Equal(t, FormatEnvelope, config.WireFormat)

	encoded, err := json.Marshal(config)
	require.NoError(t, err)
	assert.NotContains(t, string(encoded), "topsecret", "encoding still redacts")

	rc := newReceiver(t, nil)
	config.Logger = testLogger()
	e, err := OpenEndpoint("decoded", rc.URL, config)
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("h", 1)...))
	require.NoError(t, e.Close())
	headers := rc.requestHeaders()
	require.Len(t, headers, 1)
	assert.Equal(t, []string{"Bearer topsecret-value"}, headers[0].Values("Authorization"))
	assert.Equal(t, []string{"one", "two"}, headers[0].Values("X-Multi"))
}

// An event neither format can encode (a timestamp past the year 9999) is
// given up, with a reason that quotes nothing of it: neither its ID nor its
// time.
func TestUnencodableEventIsGivenUpUnquoted(t *testing.T) {
	for _, format := range []Format{FormatEnvelope, FormatCloudEvents} {
		t.Run(string(format), func(t *testing.T) {
			fr := newFormatReceiver(t, func(int) int { return http.StatusOK })
			logger, hook := logtest.NewNullLogger()
			config := fastConfig()
			config.WireFormat = format
			config.Logger = logger
			e, err := OpenEndpoint("far-future", fr.URL, config)
			require.NoError(t, err)
			events := testEvents("Zq81x", 2)
			events[1].Timestamp = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
			require.NoError(t, e.Write(events...))
			require.NoError(t, e.Close())
			assert.Equal(t, []string{"Zq81x-0"}, fr.acceptedIDs())
			var m EndpointMetrics
			e.ReadMetrics(&m)
			assert.Equal(t, 1, m.Dropped)
			assertLogOmits(t, hook, "the event or its time", "Zq81x", "10000")
		})
	}
}
