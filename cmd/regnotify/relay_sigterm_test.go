package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stopRelay sends SIGTERM to a relay child process and returns how it
// exited, failing the test when it has not exited within limit.
func stopRelay(t *testing.T, child *exec.Cmd, limit time.Duration) error {
	t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	require.NoError(t, child.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		return err
	case <-time.After(limit):
		_ = child.Process.Kill()
		<-exited
		t.Fatalf("the relay did not exit within %v of SIGTERM", limit)
		return nil
	}
}

// README.md, "Operations": "SIGTERM stops the ingress, delivers for up to
// each endpoint's `closetimeout`, leaves the rest in the spool and exits 0."
//
// A relay child process whose spooled endpoint's webhook answers 503 gets
// SIGTERM with every event it answered 200 for still undelivered: it exits
// 0, saying the events stay in the spool, and a relay started again on the
// same spool, with the webhook up, delivers them all.
func TestRelaySIGTERMLeavesTheRestInTheSpool(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	hook := newWebhook(t, 0)
	var down atomic.Bool
	var refused atomic.Int64
	down.Store(true)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			refused.Add(1)
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		hook.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)

	file := filepath.Join(t.TempDir(), "relay.yml")
	require.NoError(t, os.WriteFile(file, []byte(fmt.Sprintf(`
notifications:
  endpoints:
    - name: hook
      url: %s/events
      timeout: 2s
      threshold: 3
      backoff: 10ms
      maxbackoff: 50ms
      spooldir: spool
      closetimeout: 300ms
`, front.URL)), 0o600))

	first, url, stderr := startRelay(t, file)
	const n = 20
	ids := make([]string, n)
	client := &http.Client{Timeout: 5 * time.Second}
	for i := range ids {
		ids[i] = fmt.Sprintf("sigterm-%d", i)
		require.True(t, postEvent(client, url, ids[i]), "the relay answers 200 for %s once it is spooled: %s", ids[i], stderr)
	}
	require.Eventually(t, func() bool { return refused.Load() > 0 }, 10*time.Second, time.Millisecond,
		"the relay tries the webhook, which answers 503: %s", stderr)

	require.NoError(t, stopRelay(t, first, 10*time.Second), "SIGTERM with the webhook down: exit 0: %s", stderr)
	assert.Contains(t, stderr.String(), "relay: stopping: delivering what is pending")
	assert.Contains(t, stderr.String(), "relay: endpoint closed with events left")
	assert.Contains(t, stderr.String(), fmt.Sprintf(`closed with %d events undelivered (kept in the spool)`, n))
	assert.Contains(t, stderr.String(), "relay: stopped")
	missing, _ := hook.missing(ids)
	require.Equal(t, ids, missing, "nothing reached the webhook while it was down")

	down.Store(false)
	second, _, stderr2 := startRelay(t, file)
	require.Eventually(t, func() bool {
		missing, _ := hook.missing(ids)
		return len(missing) == 0
	}, 10*time.Second, time.Millisecond, "the relay started again on the spool delivers every event the first answered 200 for: %s", stderr2)
	require.NoError(t, stopRelay(t, second, 10*time.Second), "SIGTERM: exit 0: %s", stderr2)
	assert.Contains(t, stderr2.String(), "relay: endpoint closed, everything delivered")
}

// A second SIGTERM ends a relay at once, even one that would deliver for
// ever (closetimeout -1s, its webhook down).
func TestRelaySecondSIGTERMEndsIt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	file := filepath.Join(t.TempDir(), "relay.yml")
	require.NoError(t, os.WriteFile(file, []byte(fmt.Sprintf(`
notifications:
  endpoints:
    - {name: hook, url: %s/events, backoff: 10ms, maxbackoff: 50ms, closetimeout: -1s}
`, down.URL)), 0o600))
	child, url, stderr := startRelay(t, file)
	require.True(t, postEvent(&http.Client{Timeout: 5 * time.Second}, url, "stuck"), "held in memory: %s", stderr)

	require.NoError(t, child.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "relay: stopping: delivering what is pending") }, 10*time.Second, time.Millisecond)
	assert.Error(t, stopRelay(t, child, 10*time.Second), "ended by the second SIGTERM, not by an exit of its own")
}
