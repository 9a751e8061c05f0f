package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startNATSServer runs an in-process NATS server with JetStream on loopback,
// with a stream EVENTS capturing registry.events.>, and returns it and a
// JetStream client; it is shut down when the test ends.
func startNATSServer(t *testing.T) (*server.Server, natsjs.JetStream) {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
	})
	require.NoError(t, err)
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	require.True(t, s.ReadyForConnections(10*time.Second))
	nc, err := nats.Connect(s.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := natsjs.New(nc)
	require.NoError(t, err)
	_, err = js.CreateStream(t.Context(), natsjs.StreamConfig{Name: "EVENTS", Subjects: []string{"registry.events.>"}, Storage: natsjs.FileStorage})
	require.NoError(t, err)
	return s, js
}

// startNATS is startNATSServer, for a test that needs the server's URL.
func startNATS(t *testing.T) (string, natsjs.JetStream) {
	t.Helper()
	s, js := startNATSServer(t)
	return s.ClientURL(), js
}

// publish delivers events to the stream through a JetStream endpoint.
func publish(t *testing.T, url string, events []notifications.Event, format ...notifications.Format) {
	t.Helper()
	config := notifications.EndpointConfig{Timeout: 5 * time.Second}
	if len(format) > 0 {
		config.WireFormat = format[0]
	}
	e, err := jetstream.NewEndpoint("consume-test", jetstream.Config{URL: url, Endpoint: config})
	require.NoError(t, err)
	require.NoError(t, e.Write(events...))
	require.NoError(t, e.Close())
}

// consumeEvents returns n events with distinct IDs.
func consumeEvents(prefix string, n int) []notifications.Event {
	events := make([]notifications.Event, n)
	for i := range events {
		e := &events[i]
		e.ID = fmt.Sprintf("%s-%d", prefix, i)
		e.Timestamp = time.Date(2015, 4, 1, 12, 0, i, 0, time.UTC)
		e.Action = notifications.EventActionPush
		e.Target.Type = notifications.EventTargetTypeManifest
		e.Target.Name = "library/hello"
		e.Target.Tag = "latest"
		e.Target.Digest = "sha256:bddf8bcba99db7a8e469d84e23fe4875fbd7c399bda614956ec54d4acf63622b"
		e.Request = notifications.RequestRecord{ID: "r", Method: "PUT", UserAgent: "test <&>"}
	}
	return events
}

// lines returns the complete lines written to b so far.
func lines(b *syncBuffer) []string {
	s := b.String()
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return strings.Split(s[:i], "\n")
	}
	return nil
}

// consumeUntil runs `regnotify consume` until it printed want lines, then
// cancels it as a signal would, and returns its exit code and output.
func consumeUntil(t *testing.T, want int, args ...string) (int, []string, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr syncBuffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, append([]string{"consume"}, args...), &stdout, &stderr) }()
	require.Eventually(t, func() bool { return len(lines(&stdout)) >= want }, 20*time.Second, time.Millisecond,
		"consume printed %d lines; stderr: %s", want, &stderr)
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "reading stream") }, 10*time.Second, time.Millisecond)
	cancel()
	select {
	case c := <-code:
		return c, lines(&stdout), stderr.String()
	case <-time.After(10 * time.Second):
		t.Fatal("consume did not stop when its context was cancelled")
		return 0, nil, ""
	}
}

func TestConsumePrintsEventsAsReceiveDoes(t *testing.T) {
	url, js := startNATS(t)
	events := consumeEvents("first", 50)
	publish(t, url, events)

	code, lines, stderr := consumeUntil(t, len(events), "--nats", url, "--stream", "EVENTS", "--durable", "test")
	assert.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "stopped")
	require.Len(t, lines, len(events))
	for i, line := range lines {
		want, err := json.Marshal(events[i]) // the line `regnotify receive` prints
		require.NoError(t, err)
		assert.Equal(t, string(want), line)
	}

	cons, err := js.Consumer(t.Context(), "EVENTS", "test")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := cons.Info(t.Context())
		return err == nil && info.AckFloor.Stream == uint64(len(events)) && info.NumAckPending == 0
	}, 10*time.Second, time.Millisecond, "every printed event was acked")

	// The durable consumer resumes: a second run prints only what is new.
	more := consumeEvents("second", 3)
	publish(t, url, more)
	code, lines, stderr = consumeUntil(t, len(more), "--nats", url, "--stream", "EVENTS", "--durable", "test")
	assert.Equal(t, 0, code, stderr)
	require.Len(t, lines, len(more))
	for i, line := range lines {
		var got notifications.Event
		require.NoError(t, json.Unmarshal([]byte(line), &got))
		assert.Equal(t, more[i].ID, got.ID)
	}
}

