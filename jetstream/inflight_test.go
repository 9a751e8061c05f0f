package jetstream

import (
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keepAlive runs once however often start is called, never after close,
// and close ends it (synctest fails on a goroutine left behind).
func TestInFlightStartAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newInFlight()
		f.start(time.Second, always)
		f.start(time.Second, always)
		time.Sleep(3 * time.Second) // ticks with nothing in flight
		f.close()
		f.close()

		g := newInFlight()
		g.close()
		g.start(time.Second, always)
		g.close()
	})
}

// always is a connection that never goes down.
func always() bool { return true }

// While the connection is down, keepAlive sends no InProgress: they would
// only fill the reconnect buffer, which the acks and naks need.
func TestInFlightQuietWhileDisconnected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &progressRecorder{removed: map[string]bool{}, holding: make(chan string, 1), hold: make(chan struct{})}
		close(rec.hold)
		var up atomic.Bool
		f := newInFlight()
		f.add(&progressMsg{name: "a", rec: rec})
		f.start(time.Second, up.Load)
		time.Sleep(3500 * time.Millisecond) // three rounds while down
		rec.mu.Lock()
		assert.Zero(t, rec.calls)
		rec.mu.Unlock()

		up.Store(true)
		<-rec.holding
		time.Sleep(1500 * time.Millisecond) // the first round while up, and one more
		f.close()
		rec.mu.Lock()
		defer rec.mu.Unlock()
		assert.Equal(t, 2, rec.calls)
	})
}

// progressRecorder records the InProgress calls of progressMsgs; the first
// call blocks until hold is closed.
type progressRecorder struct {
	mu      sync.Mutex
	calls   int
	removed map[string]bool
	late    []string // messages told InProgress after remove returned
	holding chan string
	hold    chan struct{}
}

// progressMsg is a message whose only method in use is InProgress.
type progressMsg struct {
	natsjs.Msg
	name string
	rec  *progressRecorder
}

func (m *progressMsg) InProgress() error {
	r := m.rec
	r.mu.Lock()
	r.calls++
	first := r.calls == 1
	if r.removed[m.name] {
		r.late = append(r.late, m.name)
	}
	r.mu.Unlock()
	if first {
		r.holding <- m.name
		<-r.hold
	}
	return nil
}

// A message removed while keepAlive is telling the server about the
// messages in flight gets no InProgress once remove has returned: the
// caller nak's it with a delay next, which an InProgress would reset to
// AckWait. (Real time: synctest does not count a goroutine waiting for a
// mutex as blocked.)
func TestInFlightRemoveEndsInProgress(t *testing.T) {
	rec := &progressRecorder{removed: map[string]bool{}, holding: make(chan string, 1), hold: make(chan struct{})}
	f := newInFlight()
	defer f.close()
	keys := map[string]uint64{}
	for _, name := range []string{"a", "b"} {
		keys[name] = f.add(&progressMsg{name: name, rec: rec})
	}
	f.start(time.Millisecond, always)
	first := <-rec.holding // keepAlive is within a round, at its first message
	other := map[string]string{"a": "b", "b": "a"}[first]

	removed := make(chan struct{})
	go func() {
		f.remove(keys[other])
		rec.mu.Lock()
		rec.removed[other] = true
		rec.mu.Unlock()
		close(removed)
	}()
	// remove waits for the round to end, so this wait runs out; were remove
	// to return within the round, the round would tell the removed message.
	select {
	case <-removed:
	case <-time.After(100 * time.Millisecond):
	}
	close(rec.hold)
	<-removed
	require.Eventually(t, func() bool { // rounds go on for the message left
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.calls > 4
	}, 10*time.Second, time.Millisecond)
	f.close()

	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Empty(t, rec.late, "InProgress after remove")
}
