package jetstream

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A stream of another name that captures the subjects already (an
// operator's) takes the events: CreateStream's refusal (subjects overlap)
// does not stop the endpoint.
func TestCreateStreamWhenAnotherCapturesTheSubjects(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	_, js := dial(t, s)
	createStream(t, js, "OPS_OWNED", "registry.events.>")
	e, err := NewEndpoint("overlap", Config{URL: s.ClientURL(), CreateStream: &StreamConfig{Name: "REGISTRY_EVENTS"}, Endpoint: testConfig()})
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("o", 3)...))
	require.NoError(t, e.Close())
	assert.Equal(t, 3, streamCount(t, js, "OPS_OWNED"))
}

// An event whose action is longer than a subject may be (the server's
// control line is 4 KiB) is published under a cut subject, and the
// connection stays up for the events after it.
func TestLongActionKeepsTheConnection(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	_, js := dial(t, s)
	createStream(t, js, "EVENTS", "registry.events.>")
	e, err := NewEndpoint("long", Config{URL: s.ClientURL(), Endpoint: testConfig()})
	require.NoError(t, err)
	long := testEvents("long", 1)
	long[0].Action = strings.Repeat("p", 4100)
	require.NoError(t, e.Write(long...))
	require.NoError(t, e.Write(testEvents("after", 5)...))
	require.NoError(t, e.Close())
	msgs := streamMessages(t, js, "EVENTS")
	require.Len(t, msgs, 6)
	assert.Equal(t, "registry.events."+strings.Repeat("p", maxSubjectToken)+".manifest", msgs[0].Subject())
}

// When the other stream captures only some of the subjects, the events of
// the others fail with an error that says why the stream is missing.
func TestCreateStreamWhenAnotherCapturesSomeSubjects(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	_, js := dial(t, s)
	createStream(t, js, "PUSHES", "registry.events.push.>")
	cfg := testConfig()
	cfg.CloseTimeout = 100 * time.Millisecond
	e, err := NewEndpoint("some", Config{URL: s.ClientURL(), CreateStream: &StreamConfig{Name: "REGISTRY_EVENTS"}, Endpoint: cfg})
	require.NoError(t, err)
	pull := testEvents("pull", 1)
	pull[0].Action = notifications.EventActionPull
	require.NoError(t, e.Write(pull...))
	var m notifications.EndpointMetrics
	require.Eventually(t, func() bool { e.ReadMetrics(&m); return m.LastFailure != "" }, 10*time.Second, time.Millisecond)
	assert.Contains(t, m.LastFailure, `stream "REGISTRY_EVENTS" was not created, as another stream captures some of its subjects`)
	_ = e.Close()
}

// A stream of more than one replica on a server that is not clustered is
// refused by the server: the delivery is retried, with the server's error.
func TestCreateStreamReplicasOnSingleServer(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	conn, err := nats.Connect(s.ClientURL())
	require.NoError(t, err)
	d, err := newDeliverer(conn, true, closedSignal(conn), Config{SubjectPrefix: DefaultSubjectPrefix,
		CreateStream: &StreamConfig{Name: "R3", Replicas: 3}}, 5*time.Second)
	require.NoError(t, err)
	defer func() { require.NoError(t, d.Close()) }()

	got := d.Deliver(t.Context(), testEvents("r3", 1))
	assert.Equal(t, notifications.Retry, got.Outcome)
	assert.Equal(t, "error 10074", got.Status)
	require.Error(t, got.Err)
	assert.Contains(t, got.Err.Error(), `creating stream "R3"`)
	assert.Contains(t, got.Err.Error(), "non-clustered")
}

// The relay's config refuses what NewEndpoint would: its bound is this one.
func TestMaxReplicasAgreesWithConfig(t *testing.T) {
	assert.Equal(t, MaxReplicas, config.MaxStreamReplicas)
}

// An event no reader could take, or the server refuses for good, is given
// up alone (split off, dead letter), and the events with it are published:
// an ID past receiver.MaxEventIDBytes, in either wire format (published,
// relays and receivers dropped it), and headers past the server's 64 KiB
// (error 10097, retried for ever, which held up every later event).
func TestUnpublishableEventGivenUpAlone(t *testing.T) {
	tests := []struct {
		name   string
		format notifications.Format
		spoil  func(e *notifications.Event)
	}{
		{"long ID", notifications.FormatEnvelope, func(e *notifications.Event) { e.ID = strings.Repeat("i", 257) }},
		{"long ID, CloudEvents", notifications.FormatCloudEvents, func(e *notifications.Event) { e.ID = strings.Repeat("i", 257) }},
		{"headers past 64 KiB", notifications.FormatEnvelope, func(e *notifications.Event) { e.Target.Name = strings.Repeat("r", 70000) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, t.TempDir(), -1)
			_, js := dial(t, s)
			createStream(t, js, "EVENTS", "registry.events.>")
			dead := &deadLetters{}
			config := testConfig()
			config.WireFormat, config.DeadLetter, config.Logger = tt.format, dead, quietLogger()
			e, err := NewEndpoint("unpublishable", Config{URL: s.ClientURL(), Endpoint: config})
			require.NoError(t, err)
			events := testEvents("u", 2)
			tt.spoil(&events[0])
			require.NoError(t, e.Write(events...))
			eventually(t, func() bool { return e.Pending() == 0 }, "the bad event is given up, the other published")
			require.NoError(t, e.Close())
			assert.Equal(t, []string{"u-1"}, msgIDs(streamMessages(t, js, "EVENTS")))
			assert.Len(t, dead.all(), 1)
		})
	}
}

// deadLetters is a DeadLetter sink that keeps what it is given.
type deadLetters struct {
	mu     sync.Mutex
	events []notifications.Event
}

func (d *deadLetters) Write(events ...notifications.Event) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.events = append(d.events, events...)
	return nil
}

func (d *deadLetters) Close() error { return nil }

func (d *deadLetters) all() []notifications.Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]notifications.Event(nil), d.events...)
}

// README, Running a fleet: CreateStream's "Replicas (default 1 ...)": a
// StreamConfig without Replicas makes a stream of one replica, with the
// other settings the README names (file storage, the subjects, the
// duplicate window).
func TestCreateStreamDefaults(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	_, js := dial(t, s)
	e, err := NewEndpoint("defaults", Config{URL: s.ClientURL(), CreateStream: &StreamConfig{Name: "REGISTRY_EVENTS", Duplicates: time.Minute}, Endpoint: testConfig()})
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("d", 1)...))
	require.NoError(t, e.Close())
	st, err := js.Stream(t.Context(), "REGISTRY_EVENTS")
	require.NoError(t, err)
	cfg := st.CachedInfo().Config
	assert.Equal(t, 1, cfg.Replicas)
	assert.Equal(t, natsjs.FileStorage, cfg.Storage)
	assert.Equal(t, []string{"registry.events.>"}, cfg.Subjects)
	assert.Equal(t, time.Minute, cfg.Duplicates)
	assert.Equal(t, 1, streamCount(t, js, "REGISTRY_EVENTS"))
}
