package registryv3

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications/config"
	"github.com/regnotify/notifications/interop/harness"
	"github.com/regnotify/notifications/receiver"
	"github.com/regnotify/notifications/relay"
)

// relayChildEnv names the configuration file of the relay that
// TestRelayChild runs in a child process.
const relayChildEnv = "REGNOTIFY_INTEROP_RELAY_CONFIG"

// TestRelayChild is the relay process of TestRelaySurvivesKill: a relay
// from a configuration file, as `regnotify relay --config` runs it, until
// SIGTERM.
func TestRelayChild(t *testing.T) {
	file := os.Getenv(relayChildEnv)
	if file == "" {
		t.Skip("run by TestRelaySurvivesKill")
	}
	cfg, err := config.Load(file)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	log := logrus.New()
	log.SetOutput(os.Stderr)
	r, err := relay.FromConfig(cfg, relay.Options{Logger: log})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	ln, err := net.Listen("tcp", cfg.Relay.Listen)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	fmt.Println("listening")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := r.Run(ctx, &relay.HTTPIngress{Listener: ln}); err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	os.Exit(0)
}

// startRelayChild runs TestRelayChild on file and waits until it listens.
func startRelayChild(t *testing.T, file string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRelayChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), relayChildEnv+"="+file)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "listening\n", line)
	return cmd
}

// TestRelaySurvivesKill: distribution v3.1.2 notifies a relay running in a
// child process with a spool, while its webhook is down. The relay gets
// SIGKILL mid-stream and a new one starts on the same spool and port: every
// event the first one answered 2xx for reaches the webhook (and so do the
// ones the registry sent again).
func TestRelaySurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	c := harness.NewCollector(t, receiver.Config{})
	var webhookUp atomic.Bool
	webhook := httpServer(t, func(w http.ResponseWriter, r *http.Request) {
		if !webhookUp.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		c.Config.Handler.ServeHTTP(w, r)
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	dir := t.TempDir()
	file := filepath.Join(dir, "relay.yml")
	require.NoError(t, os.WriteFile(file, []byte(fmt.Sprintf(`
relay:
  listen: %s
notifications:
  endpoints:
    - name: webhook
      url: %s
      timeout: 2s
      threshold: 3
      backoff: 10ms
      spooldir: spool
      closetimeout: 5s
`, addr, webhook)), 0o600))

	child := startRelayChild(t, file)
	target, err := url.Parse("http://" + addr)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorLog = nil
	proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) {
		http.Error(w, "relay down", http.StatusBadGateway)
	}
	tap := harness.NewTap(proxy) // what the relay answered 2xx for, as the registry sent it
	reg := Start(t, httpServer(t, tap.ServeHTTP)+relay.EventsPath)
	logrus.SetLevel(logrus.FatalLevel) // the registry logs every notification the dead relay does not take

	for i := 0; len(tap.IDs()) < 40; i++ {
		require.Less(t, i, 200, "the relay answers the registry")
		reg.PushImage(fmt.Sprintf("kill/image-%d", i), "v1", harness.OCIManifest)
	}
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	var exit *exec.ExitError
	require.ErrorAs(t, child.Wait(), &exit, "the relay was killed")
	answered := tap.IDs()
	assert.Empty(t, c.Events(), "the webhook was down: every answered event was in the spool")
	reg.PushImage("kill/after", "v1", harness.DockerManifest) // the registry queues these until a relay answers

	second := startRelayChild(t, file)
	webhookUp.Store(true)
	harness.CheckRelayed(t, tap, c)
	got := map[string]bool{}
	for _, e := range c.Events() {
		got[e.ID] = true
	}
	for _, id := range answered {
		assert.True(t, got[id], "event %s, answered 2xx before the kill, is delivered", id)
	}
	require.NoError(t, second.Process.Signal(syscall.SIGTERM))
	require.NoError(t, second.Wait(), "SIGTERM: the relay exits 0")
	t.Logf("%d events answered 2xx before SIGKILL, all delivered after the restart; %d in all", len(answered), len(tap.IDs()))
}

// httpServer serves h on loopback until the test ends and returns its URL.
func httpServer(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimSuffix(srv.URL, "/")
}
