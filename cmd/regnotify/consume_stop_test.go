package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications"
)

// A message that decodes to an event JSON cannot hold (a zone offset of 24
// hours: json.Unmarshal takes it, json.Marshal refuses it) is reported and
// terminated like one that is no event: consume used to exit 1 on it, and
// every later run stopped there again.
func TestConsumeTerminatesEventsItCannotPrint(t *testing.T) {
	url, js := startNATS(t)
	m := nats.NewMsg("registry.events.push.manifest")
	m.Header.Set("Content-Type", notifications.EventsMediaType)
	m.Data = []byte(`{"id":"bad","timestamp":"2024-01-01T00:00:00+24:00","action":"push"}`)
	_, err := js.PublishMsg(t.Context(), m)
	require.NoError(t, err)
	publish(t, url, consumeEvents("after", 1))

	code, lines, stderr := consumeUntil(t, 1, "--nats", url, "--stream", "EVENTS")
	assert.Equal(t, 0, code)
	assert.Contains(t, stderr, `event on "registry.events.push.manifest" cannot be printed, dropped`)
	require.Len(t, lines, 1)
	assert.Contains(t, lines[0], `"id":"after-0"`)
}

// stallingWriter takes limit writes, then holds every later one until
// release is closed: a terminal or pipe that stopped reading.
type stallingWriter struct {
	syncBuffer
	mu      sync.Mutex
	writes  int
	limit   int
	release chan struct{}
}

func (w *stallingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.writes++
	stall := w.writes > w.limit
	w.mu.Unlock()
	if stall {
		<-w.release
	}
	return w.syncBuffer.Write(p)
}

// A run stopped while events it pulled ahead wait to be printed hands them
// back (nak): the next run with the same durable prints them at once, not
// after the consumer's AckWait (30 s) as when they stayed locked to the
// stopped run.
func TestConsumeStopHandsBackWhatItPulled(t *testing.T) {
	url, _ := startNATS(t)
	publish(t, url, consumeEvents("e", 100))
	args := []string{"consume", "--nats", url, "--stream", "EVENTS", "--durable", "d"}

	ctx, cancel := context.WithCancel(t.Context())
	first := &stallingWriter{limit: 5, release: make(chan struct{})}
	var stderr syncBuffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, args, first, &stderr) }()
	require.Eventually(t, func() bool { first.mu.Lock(); defer first.mu.Unlock(); return first.writes > first.limit },
		20*time.Second, time.Millisecond, "the first run stalls: %s", &stderr)
	cancel()
	close(first.release) // the stalled line goes out and is acked
	require.Equal(t, 0, <-code)

	printed := map[string]bool{}
	for _, line := range lines(&first.syncBuffer) {
		printed[idOf(line)] = true
	}
	ctx2, cancel2 := context.WithCancel(t.Context())
	defer cancel2()
	var second syncBuffer
	go func() { code <- run(ctx2, args, &second, &stderr) }()
	require.Eventually(t, func() bool { return len(printed)+len(lines(&second)) >= 100 }, 10*time.Second, time.Millisecond,
		"the second run prints the rest at once: %d printed first, %d second", len(printed), len(lines(&second)))
	cancel2()
	require.Equal(t, 0, <-code)
	for _, line := range lines(&second) {
		assert.False(t, printed[idOf(line)], "printed twice: %s", idOf(line))
		printed[idOf(line)] = true
	}
	assert.Len(t, printed, 100, "every event printed once")
}

// idOf returns the "id" of an event's JSON line.
func idOf(line string) string {
	_, rest, _ := strings.Cut(line, `"id":"`)
	id, _, _ := strings.Cut(rest, `"`)
	return id
}

// Stopped while NATS is away, consume ends at once: handing back what it
// pulled ahead would wait for a server (10 s), and nothing could be nak'ed.
func TestConsumeStopsDuringAnOutage(t *testing.T) {
	s, _ := startNATSServer(t)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"consume", "--nats", s.ClientURL(), "--stream", "EVENTS"}, &stdout, &stderr)
	}()
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "reading stream") }, 10*time.Second, time.Millisecond)
	s.Shutdown()
	s.WaitForShutdown()
	cancel()
	select {
	case c := <-code:
		assert.Equal(t, 0, c, "stopped as asked: %s", &stderr)
	case <-time.After(5 * time.Second):
		t.Fatal("consume did not stop while NATS was away")
	}
}

// startTokenNATS runs a NATS server with JetStream on loopback that
// requires token of its clients, storing its streams in dir.
func startTokenNATS(t *testing.T, dir string, port int, token string) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true,
		Authorization: token,
	})
	require.NoError(t, err)
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	require.True(t, s.ReadyForConnections(10*time.Second))
	return s
}

// When NATS closes the connection for good (here the server came back with
// another token, and reconnecting meets an authorization violation twice),
// consume fails instead of reporting a stop as asked, so that a supervisor
// restarts it. (A restart rather than a reload: a reload that refuses
// clients races within nats-server.)
func TestConsumeFailsWhenNATSClosesTheConnection(t *testing.T) {
	dir := t.TempDir()
	s := startTokenNATS(t, dir, -1, "OLDTOKEN")
	addr := s.Addr().(*net.TCPAddr)
	url := fmt.Sprintf("nats://OLDTOKEN@%s", addr)
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	js, err := natsjs.New(nc)
	require.NoError(t, err)
	_, err = js.CreateStream(t.Context(), natsjs.StreamConfig{Name: "EVENTS", Subjects: []string{"registry.events.>"}})
	require.NoError(t, err)
	nc.Close()

	var stdout, stderr syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(t.Context(), []string{"consume", "--nats", url, "--stream", "EVENTS"}, &stdout, &stderr)
	}()
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "reading stream") }, 10*time.Second, time.Millisecond)
	s.Shutdown()
	s.WaitForShutdown()
	startTokenNATS(t, dir, addr.Port, "NEWTOKEN")
	select {
	case c := <-code:
		assert.Equal(t, 1, c, "failed: %s", &stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("consume did not end when NATS closed its connection")
	}
	assert.Contains(t, strings.ToLower(stderr.String()), "nats closed the connection: nats: authorization violation")
	assert.NotContains(t, stderr.String(), "regnotify consume: stopped")
	assert.NotContains(t, stderr.String(), "TOKEN")
}

// Stopped while it starts (a SIGINT before the consumer exists), consume
// stops: exit 0, as a stop later on, not the failure "context canceled".
func TestConsumeStoppedWhileStarting(t *testing.T) {
	url, _ := startNATS(t)
	publish(t, url, consumeEvents("s", 3))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var stdout, stderr syncBuffer
	code := run(ctx, []string{"consume", "--nats", url, "--stream", "EVENTS", "--durable", "d"}, &stdout, &stderr)
	assert.Equal(t, 0, code, "%s", &stderr)
	assert.Contains(t, stderr.String(), "stopped")
	assert.Empty(t, lines(&stdout), "nothing printed")
}
