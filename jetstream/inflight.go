package jetstream

import (
	"sync"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
)

// inFlight holds the messages an ingress handed to its relay and has not
// yet acked or nak'ed. While it runs, keepAlive tells JetStream every
// interval that they are still being worked on (InProgress), so that a
// webhook outage longer than AckWait does not make JetStream hand them to
// another relay; a relay that dies stops telling, and its messages go to
// the others after AckWait.
type inFlight struct {
	mu   sync.Mutex
	msgs map[uint64]natsjs.Msg
	next uint64

	started bool          // start ran keepAlive
	closed  bool          // close was called
	stop    chan struct{} // closed by close
	done    chan struct{} // closed when keepAlive returns
}

func newInFlight() *inFlight {
	return &inFlight{msgs: make(map[uint64]natsjs.Msg), stop: make(chan struct{}), done: make(chan struct{})}
}

// add records msg and returns the key that removes it.
func (f *inFlight) add(msg natsjs.Msg) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	f.msgs[f.next] = msg
	return f.next
}

// remove forgets the message of key: once it returns, keepAlive sends the
// message no InProgress.
func (f *inFlight) remove(key uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.msgs, key)
}

// keepAlive sends InProgress for every message in flight each interval
// while connected, until close. start runs it.
func (f *inFlight) keepAlive(interval time.Duration, connected func() bool) {
	defer close(f.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-tick.C:
		}
		if !connected() {
			continue // they would only fill the reconnect buffer, which the acks need
		}
		// Under the lock, so that once remove returns the message is told
		// nothing more: an InProgress after the caller's NakWithDelay would
		// reset the delay to AckWait. (InProgress is a publish: it waits
		// only when the connection's write buffer is full.)
		f.mu.Lock()
		for _, m := range f.msgs {
			_ = m.InProgress()
		}
		f.mu.Unlock()
	}
}

// start runs keepAlive with interval and connected on a goroutine of its
// own: once, and never after close.
func (f *inFlight) start(interval time.Duration, connected func() bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.started || f.closed {
		return
	}
	f.started = true
	go f.keepAlive(interval, connected)
}

// close stops keepAlive, if it runs, and waits for it.
func (f *inFlight) close() {
	f.mu.Lock()
	started, first := f.started, !f.closed
	f.closed = true
	f.mu.Unlock()
	if first {
		close(f.stop)
	}
	if started {
		<-f.done
	}
}
