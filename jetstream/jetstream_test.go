package jetstream

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/regnotify/notifications"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSubject(t *testing.T) {
	tests := []struct {
		name, prefix, action, typ string
		want                      string
	}{
		{"push manifest", "registry.events", "push", "manifest", "registry.events.push.manifest"},
		{"pull blob", "registry.events", "pull", "blob", "registry.events.pull.blob"},
		{"delete, other prefix", "acme.reg", "delete", "manifest", "acme.reg.delete.manifest"},
		{"empty tokens", "p", "", "", "p._._"},
		{"subject syntax replaced", "p", "a.b", "c* >d", "p.a_b.c___d"},
		{"control characters and bad bytes replaced", "p", "a\fb\x00", "c\xffd", "p.a_b_.c_d"},
		{"long token cut", "p", strings.Repeat("p", 4100), "manifest", "p." + strings.Repeat("p", maxSubjectToken) + ".manifest"},
		{"bad bytes in a long token", "p", "ab\xff" + strings.Repeat("c", 100), "x", "p.ab_" + strings.Repeat("c", maxSubjectToken-3) + ".x"},
		{"cut within a rune", "p", strings.Repeat("a", maxSubjectToken-1) + "é", "x", "p." + strings.Repeat("a", maxSubjectToken-1) + ".x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e notifications.Event
			e.Action, e.Target.Type = tt.action, tt.typ
			assert.Equal(t, tt.want, Subject(tt.prefix, &e))
		})
	}
	// Released registries send no type: the kind comes from the media type.
	var released notifications.Event
	released.Action, released.Target.Repository = "push", "acme/app"
	released.Target.MediaType = "application/vnd.oci.image.manifest.v1+json"
	assert.Equal(t, "registry.events.push.manifest", Subject(DefaultSubjectPrefix, &released))
	released.Target.MediaType = "application/octet-stream"
	assert.Equal(t, "registry.events.push.blob", Subject(DefaultSubjectPrefix, &released))
}

