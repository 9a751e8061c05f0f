package notifications

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// README, Use it: "the wrapped call's error comes back unchanged, and a
// listener's error is logged, never returned" (to listenerLog, naming the
// repository).
func TestListenerErrorsAreLogged(t *testing.T) {
	logger, hook := logtest.NewNullLogger()
	saved := listenerLog
	listenerLog = logger
	t.Cleanup(func() { listenerLog = saved })

	repo, l := newListened(t, errTest)
	sm := loadManifest(t, "signed-manifest.json")
	content := []byte("layer content")
	dgst := digest.FromBytes(content)
	up, err := repo.Layers().Upload()
	require.NoError(t, err)
	_, err = up.Write(content)
	require.NoError(t, err)
	_, err = up.Finish(dgst)
	assert.NoError(t, err, "layer push")
	assert.NoError(t, repo.Manifests().Put("latest", sm), "manifest push")
	_, err = repo.Manifests().Get("latest")
	assert.NoError(t, err, "manifest pull")
	layer, err := repo.Layers().Fetch(dgst)
	assert.NoError(t, err, "layer pull")
	require.NoError(t, layer.Close())
	assert.NoError(t, repo.Manifests().Delete("latest"), "manifest delete")
	require.Len(t, l.recorded(), 5, "the listener was called for each")

	entries := hook.AllEntries()
	require.Len(t, entries, 5, "one line per listener error")
	var messages []string
	for _, entry := range entries {
		messages = append(messages, entry.Message)
		assert.Equal(t, logrus.ErrorLevel, entry.Level)
		assert.Equal(t, errTest, entry.Data[logrus.ErrorKey])
		assert.Equal(t, "library/hello", entry.Data["repository"])
	}
	assert.Equal(t, []string{
		"notifications: listener failed on layer push",
		"notifications: listener failed on manifest push",
		"notifications: listener failed on manifest pull",
		"notifications: listener failed on layer pull",
		"notifications: listener failed on manifest delete",
	}, messages)
}

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

// README, Metrics: "Failed attempts are logged at warning level with their
// reason ... the first failure after a success at once, then ... at most one
// summary every 30 seconds with the attempts and events since the previous
// line, and an info line (delivery recovered) with the count".
func TestFailureLogLevelAndCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const failures, events = 40, 3 // one failure a second
		d := &fakeDeliverer{answer: func(n int, _ []Event) Delivery {
			if n <= failures {
				return Delivery{Outcome: Retry, Status: "503 Service Unavailable", Err: errNotAccepted}
			}
			return Delivery{Outcome: Accepted, Status: "200 OK"}
		}}
		logger, hook := logtest.NewNullLogger()
		e, _ := openFake(t, "warned", d, EndpointConfig{Logger: logger, CloseTimeout: -1,
			BackoffPolicy: ThresholdBackoff{Threshold: 1, Backoff: time.Second}})
		require.NoError(t, e.Write(testEvents("w", events)...))
		require.NoError(t, e.Close())

		var lines []*logrus.Entry
		for _, entry := range hook.AllEntries() {
			if strings.Contains(entry.Message, "delivery") {
				lines = append(lines, entry)
			}
		}
		require.Len(t, lines, 3, "first failure, the summary at 30s, recovery")
		tests := []struct {
			level            logrus.Level
			message          string
			attempts, events any
		}{
			{logrus.WarnLevel, "notifications: delivery attempt failed", 1, events},
			{logrus.WarnLevel, "notifications: delivery attempts failing", 30, 30 * events},
		}
		for i, tt := range tests {
			assert.Equal(t, tt.level, lines[i].Level, "line %d", i)
			assert.Equal(t, tt.message, lines[i].Message, "line %d", i)
			assert.Equal(t, tt.attempts, lines[i].Data["attempts"], "line %d: attempts since the previous line", i)
			assert.Equal(t, tt.events, lines[i].Data["events"], "line %d: events since the previous line", i)
			assert.Equal(t, "503 Service Unavailable", lines[i].Data["status"], "line %d: the reason", i)
			assert.Equal(t, errNotAccepted, lines[i].Data[logrus.ErrorKey], "line %d: the reason", i)
		}
		assert.Equal(t, logrus.InfoLevel, lines[2].Level)
		assert.Equal(t, "notifications: delivery recovered", lines[2].Message)
		assert.Equal(t, failures, lines[2].Data["failed_attempts"])
	})
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
