package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/jetstream"
)

// freePorts returns n loopback ports free a moment ago, for the cluster
// routes every node must know before it starts.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		require.NoError(t, ln.Close())
	}
	return ports
}

// startCluster runs a JetStream cluster of n in-process nats-servers on
// loopback, each routed to every other, and returns them. They are shut
// down when the test ends, if the test did not do it before.
func startCluster(t *testing.T, n int) []*server.Server {
	t.Helper()
	routePorts := freePorts(t, n)
	var routes []string
	for _, p := range routePorts {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	servers := make([]*server.Server, n)
	for i := range servers {
		s, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			Cluster:    server.ClusterOpts{Name: "fleet", Host: "127.0.0.1", Port: routePorts[i]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
			NoLog:      true,
			NoSigs:     true,
		})
		require.NoError(t, err)
		s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		servers[i] = s
	}
	for _, s := range servers {
		require.True(t, s.ReadyForConnections(20*time.Second), "NATS node ready")
	}
	return servers
}

// clientURLs returns the client URLs of servers, separated by commas.
func clientURLs(servers []*server.Server) string {
	urls := make([]string, len(servers))
	for i, s := range servers {
		urls[i] = s.ClientURL()
	}
	return strings.Join(urls, ",")
}

// countingHook is a webhook receiver with a fixed latency that counts every
// event ID it is sent, duplicates included.
type countingHook struct {
	*httptest.Server
	mu          sync.Mutex
	seen        map[string]int
	total       int
	first, last time.Time // arrivals of the first and the latest event
}

func newCountingHook(t testing.TB, latency time.Duration) *countingHook {
	h := &countingHook{seen: map[string]int{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct {
			Events []struct {
				ID string `json:"id"`
			} `json:"events"`
		}
		if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
			http.Error(w, "not an envelope", http.StatusBadRequest)
			return
		}
		time.Sleep(latency) // the receiver's own latency, not a wait for a condition
		h.mu.Lock()
		if h.first.IsZero() {
			h.first = time.Now()
		}
		h.last = time.Now()
		for _, e := range env.Events {
			h.seen[e.ID]++
			h.total++
		}
		h.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(h.Close)
	return h
}

// counts returns how many distinct IDs arrived and how many events in all.
func (h *countingHook) counts() (distinct, total int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.seen), h.total
}

// fleetEvents returns n events with IDs e-from … e-(from+n-1).
func fleetEvents(from, n int) []notifications.Event {
	out := make([]notifications.Event, n)
	for i := range out {
		e := &out[i]
		e.ID, e.Action, e.Timestamp = "e-"+strconv.Itoa(from+i), notifications.EventActionPush, time.Now().UTC()
		e.Target.Type, e.Target.Name, e.Target.Tag = notifications.EventTargetTypeManifest, "library/fleet", "v"+strconv.Itoa(from+i)
	}
	return out
}

// publishEvents publishes n events, e-0 … e-(n-1), as the JetStream endpoint
// does (one message each, the ID in Nats-Msg-Id), and waits for every ack.
func publishEvents(t testing.TB, js natsjs.JetStream, n int) {
	t.Helper()
	for _, e := range fleetEvents(0, n) {
		body, err := json.Marshal(e)
		require.NoError(t, err)
		msg := nats.NewMsg("registry.events.push.manifest")
		msg.Data = body
		msg.Header.Set(nats.MsgIdHdr, e.ID)
		_, err = js.PublishMsgAsync(msg, natsjs.WithStallWait(30*time.Second))
		require.NoError(t, err)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(60 * time.Second):
		t.Fatal("publishing timed out")
	}
}

// quietLogger discards what it is given.
func quietLogger() *logrus.Logger {
	l := logrus.New()
	l.Out = io.Discard
	return l
}

// fleetConfig writes a relay configuration in fleet mode: the cluster's
// stream, one shared durable consumer, one webhook endpoint.
func fleetConfig(t testing.TB, natsURLs, hookURL string) string {
	return fleetConfigBatch(t, natsURLs, hookURL, 0)
}

// fleetConfigBatch is fleetConfig with the endpoint's maxbatch (0: the
// default).
func fleetConfigBatch(t testing.TB, natsURLs, hookURL string, maxBatch int) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "relay.yml")
	require.NoError(t, os.WriteFile(file, []byte(fmt.Sprintf(`
relay:
  statusinterval: 1s
  jetstream:
    url: %q
    stream: FLEET
    durable: relays
    ackwait: 5s
    maxackpending: 6000
notifications:
  endpoints:
    - name: hook
      url: %s/events
      timeout: 5s
      threshold: 3
      backoff: 10ms
      closetimeout: 10s
      maxbatch: %d
`, natsURLs, hookURL, maxBatch)), 0o600))
	return file
}