func TestNewEndpointInvalidConfig(t *testing.T) {
	tests := []struct {
		name   string
		config Config
	}{
		{"no URL nor Conn", Config{}},
		{"prefix with wildcard", Config{URL: "nats://127.0.0.1:1", SubjectPrefix: "registry.*"}},
		{"prefix with empty token", Config{URL: "nats://127.0.0.1:1", SubjectPrefix: "registry..events"}},
		{"stream without name", Config{URL: "nats://127.0.0.1:1", CreateStream: &StreamConfig{}}},
		{"stream name with dot", Config{URL: "nats://127.0.0.1:1", CreateStream: &StreamConfig{Name: "a.b"}}},
		{"stream subject invalid", Config{URL: "nats://127.0.0.1:1", CreateStream: &StreamConfig{Name: "S", Subjects: []string{"a.>.b"}}}},
		{"negative duplicates", Config{URL: "nats://127.0.0.1:1", CreateStream: &StreamConfig{Name: "S", Duplicates: -time.Second}}},
		{"negative replicas", Config{URL: "nats://127.0.0.1:1", CreateStream: &StreamConfig{Name: "S", Replicas: -1}}},
		{"too many replicas", Config{URL: "nats://127.0.0.1:1", CreateStream: &StreamConfig{Name: "S", Replicas: MaxReplicas + 1}}},
		{"negative threshold", Config{URL: "nats://127.0.0.1:1", Endpoint: notifications.EndpointConfig{Threshold: -1}}},
		{"Nats-Msg-Id header", Config{URL: "nats://127.0.0.1:1", Endpoint: notifications.EndpointConfig{Headers: http.Header{"Nats-Msg-Id": {"x"}}}}},
		{"duplicates under the server's least", Config{URL: "nats://127.0.0.1:1", CreateStream: &StreamConfig{Name: "S", Duplicates: 120}}},
		{"prefix not UTF-8", Config{URL: "nats://127.0.0.1:1", SubjectPrefix: "p\xff9"}},
		{"prefix with a form feed", Config{URL: "nats://127.0.0.1:1", SubjectPrefix: "a\fb"}},
		{"prefix too long", Config{URL: "nats://127.0.0.1:1", SubjectPrefix: strings.Repeat("p", MaxSubjectPrefixBytes+1)}},
		{"stream name with a form feed", Config{URL: "nats://127.0.0.1:1", CreateStream: &StreamConfig{Name: "a\fb"}}},
		{"stream name too long", Config{URL: "nats://127.0.0.1:1", CreateStream: &StreamConfig{Name: strings.Repeat("s", 256)}}},
		{"header name with a slash", Config{URL: "nats://127.0.0.1:1", Endpoint: notifications.EndpointConfig{Headers: http.Header{"X-Tenant/Id": {"x"}}}}},
		{"header name with a space", Config{URL: "nats://127.0.0.1:1", Endpoint: notifications.EndpointConfig{Headers: http.Header{"X Tenant": {"x"}}}}},
		{"header name not ASCII", Config{URL: "nats://127.0.0.1:1", Endpoint: notifications.EndpointConfig{Headers: http.Header{"X-Mandant-Größe": {"x"}}}}},
		{"empty header name", Config{URL: "nats://127.0.0.1:1", Endpoint: notifications.EndpointConfig{Headers: http.Header{"": {"x"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := NewEndpoint("invalid", tt.config)
			require.ErrorIs(t, err, notifications.ErrInvalidConfig)
			assert.Nil(t, e)
		})
	}
}

func TestTargetHidesCredentials(t *testing.T) {
	tests := []struct {
		url, want string
	}{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222 registry.events.>"},
		{"nats://user:s3cret@127.0.0.1:4222", "nats://xxxxx@127.0.0.1:4222 registry.events.>"},
		{"nats://t0ken@127.0.0.1:4222,nats://127.0.0.2:4222", "nats://xxxxx@127.0.0.1:4222,nats://127.0.0.2:4222 registry.events.>"},
		{"nats://user:12/s3cret@127.0.0.1:4222", "nats://xxxxx@127.0.0.1:4222 registry.events.>"}, // '/' in the password
		{"nats://user:s3,cret@127.0.0.1:4222", "nats://xxxxx@127.0.0.1:4222 registry.events.>"},   // ',' in the password
		{"user:s3cret@127.0.0.1:4222", "xxxxx@127.0.0.1:4222 registry.events.>"},                  // no scheme
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			assert.Equal(t, tt.want, target(Config{URL: tt.url, SubjectPrefix: DefaultSubjectPrefix}))
		})
	}
}

// An endpoint given a connection names it by the URL it connected to,
// without its token: nats' ConnectedUrlRedacted keeps one whole.
func TestTargetOfAConnHidesItsToken(t *testing.T) {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, Authorization: "S3CRETTOKEN"})
	require.NoError(t, err)
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	require.True(t, s.ReadyForConnections(10*time.Second))
	nc, err := nats.Connect("nats://S3CRETTOKEN@" + s.Addr().String())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	assert.Equal(t, "nats://xxxxx@"+s.Addr().String()+" registry.events.>", target(Config{Conn: nc, SubjectPrefix: DefaultSubjectPrefix}))
}

// TestSubjectsHeadersAndBody publishes a few events of every kind through an
// endpoint that creates its stream, and reads them back.
func TestSubjectsHeadersAndBody(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	_, js := dial(t, s)

	config := testConfig()
	config.Headers = http.Header{"X-Tenant": {"acme"}}
	e, err := NewEndpoint("shape", Config{
		URL:           s.ClientURL(),
		SubjectPrefix: "acme.registry",
		CreateStream:  &StreamConfig{Name: "SHAPE", Duplicates: time.Minute},
		Endpoint:      config,
	})
	require.NoError(t, err)
	assert.Equal(t, s.ClientURL()+" acme.registry.>", e.URL())

	events := testEvents("shape", 4)
	events[1].Action = notifications.EventActionPull
	events[2].Action = notifications.EventActionDelete
	require.NoError(t, e.Write(events...))
	require.NoError(t, e.Close())

	info, err := js.Stream(t.Context(), "SHAPE")
	require.NoError(t, err)
	assert.Equal(t, []string{"acme.registry.>"}, info.CachedInfo().Config.Subjects)
	assert.Equal(t, natsjs.FileStorage, info.CachedInfo().Config.Storage)
	assert.Equal(t, time.Minute, info.CachedInfo().Config.Duplicates)

	msgs := streamMessages(t, js, "SHAPE")
	require.Len(t, msgs, len(events))
	wantSubjects := []string{"acme.registry.push.manifest", "acme.registry.pull.blob", "acme.registry.delete.manifest", "acme.registry.push.blob"}
	for i, m := range msgs {
		ev := events[i]
		assert.Equal(t, wantSubjects[i], m.Subject())
		h := m.Headers()
		assert.Equal(t, ev.ID, h.Get("Nats-Msg-Id"))
		assert.Equal(t, ev.Target.Name, h.Get("Registry-Repository"))
		assert.Equal(t, ev.Target.Tag, h.Get("Registry-Tag"))
		if ev.Target.Tag == "" {
			assert.NotContains(t, h, "Registry-Tag", "no empty tag header")
		}
		assert.Equal(t, notifications.EventsMediaType, h.Get("Content-Type"))
		assert.Equal(t, "acme", h.Get("X-Tenant"))

		want, err := json.Marshal(ev)
		require.NoError(t, err)
		assert.JSONEq(t, string(want), string(m.Data()))
	}

	var metrics notifications.EndpointMetrics
	e.ReadMetrics(&metrics)
	assert.Equal(t, map[string]int{StatusAck: 4}, metrics.Statuses)
	assert.Equal(t, 4, metrics.Successes)
}

