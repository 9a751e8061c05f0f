package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/receiver"
)

// webhook is a receiver behind the relay that records every event ID it is
// handed, and how many requests carried events it had already seen.
type webhook struct {
	*httptest.Server
	mu    sync.Mutex
	ids   map[string]int // raw count per ID, before the receiver's dedupe
	delay time.Duration
}

func newWebhook(t *testing.T, delay time.Duration) *webhook {
	w := &webhook{ids: map[string]int{}, delay: delay}
	h := receiver.New(receiver.Config{}, func(context.Context, []notifications.Event) error { return nil })
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var env notifications.Envelope
		if json.Unmarshal(body, &env) == nil {
			w.mu.Lock()
			for _, e := range env.Events {
				w.ids[e.ID]++
			}
			w.mu.Unlock()
		}
		time.Sleep(w.delay) // the receiver's own latency, not a wait for a condition
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(rw, r)
	}))
	t.Cleanup(w.Close)
	return w
}

// missing returns the IDs of want the webhook has not received, and how
// many events it received more than once.
func (w *webhook) missing(want []string) (missing []string, duplicates int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range want {
		if w.ids[id] == 0 {
			missing = append(missing, id)
		}
	}
	for _, n := range w.ids {
		duplicates += n - 1
	}
	return missing, duplicates
}

var ingressRE = regexp.MustCompile(`taking events at POST /events" address="?([0-9.:]+)`)

// startRelay runs `regnotify relay --config file` in a child process and
// returns it with its ingress URL and its stderr.
func startRelay(t *testing.T, file string) (*exec.Cmd, string, *syncBuffer) {
	t.Helper()
	cmd := helperCommand(t, "relay", "--config", file, "--listen", "127.0.0.1:0")
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	require.Eventually(t, func() bool { return ingressRE.MatchString(stderr.String()) }, 20*time.Second, time.Millisecond)
	m := ingressRE.FindStringSubmatch(stderr.String())
	require.NotNil(t, m, "the relay listens: %s", stderr)
	return cmd, "http://" + m[1], stderr
}

// postEvent sends one event as a registry does and reports whether the
// relay answered 2xx.
func postEvent(client *http.Client, url, id string) bool {
	e := notifications.Event{ID: id, Action: notifications.EventActionPush, Timestamp: time.Now()}
	e.Target.Type, e.Target.Name, e.Target.Tag = notifications.EventTargetTypeManifest, "library/kill", "latest"
	body, _ := json.Marshal(notifications.Envelope{Events: []notifications.Event{e}})
	resp, err := client.Post(url+"/events", notifications.EventsMediaType, bytes.NewReader(body))
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode/100 == 2
}

// TestRelaySurvivesKill: registries POST to a relay child process whose
// endpoint spools; the child gets SIGKILL mid-stream and a new one starts on
// the same spool. Every event the first one answered 2xx for reaches the
// webhook.
func TestRelaySurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	hook := newWebhook(t, 2*time.Millisecond)
	dir := t.TempDir()
	file := filepath.Join(dir, "relay.yml")
	require.NoError(t, os.WriteFile(file, []byte(fmt.Sprintf(`
relay:
  statusinterval: 100ms
notifications:
  endpoints:
    - name: hook
      url: %s/events
      timeout: 2s
      threshold: 3
      backoff: 10ms
      maxbatch: 10
      spooldir: spool
      closetimeout: 5s
`, hook.URL)), 0o600))

	child, url, stderr := startRelay(t, file)
	var (
		mu       sync.Mutex
		accepted []string
		next     atomic.Int64
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	client := &http.Client{Timeout: 5 * time.Second}
	for range 4 { // four registries
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("kill-%d", next.Add(1))
				if postEvent(client, url, id) {
					mu.Lock()
					accepted = append(accepted, id)
					mu.Unlock()
				}
			}
		})
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(accepted) >= 1000
	}, 60*time.Second, time.Millisecond, "the relay accepts events: %s", stderr)
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	close(stop)
	wg.Wait()
	err := child.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the child was killed")
	mu.Lock()
	answered := append([]string(nil), accepted...)
	mu.Unlock()
	before, _ := hook.missing(answered)
	t.Logf("%d events answered 2xx; %d of them not yet delivered when the relay was killed", len(answered), len(before))

	second, _, stderr2 := startRelay(t, file)
	require.Eventually(t, func() bool {
		missing, _ := hook.missing(answered)
		return len(missing) == 0
	}, 60*time.Second, 5*time.Millisecond, "every event answered 2xx is delivered after the restart: %s", stderr2)
	require.NoError(t, stopRelay(t, second, 60*time.Second), "SIGTERM: the relay flushes and exits 0: %s", stderr2)
	assert.Contains(t, stderr2.String(), "relay: stopped")
	_, duplicates := hook.missing(nil)
	t.Logf("raw duplicates at the webhook: %d", duplicates)
}

