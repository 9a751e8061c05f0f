package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/relay"
)

// An endpoint whose NATS user may not publish to its subjects fails its
// attempts with the server's reason, which nats.go printed on stderr while
// the attempt failed with a bare timeout; the endpoint's logger has it too.
func TestPublishPermissionViolationNamed(t *testing.T) {
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
		Users: []*server.User{
			{Username: "admin", Password: "adminpw"},
			{Username: "registry", Password: "registrypw", Permissions: &server.Permissions{
				Publish: &server.SubjectPermission{Allow: []string{"other.>", "$JS.API.>", "_INBOX.>"}},
			}},
		},
	})
	require.NoError(t, err)
	s.Start()
	t.Cleanup(func() { stopServer(s) })
	require.True(t, s.ReadyForConnections(10*time.Second))
	admin, err := nats.Connect(fmt.Sprintf("nats://admin:adminpw@%s", s.Addr()))
	require.NoError(t, err)
	defer admin.Close()
	js, err := natsjs.New(admin)
	require.NoError(t, err)
	createStream(t, js, "EVENTS", "registry.events.>")

	logger, hook := logtest.NewNullLogger()
	config := testConfig()
	config.Logger = logger
	config.Timeout = 500 * time.Millisecond
	config.CloseTimeout = 10 * time.Millisecond // what is pending is given up at Close
	e, err := NewEndpoint("perm", Config{URL: fmt.Sprintf("nats://registry:registrypw@%s", s.Addr()), Endpoint: config})
	require.NoError(t, err)
	defer func() { assert.Error(t, e.Close(), "one event undelivered") }()
	require.NoError(t, e.Write(testEvents("p", 1)...))
	var m notifications.EndpointMetrics
	eventually(t, func() bool {
		e.ReadMetrics(&m)
		return m.Errors > 0
	}, "a failed attempt")
	assert.Contains(t, m.LastFailure, `timeout waiting for ack; the NATS server meanwhile: nats: permissions violation: Permissions Violation for Publish to "registry.events.push.manifest"`)
	var warned int
	for _, entry := range hook.AllEntries() {
		if entry.Message == "jetstream: the NATS server reports an error" {
			warned++
			assert.Equal(t, logrus.WarnLevel, entry.Level)
			assert.Equal(t, "perm", entry.Data["endpoint"])
		}
		assert.NotContains(t, fmt.Sprint(entry.Message, entry.Data), "registrypw")
	}
	assert.Equal(t, 1, warned, "logged once while it does not change")
}

// startTokenServer is startServer with a token required of clients.
func startTokenServer(t *testing.T, dir string, port int, token string) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true,
		Authorization: token,
	})
	require.NoError(t, err)
	s.Start()
	t.Cleanup(func() { stopServer(s) })
	require.True(t, s.ReadyForConnections(10*time.Second))
	return s
}

// An endpoint whose credentials the server refuses for a while (it came
// back with another token, then with the first again) keeps reconnecting
// instead of closing its connection for good at the second refusal, and
// delivers once they are accepted again. (Servers restarted rather than
// reloaded: a reload that refuses clients races within nats-server.)
func TestEndpointOutlivesRefusedCredentials(t *testing.T) {
	dir := t.TempDir()
	s := startTokenServer(t, dir, -1, "OLDTOKEN")
	port := serverPort(t, s)
	url := fmt.Sprintf("nats://OLDTOKEN@127.0.0.1:%d", port)
	admin, err := nats.Connect(url, nats.MaxReconnects(-1), nats.IgnoreAuthErrorAbort(), nats.ReconnectWait(10*time.Millisecond))
	require.NoError(t, err)
	defer admin.Close()
	js, err := natsjs.New(admin)
	require.NoError(t, err)
	createStream(t, js, "EVENTS", "registry.events.>")

	config := testConfig()
	config.Logger = quietLogger()
	config.Timeout = 500 * time.Millisecond
	var refusals atomic.Int32 // the server's refusals of the endpoint's connection
	e, err := NewEndpoint("creds", Config{URL: url, Endpoint: config, Options: []nats.Option{
		nats.ReconnectWait(10 * time.Millisecond),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { // in place of the endpoint's log
			if errors.Is(err, nats.ErrAuthorization) {
				refusals.Add(1)
			}
		}),
	}})
	require.NoError(t, err)
	defer func() { assert.NoError(t, e.Close()) }()
	require.NoError(t, e.Write(testEvents("before", 1)...))
	eventually(t, func() bool { return streamCount(t, js, "EVENTS") == 1 }, "the first event")

	stopServer(s)
	s = startTokenServer(t, dir, port, "NEWTOKEN")
	eventually(t, func() bool { return refusals.Load() >= 3 }, "refused again and again") // nats.go gave up at the second
	require.NoError(t, e.Write(testEvents("during", 1)...))
	stopServer(s)
	startTokenServer(t, dir, port, "OLDTOKEN")
	eventually(t, func() bool { // the test's own connection reconnects too
		st, err := js.Stream(t.Context(), "EVENTS")
		return err == nil && st.CachedInfo().State.Msgs == 2
	}, "the event written while refused")
}