// TestCloudEventsMessages: with FormatCloudEvents each message is one
// structured CloudEvent, under the same subject and Nats-Msg-Id.
func TestCloudEventsMessages(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	_, js := dial(t, s)
	config := testConfig()
	config.WireFormat = notifications.FormatCloudEvents
	e, err := NewEndpoint("cloudevents", Config{URL: s.ClientURL(), CreateStream: &StreamConfig{Name: "CE"}, Endpoint: config})
	require.NoError(t, err)
	events := testEvents("ce", 3)
	events[2].Target.Name, events[2].Target.Repository = "", "acme/released"
	require.NoError(t, e.Write(events...))
	require.NoError(t, e.Close())

	msgs := streamMessages(t, js, "CE")
	require.Len(t, msgs, len(events))
	for i, m := range msgs {
		ev := events[i]
		assert.Equal(t, Subject(DefaultSubjectPrefix, &ev), m.Subject())
		assert.Equal(t, ev.ID, m.Headers().Get("Nats-Msg-Id"))
		assert.Equal(t, notifications.CloudEventsMediaType, m.Headers().Get("Content-Type"))
		want, err := notifications.AppendCloudEvent(nil, &ev)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(m.Data()))
		var ce struct {
			ID   string
			Data notifications.Event
		}
		require.NoError(t, json.Unmarshal(m.Data(), &ce))
		assert.Equal(t, ev.ID, ce.ID)
		assert.Equal(t, ev.ID, ce.Data.ID)
	}
	assert.Equal(t, "acme/released", msgs[2].Headers().Get("Registry-Repository"))
}

// TestBroadcasterHTTPAndJetStream sends 3,000 events through a broadcaster
// with a webhook endpoint and a JetStream endpoint.
func TestBroadcasterHTTPAndJetStream(t *testing.T) {
	const total, block = 3000, 50 // three batches of the default MaxBatch, 1,000
	s := startServer(t, t.TempDir(), -1)
	_, js := dial(t, s)
	createStream(t, js, "EVENTS", "registry.events.>")

	rc := newReceiver(t)
	// A loaded machine can take seconds over a batch of 1,000 publishes; a
	// timeout would count an error (and resend), which this test forbids.
	config := testConfig()
	config.Timeout = time.Minute
	web, err := notifications.OpenEndpoint("web", rc.URL, config)
	require.NoError(t, err)
	bus, err := NewEndpoint("bus", Config{URL: s.ClientURL(), Endpoint: config})
	require.NoError(t, err)
	b := notifications.NewBroadcaster(web, bus)

	events := testEvents("fleet", total)
	for i := 0; i < total; i += block {
		require.NoError(t, b.Write(events[i:i+block]...))
	}
	require.NoError(t, b.Close())

	want := eventIDs(events)
	msgs := streamMessages(t, js, "EVENTS")
	assert.Equal(t, want, msgIDs(msgs), "the stream holds every event once, in order")
	assert.Equal(t, want, eventIDs(rc.received()), "the webhook got the same events")

	for _, e := range []*notifications.Endpoint{web, bus} {
		var m notifications.EndpointMetrics
		e.ReadMetrics(&m)
		assert.Equal(t, total, m.Successes, e.Name())
		assert.Zero(t, m.Failures+m.Errors+m.Pending, e.Name())
	}
}