// TestConsumeCloudEvents: messages published as CloudEvents print as the
// same event lines.
func TestConsumeCloudEvents(t *testing.T) {
	url, _ := startNATS(t)
	events := consumeEvents("ce", 3)
	publish(t, url, events, notifications.FormatCloudEvents)
	code, lines, stderr := consumeUntil(t, len(events), "--nats", url, "--stream", "EVENTS")
	assert.Equal(t, 0, code, stderr)
	require.Len(t, lines, len(events))
	for i, line := range lines {
		want, err := json.Marshal(events[i])
		require.NoError(t, err)
		assert.Equal(t, string(want), line)
	}
}

func TestConsumeTerminatesMessagesThatAreNotEvents(t *testing.T) {
	url, js := startNATS(t)
	_, err := js.Publish(t.Context(), "registry.events.junk", []byte("not json"))
	require.NoError(t, err)
	events := consumeEvents("after-junk", 1)
	publish(t, url, events)

	code, lines, stderr := consumeUntil(t, 1, "--nats", url, "--stream", "EVENTS")
	assert.Equal(t, 0, code)
	assert.Contains(t, stderr, `message on "registry.events.junk" is not an event`)
	require.Len(t, lines, 1)
	assert.Contains(t, lines[0], `"id":"after-junk-0"`)
}

func TestConsumeHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 0, run(t.Context(), []string{"consume", "--help"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "Usage: regnotify consume")
	for _, flag := range []string{"-nats", "-stream", "-durable"} {
		assert.Contains(t, stderr.String(), flag)
	}
}

func TestConsumeErrors(t *testing.T) {
	url, _ := startNATS(t)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"no stream flag", []string{"--nats", url}, 2, "--stream and --durable must not be empty"},
		{"stray argument", []string{"--nats", url, "--stream", "EVENTS", "extra"}, 2, `unexpected argument "extra"`},
		{"unknown flag", []string{"--bogus"}, 2, "flag provided but not defined"},
		{"missing stream", []string{"--nats", url, "--stream", "NOPE"}, 1, `stream "NOPE" not found`},
		{"no server", []string{"--nats", "nats://127.0.0.1:1", "--stream", "EVENTS"}, 1, "NATS: connecting to nats://127.0.0.1:1"},
		{"password with a bad escape", []string{"--nats", "nats://user:s3cr%zzet@127.0.0.1:1", "--stream", "EVENTS"}, 1, "does not parse"},
		{"password with a hash", []string{"--nats", "nats://user:s3cr#et@127.0.0.1:1", "--stream", "EVENTS"}, 1, "NATS: connecting to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), append([]string{"consume"}, tt.args...), &stdout, &stderr)
			assert.Equal(t, tt.wantCode, code)
			assert.Contains(t, stderr.String(), tt.wantStderr)
			assert.NotContains(t, stderr.String(), "s3cr", "no part of a password")
			assert.Empty(t, stdout.String())
		})
	}
}

// TestConsumeStopsOnSignal runs `regnotify consume` in a process of its own
// and stops it as an operator would.
func TestConsumeStopsOnSignal(t *testing.T) {
	url, _ := startNATS(t)
	events := consumeEvents("signal", 3)
	publish(t, url, events)
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := helperCommand(t, "consume", "--nats", url, "--stream", "EVENTS", "--durable", "signal-"+strconv.Itoa(int(sig.(syscall.Signal))))
			var stderr syncBuffer
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			sc := bufio.NewScanner(stdout)
			for i := range events {
				if !sc.Scan() {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
					t.Fatalf("consume printed %d lines and stopped: %s", i, stderr.String())
				}
				assert.Contains(t, sc.Text(), `"id":"`+events[i].ID+`"`)
			}
			require.NoError(t, cmd.Process.Signal(sig))
			require.NoError(t, cmd.Wait(), "exit 0 after %v: %s", sig, stderr.String())
			assert.Contains(t, stderr.String(), "regnotify consume: stopped")
		})
	}
}

// The NATS URL consume prints (when the stream is missing, when it starts)
// holds no credential: nats' ConnectedUrlRedacted keeps a token whole.
func TestConsumePrintsNoToken(t *testing.T) {
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
		Authorization: "S3CRETTOKEN",
	})
	require.NoError(t, err)
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	require.True(t, s.ReadyForConnections(10*time.Second))
	url := fmt.Sprintf("nats://S3CRETTOKEN@%s", s.Addr())

	var stdout, stderr bytes.Buffer
	assert.Equal(t, 1, run(t.Context(), []string{"consume", "--nats", url, "--stream", "NOPE"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), `stream "NOPE" not found on nats://`)
	assert.NotContains(t, stderr.String(), "S3CRET")
}
