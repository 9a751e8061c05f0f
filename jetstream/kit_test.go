package jetstream

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/regnotify/notifications"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"
)

// startServer runs an in-process NATS server with JetStream on loopback,
// storing its streams under dir. Port -1 picks a free port. The server is
// shut down when the test ends, if the test did not do it before.
func startServer(t testing.TB, dir string, port int) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  dir,
		NoLog:     true,
		NoSigs:    true,
	})
	require.NoError(t, err)
	s.Start()
	require.True(t, s.ReadyForConnections(10*time.Second), "NATS server ready")
	t.Cleanup(func() { stopServer(s) })
	return s
}

// stopServer shuts s down and waits until it is down.
func stopServer(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}

// serverPort returns the port s listens on.
func serverPort(t testing.TB, s *server.Server) int {
	t.Helper()
	_, port, err := net.SplitHostPort(s.Addr().String())
	require.NoError(t, err)
	n, err := strconv.Atoi(port)
	require.NoError(t, err)
	return n
}

// dial returns a JetStream client of s for the test's own checks.
func dial(t testing.TB, s *server.Server) (*nats.Conn, natsjs.JetStream) {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(10*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := natsjs.New(nc)
	require.NoError(t, err)
	return nc, js
}

// createStream makes a file stream named name capturing subjects.
func createStream(t testing.TB, js natsjs.JetStream, name string, subjects ...string) {
	t.Helper()
	_, err := js.CreateStream(t.Context(), natsjs.StreamConfig{Name: name, Subjects: subjects, Storage: natsjs.FileStorage})
	require.NoError(t, err)
}

// streamMessages reads every message the stream holds, in order.
func streamMessages(t testing.TB, js natsjs.JetStream, stream string) []natsjs.Msg {
	t.Helper()
	ctx := t.Context()
	s, err := js.Stream(ctx, stream)
	require.NoError(t, err)
	n := int(s.CachedInfo().State.Msgs)
	if n == 0 {
		return nil
	}
	cons, err := s.OrderedConsumer(ctx, natsjs.OrderedConsumerConfig{})
	require.NoError(t, err)
	out := make([]natsjs.Msg, 0, n)
	for len(out) < n {
		batch, err := cons.Fetch(min(n-len(out), 1000), natsjs.FetchMaxWait(5*time.Second))
		require.NoError(t, err)
		for m := range batch.Messages() {
			out = append(out, m)
		}
		require.NoError(t, batch.Error())
	}
	return out
}

// streamCount returns how many messages the stream holds.
func streamCount(t testing.TB, js natsjs.JetStream, stream string) int {
	t.Helper()
	s, err := js.Stream(t.Context(), stream)
	require.NoError(t, err)
	return int(s.CachedInfo().State.Msgs)
}

// msgIDs returns the Nats-Msg-Id of each message.
func msgIDs(msgs []natsjs.Msg) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Headers().Get(natsjs.MsgIDHeader)
	}
	return out
}

// testEvents returns n distinct events with IDs prefix-0, prefix-1, ...:
// pushes of manifests (with a tag) and of blobs, in turn.
func testEvents(prefix string, n int) []notifications.Event {
	events := make([]notifications.Event, n)
	for i := range events {
		e := &events[i]
		e.ID = fmt.Sprintf("%s-%d", prefix, i)
		e.Timestamp = time.Date(2015, 4, 1, 12, 0, 0, i, time.UTC)
		e.Action = notifications.EventActionPush
		e.Target.Name = fmt.Sprintf("library/repo-%d", i%3)
		e.Target.Digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
		if i%2 == 0 {
			e.Target.Type = notifications.EventTargetTypeManifest
			e.Target.Tag = "v" + strconv.Itoa(i)
		} else {
			e.Target.Type = notifications.EventTargetTypeBlob
		}
		e.Request = notifications.RequestRecord{ID: "req", Method: http.MethodPut, UserAgent: "test"}
		e.Source.Addr = "registry.test:5000"
	}
	return events
}

// eventIDs returns the IDs of events, in order.
func eventIDs(events []notifications.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

// testConfig is an endpoint configuration with short waits, for tests.
// Timeout is generous: -race slows the server's acknowledgments down; and
// Close has a minute to deliver what the tests wrote.
func testConfig() notifications.EndpointConfig {
	return notifications.EndpointConfig{Timeout: 5 * time.Second, Threshold: 3, Backoff: 5 * time.Millisecond, CloseTimeout: time.Minute}
}

// quietLogger returns a logger that discards what it is given, for tests
// that make an endpoint log on purpose.
func quietLogger() logrus.FieldLogger {
	l := logrus.New()
	l.Out = io.Discard
	return l
}

// eventually polls cond until it holds, failing the test after a while.
func eventually(t testing.TB, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 20*time.Second, time.Millisecond, msg)
}

// receiver is an httptest webhook receiver that keeps every event.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	events []notifications.Event
}

func newReceiver(t testing.TB) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env notifications.Envelope
		if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.events = append(rc.events, env.Events...)
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) received() []notifications.Event {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]notifications.Event(nil), rc.events...)
}

// closedSignal returns a channel closed when conn is closed.
func closedSignal(conn *nats.Conn) <-chan struct{} {
	ch := make(chan struct{})
	conn.SetClosedHandler(func(*nats.Conn) { close(ch) })
	return ch
}

// metrics returns e's metrics.
func metrics(e *notifications.Endpoint) notifications.EndpointMetrics {
	var m notifications.EndpointMetrics
	e.ReadMetrics(&m)
	return m
}