func TestCreateStreamKeepsExistingStream(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	_, js := dial(t, s)
	createStream(t, js, "OWNED", "registry.events.>")
	e, err := NewEndpoint("existing", Config{
		URL:          s.ClientURL(),
		CreateStream: &StreamConfig{Name: "OWNED", Duplicates: time.Hour},
		Endpoint:     testConfig(),
	})
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("existing", 3)...))
	require.NoError(t, e.Close())
	stream, err := js.Stream(t.Context(), "OWNED")
	require.NoError(t, err)
	assert.Equal(t, 2*time.Minute, stream.CachedInfo().Config.Duplicates, "the operator's stream is left as it is")
	assert.Equal(t, 3, streamCount(t, js, "OWNED"))
}

func TestCloseOwnedAndBorrowedConnections(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	_, js := dial(t, s)
	createStream(t, js, "EVENTS", "registry.events.>")

	borrowed, err := nats.Connect(s.ClientURL())
	require.NoError(t, err)
	defer borrowed.Close()
	e, err := NewEndpoint("borrowed", Config{Conn: borrowed, Endpoint: testConfig()})
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("borrowed", 2)...))
	require.NoError(t, e.Close())
	assert.True(t, borrowed.IsConnected(), "the caller's connection stays open")
	assert.ErrorIs(t, e.Close(), notifications.ErrSinkClosed, "a second Close")
	assert.ErrorIs(t, e.Write(testEvents("late", 1)...), notifications.ErrSinkClosed)

	before := runtime.NumGoroutine()
	for i := range 5 {
		e, err := NewEndpoint("owned", Config{URL: s.ClientURL(), Endpoint: testConfig()})
		require.NoError(t, err)
		require.NoError(t, e.Write(testEvents(fmt.Sprintf("owned%d", i), 2)...))
		require.NoError(t, e.Close())
	}
	// +2: require.Eventually polls from goroutines of its own. Five endpoints
	// leaking one goroutine each would still fail.
	eventually(t, func() bool { return runtime.NumGoroutine() <= before+2 }, "Close releases the connection's goroutines")
	assert.Equal(t, 2+5*2, streamCount(t, js, "EVENTS"), "every endpoint delivered before closing")
}

// TestCloseTimeoutCancelsWaitForAck closes an endpoint whose messages are
// never acknowledged: Close returns after CloseTimeout, not after Timeout.
func TestCloseTimeoutCancelsWaitForAck(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	nc, _ := dial(t, s)
	sub, err := nc.SubscribeSync("registry.events.>") // a responder that never acks
	require.NoError(t, err)
	defer sub.Unsubscribe()
	require.NoError(t, nc.Flush())

	config := testConfig()
	config.Timeout = time.Hour
	config.CloseTimeout = 50 * time.Millisecond
	config.Logger = quietLogger()
	e, err := NewEndpoint("stuck", Config{URL: s.ClientURL(), Endpoint: config})
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("stuck", 2)...))
	_, err = sub.NextMsg(10 * time.Second)
	require.NoError(t, err, "the endpoint published")

	started := time.Now()
	var undelivered *notifications.UndeliveredError
	require.ErrorAs(t, e.Close(), &undelivered)
	assert.Equal(t, 2, undelivered.Events)
	assert.Less(t, time.Since(started), 10*time.Second)
}

// A header name NATS refuses made every publish fail, for ever, with
// "nats: message could not decode headers": it is refused at
// configuration, by name (never by value).
func TestHeaderNameNATSRefusesIsNamed(t *testing.T) {
	_, err := NewEndpoint("hdr", Config{URL: "nats://127.0.0.1:1", Endpoint: notifications.EndpointConfig{
		Headers: http.Header{"X-Tenant/Id": {"secret-value"}, "X-Tenant": {"acme"}},
	}})
	require.ErrorIs(t, err, notifications.ErrInvalidConfig)
	assert.ErrorContains(t, err, `header name beginning "X-Tenant" is not one NATS takes`)
	assert.NotContains(t, err.Error(), "secret-value")

	// A whole header pasted as a name is quoted only up to the byte NATS
	// refuses, before its value.
	_, err = NewEndpoint("hdr", Config{URL: "nats://127.0.0.1:1", Endpoint: notifications.EndpointConfig{
		Headers: http.Header{"Authorization: Bearer secret-value": {""}},
	}})
	require.ErrorIs(t, err, notifications.ErrInvalidConfig)
	assert.ErrorContains(t, err, `header name beginning "Authorization"`)
	assert.NotContains(t, err.Error(), "secret-value")
}
