package notifications

import (
	"errors"
	"sync"

	"github.com/sirupsen/logrus"
)

// Broadcaster sends events to multiple, reliable Sinks. The goal of this
// component is to dispatch events to configured endpoints. Reliability can be
// provided by wrapping incoming sinks.
//
// Write hands each block, whole, to every sink in turn and returns when they
// all took it; Close may race with Write and never hangs on it.
type Broadcaster struct {
	sinks []Sink
	log   logrus.FieldLogger

	// mu is held for reading by every Write in progress and for writing by
	// Close, so that Close waits for the writes under way and no write
	// starts after it.
	mu     sync.RWMutex
	closed bool
}

var _ Sink = (*Broadcaster)(nil)

// NewBroadcaster returns a broadcaster that writes every block of events to
// each of sinks, in order. The broadcaster behavior will be affected by the
// properties of the sink. Generally, the sink should accept all messages and
// deal with reliability on its own: an Endpoint does.
func NewBroadcaster(sinks ...Sink) *Broadcaster {
	return &Broadcaster{sinks: append([]Sink(nil), sinks...), log: logrus.StandardLogger()}
}

// Write accepts a block of events to be dispatched to all sinks. It returns
// once every sink's Write returned; with Endpoints, that is without waiting
// for the network. A sink's error is logged, not returned, so that one
// failing sink does not make the caller retry the others (ErrQueueFull is
// not logged again: the endpoint logs what it gives up, rate-limited).
// Write returns ErrSinkClosed after Close, even for an empty block. The caller cedes the slice memory to the
// broadcaster and should not modify it after calling write.
func (b *Broadcaster) Write(events ...Event) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrSinkClosed
	}
	for _, sink := range b.sinks {
		if err := sink.Write(events...); err != nil && !errors.Is(err, ErrQueueFull) {
			b.log.WithError(err).WithField("events", len(events)).Error("notifications: broadcaster: sink write failed")
		}
	}
	return nil
}

// Close the broadcaster, ensuring that all messages are flushed to the
// underlying sink before returning. It waits for the writes under way,
// closes every sink once, concurrently, and returns what their Close
// returned, joined (nil when all succeeded). A second Close returns an error
// wrapping ErrSinkClosed.
func (b *Broadcaster) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return errAlreadyClosed
	}
	b.closed = true
	b.mu.Unlock()

	errs := make([]error, len(b.sinks))
	var wg sync.WaitGroup
	for i, sink := range b.sinks {
		wg.Go(func() { errs[i] = sink.Close() })
	}
	wg.Wait()
	return errors.Join(errs...)
}