// startWorkers runs n `regnotify relay` processes in fleet mode and waits
// until each takes events.
func startWorkers(t testing.TB, file string, n int) ([]*exec.Cmd, []*syncBuffer) {
	t.Helper()
	var cmds []*exec.Cmd
	var logs []*syncBuffer
	for range n {
		cmd := helperCommand(t, "relay", "--config", file)
		stderr := &syncBuffer{}
		cmd.Stderr = stderr
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		cmds, logs = append(cmds, cmd), append(logs, stderr)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, log := range logs {
		for !strings.Contains(log.String(), "taking events from JetStream") {
			require.True(t, time.Now().Before(deadline), "the worker starts: %s", log)
			time.Sleep(time.Millisecond) // polling the child's log
		}
	}
	return cmds, logs
}

// TestFleet: a 3-node JetStream cluster holds 50,000 events in a stream
// with 3 replicas; 3 relay workers (child processes) share one durable
// consumer and deliver them to a 2 ms webhook. Mid-stream one worker gets
// SIGKILL and one NATS node is shut down. Every event arrives; after dedupe
// by ID each arrives exactly once; raw duplicates are reported.
func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS cluster and child processes")
	}
	const events = 50_000
	servers := startCluster(t, 3)
	nc, err := nats.Connect(servers[0].ClientURL(), nats.MaxReconnects(-1))
	require.NoError(t, err)
	defer nc.Close()
	js, err := natsjs.New(nc, natsjs.WithPublishAsyncMaxPending(4000))
	require.NoError(t, err)
	require.Eventually(t, func() bool { // once the cluster has elected its meta leader
		_, err := js.CreateStream(t.Context(), natsjs.StreamConfig{
			Name: "FLEET", Subjects: []string{"registry.events.>"}, Storage: natsjs.FileStorage, Replicas: 3,
		})
		return err == nil
	}, 30*time.Second, 50*time.Millisecond, "stream with 3 replicas")
	hook := newCountingHook(t, 2*time.Millisecond)
	file := fleetConfig(t, clientURLs(servers), hook.URL)
	workers, logs := startWorkers(t, file, 3)

	// The registries: a JetStream endpoint, as a registry runs it, publishes
	// while the workers deliver, and retries through the node's loss.
	start := time.Now()
	registry, err := jetstream.NewEndpoint("registry", jetstream.Config{
		URL:      clientURLs(servers),
		Options:  []nats.Option{nats.ReconnectWait(50 * time.Millisecond)},
		Endpoint: notifications.EndpointConfig{Timeout: 5 * time.Second, Threshold: 3, Backoff: 50 * time.Millisecond, CloseTimeout: 2 * time.Minute, Logger: quietLogger()},
	})
	require.NoError(t, err)
	published := make(chan error, 1)
	go func() {
		for i := 0; i < events; i += 100 {
			if err := registry.Write(fleetEvents(i, 100)...); err != nil {
				published <- err
				return
			}
		}
		published <- registry.Close()
	}()
	require.Eventually(t, func() bool { d, _ := hook.counts(); return d >= events/3 }, 60*time.Second, time.Millisecond,
		"the workers deliver: %s", logs[0])
	require.NoError(t, workers[0].Process.Signal(syscall.SIGKILL))
	var exit *exec.ExitError
	require.ErrorAs(t, workers[0].Wait(), &exit, "worker 1 was killed")
	victim := servers[2]
	victim.Shutdown()
	victim.WaitForShutdown()
	d, _ := hook.counts()
	t.Logf("worker 1 killed and node n3 shut down after %d events", d)
	require.NoError(t, <-published, "the registries published everything")
	t.Logf("published %d events in %v", events, time.Since(start).Round(time.Millisecond))

	require.Eventually(t, func() bool { d, _ := hook.counts(); return d >= events }, 90*time.Second, 5*time.Millisecond,
		"every event arrives: %s\n%s", logs[1], logs[2])
	hook.mu.Lock()
	elapsed := hook.last.Sub(start)
	hook.mu.Unlock()
	for i, w := range workers[1:] {
		require.NoError(t, w.Process.Signal(syscall.SIGTERM))
		assert.NoError(t, w.Wait(), "SIGTERM: worker %d flushes and exits 0: %s", i+2, logs[i+1])
	}
	distinct, total := hook.counts()
	hook.mu.Lock()
	for i := range events {
		assert.GreaterOrEqual(t, hook.seen["e-"+strconv.Itoa(i)], 1, "e-%d arrives", i)
	}
	hook.mu.Unlock()
	assert.Equal(t, events, distinct, "after dedupe by ID, each event exactly once and nothing else")
	t.Logf("fleet: %d events in %v (%.0f events/s); raw duplicates: %d", events, elapsed.Round(time.Millisecond),
		float64(events)/elapsed.Seconds(), total-distinct)
}
