package jetstream

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/regnotify/notifications"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNoStreamErrorNamesSubject(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tests := []struct {
		name   string
		stream *StreamConfig
		want   []string
	}{
		{"no stream configured", nil, []string{`"registry.events.push.manifest"`, `"registry.events.>"`, "CreateStream"}},
		{"created stream too narrow", &StreamConfig{Name: "PULLS", Subjects: []string{"registry.events.pull.>"}},
			[]string{`stream "PULLS"`, `"registry.events.push.manifest"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := nats.Connect(s.ClientURL())
			require.NoError(t, err)
			d, err := newDeliverer(conn, true, closedSignal(conn), Config{SubjectPrefix: DefaultSubjectPrefix, CreateStream: tt.stream}, 5*time.Second)
			require.NoError(t, err)
			defer func() { require.NoError(t, d.Close()) }()

			got := d.Deliver(t.Context(), testEvents("nostream", 1))
			assert.Equal(t, notifications.Retry, got.Outcome)
			assert.Equal(t, StatusNoStream, got.Status)
			require.ErrorIs(t, got.Err, ErrNoStream)
			for _, w := range tt.want {
				assert.Contains(t, got.Err.Error(), w)
			}
		})
	}
}

func TestMissingStreamIsCountedAndRetried(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	_, js := dial(t, s)
	config := testConfig()
	config.Threshold = 1
	e, err := NewEndpoint("missing", Config{URL: s.ClientURL(), Endpoint: config})
	require.NoError(t, err)

	require.NoError(t, e.Write(testEvents("missing", 2)...))
	eventually(t, func() bool {
		var m notifications.EndpointMetrics
		e.ReadMetrics(&m)
		return m.Failures >= 4
	}, "attempts without a stream fail and are retried")
	createStream(t, js, "LATE", "registry.events.>")
	require.NoError(t, e.Close())

	var m notifications.EndpointMetrics
	e.ReadMetrics(&m)
	assert.Equal(t, 2, m.Successes)
	assert.Equal(t, m.Failures, m.Statuses[StatusNoStream], "counted as failures under %q", StatusNoStream)
	assert.Zero(t, m.Errors)
	assert.Equal(t, []string{"missing-0", "missing-1"}, msgIDs(streamMessages(t, js, "LATE")))
}

// Stream subjects that leave out some of the endpoint's subjects are not
// refused (an existing stream may take the events, or the endpoint ignore
// what they leave out), but said at start: where the stream is created so,
// those events would wait for ever.
func TestStreamSubjectsThatLeaveSomeOutAreWarnedOf(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	logger, hook := logtest.NewNullLogger()
	config := testConfig()
	config.Logger = logger
	config.Ignore.Actions = []string{"pull", "delete"}
	e, err := NewEndpoint("pushes", Config{URL: s.ClientURL(), CreateStream: &StreamConfig{Name: "PUSHES", Subjects: []string{"registry.events.push.>"}}, Endpoint: config})
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("p", 2)...))
	require.NoError(t, e.Close(), "the pushes are delivered")
	var warned bool
	for _, entry := range hook.AllEntries() {
		warned = warned || strings.Contains(entry.Message, "captures every subject")
	}
	assert.True(t, warned)

	hook.Reset()
	config.Ignore.Actions = nil
	e, err = NewEndpoint("all", Config{URL: s.ClientURL(), CreateStream: &StreamConfig{Name: "ALL", Subjects: []string{"registry.events.*.*"}}, Endpoint: config})
	require.NoError(t, err)
	require.NoError(t, e.Close())
	for _, entry := range hook.AllEntries() {
		assert.NotContains(t, entry.Message, "captures every subject")
	}
}