// A relay logs what the server reports on its own connection outside a
// request, here the acks its user may not publish, through its logger
// rather than stderr.
func TestRelayLogsServerErrors(t *testing.T) {
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
		Users: []*server.User{
			{Username: "admin", Password: "adminpw"},
			{Username: "relay", Password: "relaypw", Permissions: &server.Permissions{
				Publish: &server.SubjectPermission{Allow: []string{">"}, Deny: []string{"$JS.ACK.>"}},
			}},
		},
	})
	require.NoError(t, err)
	s.Start()
	t.Cleanup(func() { stopServer(s) })
	require.True(t, s.ReadyForConnections(10*time.Second))
	admin := fmt.Sprintf("nats://admin:adminpw@%s", s.Addr())
	nc, err := nats.Connect(admin)
	require.NoError(t, err)
	defer nc.Close()
	js, err := natsjs.New(nc)
	require.NoError(t, err)
	createStream(t, js, "EVENTS", "registry.events.>")
	e, err := NewEndpoint("publisher", Config{URL: admin, Endpoint: testConfig()})
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("r", 1)...))
	require.NoError(t, e.Close())

	hook := newReceiver(t)
	tr := relay.NewTracker(0)
	endpoint := testConfig()
	endpoint.OnFinished, endpoint.Logger = tr.Finished, quietLogger()
	webhook, err := notifications.OpenEndpoint("hook", hook.URL, endpoint)
	require.NoError(t, err)
	r, err := relay.New(relay.Config{Targets: []relay.Target{{Endpoint: webhook}}, Tracker: tr, Logger: quietLogger()})
	require.NoError(t, err)
	logger, logged := logtest.NewNullLogger()
	in, err := OpenIngress(IngressConfig{URL: fmt.Sprintf("nats://relay:relaypw@%s", s.Addr()), Stream: "EVENTS", Durable: "relays", Logger: logger})
	require.NoError(t, err)
	in.fetchWait = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- r.Run(ctx, in) }()
	eventually(t, func() bool {
		for _, entry := range logged.AllEntries() {
			if entry.Message == "jetstream: the NATS server reports an error" &&
				strings.Contains(fmt.Sprint(entry.Data[logrus.ErrorKey]), `Permissions Violation for Publish to "$JS.ACK.EVENTS`) {
				return true
			}
		}
		return false
	}, "the refused ack logged")
	cancel()
	require.NoError(t, <-ran)
	for _, entry := range logged.AllEntries() {
		assert.NotContains(t, fmt.Sprint(entry.Message, entry.Data), "relaypw")
	}
}

// serverErrors logs an error again only when it changed, what it quotes
// (the subject of each refused ack) aside.
func TestServerErrorsLogOnceAKind(t *testing.T) {
	logger, hook := logtest.NewNullLogger()
	s := newServerErrors(logger)
	for i := range 50 {
		s.record(nil, nil, fmt.Errorf(`nats: permissions violation: Permissions Violation for Publish to "$JS.ACK.EVENTS.relays.1.%d.%d"`, i, i))
	}
	s.record(nil, nil, nats.ErrAuthorization)
	s.record(nil, nil, nats.ErrAuthorization)
	assert.Len(t, hook.AllEntries(), 2)
	assert.Equal(t, nats.ErrAuthorization, s.since(time.Time{}))
}

// An endpoint whose credentials are refused from its start (nats.go reports
// no asynchronous error before a first connection) says why in its failed
// attempts.
func TestEndpointRefusedAtStartSaysWhy(t *testing.T) {
	s := startTokenServer(t, t.TempDir(), -1, "NEWTOKEN")
	config := testConfig()
	config.Logger = quietLogger()
	config.CloseTimeout = 10 * time.Millisecond
	e, err := NewEndpoint("refused", Config{URL: fmt.Sprintf("nats://OLDTOKEN@%s", s.Addr()), Endpoint: config})
	require.NoError(t, err)
	defer func() { _ = e.Close() }()
	require.NoError(t, e.Write(testEvents("r", 1)...))
	var m notifications.EndpointMetrics
	eventually(t, func() bool {
		e.ReadMetrics(&m)
		return strings.Contains(strings.ToLower(m.LastFailure), "authorization violation")
	}, "the refusal named")
	assert.NotContains(t, m.LastFailure, "TOKEN")
}
