package notifications

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/regnotify/notifications/internal/crashtest"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testLogger() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(devNull{})
	return l
}

type devNull struct{}

func (devNull) Write(p []byte) (int, error) { return len(p), nil }

// pushBlocks pushes blocks of the given sizes, IDs prefix-0, prefix-1, ...
func pushBlocks(t *testing.T, s *spoolStore, prefix string, sizes ...int) []string {
	t.Helper()
	var want []string
	next := 0
	for _, size := range sizes {
		block := make([]Event, size)
		for i := range block {
			block[i] = goldenEvent()
			block[i].ID = fmt.Sprintf("%s-%d", prefix, next)
			next++
		}
		want = append(want, ids(block)...)
		require.NoError(t, s.push(queuedBlock{events: block, written: stampNow()}))
	}
	return want
}

// drainSpool pops everything from s, returning the IDs in order and the
// size of each batch.
func drainSpool(t *testing.T, s *spoolStore, maxEvents int) (got []string, batches []int) {
	t.Helper()
	for s.len() > 0 {
		blocks, err := s.peek(0, maxEvents)
		require.NoError(t, err)
		if len(blocks) == 0 {
			break
		}
		events := flatten(blocks)
		got = append(got, ids(events)...)
		batches = append(batches, len(events))
		require.NoError(t, s.pop(len(blocks)))
	}
	return got, batches
}

func TestSpoolReplaysAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := openSpool(dir, "hooks/ci", time.Second, testLogger())
	require.NoError(t, err)
	want := pushBlocks(t, s, "a", 3, 1, 2, 4)
	require.NoError(t, s.close())
	assert.DirExists(t, filepath.Join(dir, "hooks%2Fci"), "the name is escaped into one path element")

	s, err = openSpool(dir, "hooks/ci", time.Second, testLogger())
	require.NoError(t, err)
	assert.Equal(t, 10, s.len(), "what was left is counted at open")
	more := pushBlocks(t, s, "b", 2)
	got, batches := drainSpool(t, s, 5)
	assert.Equal(t, append(want, more...), got, "old events first, in order, then new ones")
	assert.Equal(t, []int{4, 2, 4, 2}, batches, "whole blocks, at most five events a batch")
	require.NoError(t, s.close())

	entries, err := os.ReadDir(filepath.Join(dir, "hooks%2Fci"))
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotContains(t, e.Name(), ".seg", "a drained spool keeps no segment")
	}
}

func TestSpoolLock(t *testing.T) {
	dir := t.TempDir()
	s, err := openSpool(dir, "e", time.Second, testLogger())
	require.NoError(t, err)
	_, err = openSpool(dir, "e", time.Second, testLogger())
	assert.ErrorIs(t, err, ErrSpoolLocked)

	config := fastConfig()
	config.SpoolDir = dir
	_, err = OpenEndpoint("e", "http://127.0.0.1:1/", config)
	assert.ErrorIs(t, err, ErrSpoolLocked, "OpenEndpoint reports the lock")

	config.Logger = testLogger()
	e := NewEndpoint("e", "http://127.0.0.1:1/", config)
	_, spooled := e.Sink.(*eventQueue).store.(*spoolStore)
	assert.False(t, spooled, "NewEndpoint runs without the locked spool")
	require.NoError(t, e.Close())

	require.NoError(t, s.close())
	s, err = openSpool(dir, "e", time.Second, testLogger())
	require.NoError(t, err, "closing releases the lock")
	require.NoError(t, s.close())
}

func TestSpoolOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err := openSpool(file, "e", time.Second, testLogger())
	assert.Error(t, err, "a spool dir under a file")
	_, err = openSpool(t.TempDir(), "", time.Second, testLogger())
	assert.ErrorIs(t, err, ErrInvalidConfig, "no name")
}

func TestEndpointSpoolRestart(t *testing.T) {
	dir := t.TempDir()
	down := newReceiver(t, func(int, http.ResponseWriter) int { return http.StatusServiceUnavailable })
	config := fastConfig()
	config.SpoolDir = dir
	config.CloseTimeout = 50 * time.Millisecond
	config.Logger = testLogger()
	first, err := OpenEndpoint("restart", down.URL, config)
	require.NoError(t, err)
	var want []string
	for i := range 20 {
		block := testEvents(fmt.Sprint("first-", i), 1+i%3)
		want = append(want, ids(block)...)
		require.NoError(t, first.Write(block...))
	}
	err = first.Close()
	var undelivered *UndeliveredError
	require.ErrorAs(t, err, &undelivered)
	assert.True(t, undelivered.Spooled)
	assert.Equal(t, len(want), undelivered.Events)
	var m EndpointMetrics
	first.ReadMetrics(&m)
	assert.Zero(t, m.Dropped, "spooled events are not dropped")

	release := make(chan struct{})
	up := newReceiver(t, func(int, http.ResponseWriter) int {
		<-release
		return http.StatusOK
	})
	config.CloseTimeout = 10 * time.Second // an upper bound: Close returns once they are delivered
	second, err := OpenEndpoint("restart", up.URL, config)
	require.NoError(t, err)
	second.ReadMetrics(&m)
	assert.Equal(t, len(want), m.Pending, "Pending counts the spool")
	close(release)
	later := testEvents("second", 2)
	require.NoError(t, second.Write(later...))
	require.NoError(t, second.Close())
	assert.Equal(t, append(want, ids(later)...), ids(up.received()), "left events first, in order")
}