func TestRelayConfigErrorsStartNothing(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "relay.yml")
	require.NoError(t, os.WriteFile(file, []byte("notifications:\n  endpoints:\n    - name: a\n      url: http://127.0.0.1:1/\n      timeout: soon\n"), 0o600))
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"relay", "--config", file, "--listen", "127.0.0.1:0"}, &stdout, &stderr)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr.String(), file+":5: notifications.endpoints[0].timeout")
	assert.NotContains(t, stderr.String(), "taking events")

	code = run(t.Context(), []string{"relay"}, &stdout, &stderr)
	assert.Equal(t, 2, code, "--config is required")

	stderr.Reset()
	assert.Equal(t, 0, run(t.Context(), []string{"relay", "--help"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "-config")
	assert.Contains(t, stderr.String(), "-listen")
}

// A relay whose operations address is taken starts nothing, and leaves
// its ingress's address free.
func TestRelayOperationsAddressTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	listen := free.Addr().String()
	require.NoError(t, free.Close())
	file := filepath.Join(t.TempDir(), "relay.yml")
	require.NoError(t, os.WriteFile(file, []byte(fmt.Sprintf("relay:\n  listen: %s\n  operations: %s\nnotifications:\n  endpoints:\n    - {name: a, url: http://127.0.0.1:1/}\n", listen, taken.Addr())), 0o600))

	var stdout, stderr bytes.Buffer
	assert.Equal(t, 1, run(t.Context(), []string{"relay", "--config", file}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "address already in use")
	assert.NotContains(t, stderr.String(), "taking events")
	again, err := net.Listen("tcp", listen)
	if assert.NoError(t, err, "the ingress's address is free again") {
		_ = again.Close()
	}
}

// --listen names the HTTP ingress's address: a relay in fleet mode has
// none, and is not started with it.
func TestRelayListenInFleetMode(t *testing.T) {
	file := filepath.Join(t.TempDir(), "relay.yml")
	require.NoError(t, os.WriteFile(file, []byte("relay:\n  jetstream: {url: nats://127.0.0.1:1, stream: S, durable: d}\nnotifications:\n  endpoints:\n    - {name: a, url: http://127.0.0.1:1/}\n"), 0o600))
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 1, run(t.Context(), []string{"relay", "--config", file, "--listen", "127.0.0.1:0"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "--listen: in fleet mode")
	assert.NotContains(t, stderr.String(), "taking events")
}

var opsRE = regexp.MustCompile(`serving GET /metrics and /healthz" address="?([0-9.:]+)`)

// TestRelayOperations runs the relay in-process with an operations address:
// /metrics has the endpoints' Prometheus metrics, /healthz their state, and
// cancelling (as SIGTERM does) flushes and returns 0.
func TestRelayOperations(t *testing.T) {
	hook := newWebhook(t, 0)
	file := filepath.Join(t.TempDir(), "relay.yml")
	require.NoError(t, os.WriteFile(file, []byte(fmt.Sprintf(`
relay:
  operations: 127.0.0.1:0
notifications:
  endpoints:
    - {name: hook, url: %s/events}
`, hook.URL)), 0o600))
	stderr := &syncBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"relay", "--config", file, "--listen", "127.0.0.1:0"}, io.Discard, stderr)
	}()
	require.Eventually(t, func() bool { return ingressRE.MatchString(stderr.String()) && opsRE.MatchString(stderr.String()) },
		10*time.Second, time.Millisecond, "%s", stderr)
	url := "http://" + ingressRE.FindStringSubmatch(stderr.String())[1]
	ops := "http://" + opsRE.FindStringSubmatch(stderr.String())[1]
	require.True(t, postEvent(http.DefaultClient, url, "ops-1"))

	get := func(path string) (int, string) {
		resp, err := http.Get(ops + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	require.Eventually(t, func() bool {
		_, body := get("/metrics")
		return strings.Contains(body, `registry_notifications_events_total{endpoint="hook",type="Successes"} 1`)
	}, 10*time.Second, time.Millisecond)
	code, body := get("/healthz")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"name":"hook","state":"idle"`)
	cancel()
	assert.Equal(t, 0, <-done, "%s", stderr)
	assert.Contains(t, stderr.String(), "relay: stopped")
}