// The crash test re-executes the test binary: the child writes to a spooled
// endpoint whose receiver is down and prints each ID once Write returned;
// the parent kills it with SIGKILL mid-stream.
const crashChildEnv = "REGNOTIFY_CRASH_CHILD_SPOOL"

func TestSpoolCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("run by TestSpoolSurvivesKill")
	}
	writeUntilKilled(openCrashEndpoint(dir, "crash"))
}

// crashChildBroadcastEnv names the spool directory of
// TestSpoolCrashChildBroadcast.
const crashChildBroadcastEnv = "REGNOTIFY_CRASH_CHILD_BROADCAST"

// TestSpoolCrashChildBroadcast is TestSpoolCrashChild writing through a
// Broadcaster of two spooled endpoints: each event is encoded once and
// both spools store those bytes (WriteEncoded), as they are.
func TestSpoolCrashChildBroadcast(t *testing.T) {
	dir := os.Getenv(crashChildBroadcastEnv)
	if dir == "" {
		t.Skip("run by TestSpoolBroadcastSurvivesKill")
	}
	writeUntilKilled(NewBroadcaster(openCrashEndpoint(dir, "crash-a"), openCrashEndpoint(dir, "crash-b")))
}

// openCrashEndpoint opens the spooled endpoint name under dir, posting
// where nothing listens, or exits the child process.
func openCrashEndpoint(dir, name string) *Endpoint {
	config := EndpointConfig{SpoolDir: dir, Threshold: 1, Backoff: time.Hour, Logger: testLogger()}
	e, err := OpenEndpoint(name, "http://127.0.0.1:1/", config) // nothing listens there
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	return e
}

// writeUntilKilled writes blocks of one or two events to sink and prints
// the ID of every event of a Write that returned nil, until it is killed.
func writeUntilKilled(sink Sink) {
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		block := testEvents(fmt.Sprint("crash-", i), 1+i%2)
		if err := sink.Write(block...); err != nil {
			fmt.Println("error:", err)
			os.Exit(3)
		}
		for _, id := range ids(block) {
			fmt.Fprintln(out, id)
		}
		_ = out.Flush()
	}
}

func TestSpoolSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	written := crashtest.KillMidStream(t, "TestSpoolCrashChild", crashChildEnv, dir, 3000)
	assertSpoolDelivers(t, dir, "crash", written)
}

// Through a Broadcaster, whose endpoints store the JSON it encoded once:
// the same guarantee, for each endpoint.
func TestSpoolBroadcastSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	written := crashtest.KillMidStream(t, "TestSpoolCrashChildBroadcast", crashChildBroadcastEnv, dir, 3000)
	for _, name := range []string{"crash-a", "crash-b"} {
		t.Run(name, func(t *testing.T) { assertSpoolDelivers(t, dir, name, written) })
	}
}

// assertSpoolDelivers opens the spooled endpoint name under dir and checks
// that it delivers the events written, in order, first. A request that
// timed out under load is sent again: the events arrive at least once, so
// the order is that of their first arrivals.
func assertSpoolDelivers(t *testing.T, dir, name string, written []string) {
	t.Helper()
	up := newReceiver(t, nil)
	config := fastConfig()
	config.SpoolDir = dir
	config.Logger = testLogger()
	config.CloseTimeout = time.Minute // Close delivers everything, however slow the machine
	e, err := OpenEndpoint(name, up.URL, config)
	require.NoError(t, err)
	require.NoError(t, e.Close())
	var got []string
	seen := map[string]bool{}
	for _, id := range ids(up.received()) {
		if !seen[id] {
			seen[id] = true
			got = append(got, id)
		}
	}
	require.GreaterOrEqual(t, len(got), len(written), "every event whose Write returned is delivered")
	assert.Equal(t, written, got[:len(written)], "in order")
}
