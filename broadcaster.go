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
// all took it; Close may race with Write and never hangs on it. When two or
// more of its sinks are EncodedSinks that use the events' JSON (an
// Endpoint does when its deliverer is a JSONEncoder, as an HTTP endpoint's
// is, or it has a spool), Write encodes each event once and hands them all
// the same bytes.
type Broadcaster struct {
	sinks   []Sink
	encoded int // how many of sinks are EncodedSinks that use the JSON
	log     logrus.FieldLogger
	arena   jsonArena // the memory of the JSON Write encodes

	// mu is held for reading by every Write in progress and for writing by
	// Close, so that Close waits for the writes under way and no write
	// starts after it.
	mu     sync.RWMutex
	closed bool
}

var _ EncodedSink = (*Broadcaster)(nil)

// An EncodedSink is a Sink that also takes events with their JSON already
// encoded, so that whoever writes the same events to several sinks encodes
// them once: a Broadcaster does, for its EncodedSinks. Endpoints are
// EncodedSinks; one whose deliverer is a JSONEncoder (an HTTP endpoint is)
// sends those bytes as they are, in either WireFormat, and a spooled one
// stores them.
type EncodedSink interface {
	Sink

	// WriteEncoded is Write for events whose JSON objects are eventJSON:
	// one for each event, in order, byte for byte as EncodeEvents returns
	// them (the sink may send them without checking). The caller cedes
	// both slices to the sink and must not modify them afterwards. A sink
	// may ignore eventJSON, and does when its length is not the events'.
	WriteEncoded(events []Event, eventJSON [][]byte) error
}

// NewBroadcaster returns a broadcaster that writes every block of events to
// each of sinks, in order. The broadcaster behavior will be affected by the
// properties of the sink. Generally, the sink should accept all messages and
// deal with reliability on its own: an Endpoint does.
func NewBroadcaster(sinks ...Sink) *Broadcaster {
	b := &Broadcaster{sinks: append([]Sink(nil), sinks...), log: logrus.StandardLogger()}
	for _, sink := range b.sinks {
		if usesJSON(sink) {
			b.encoded++
		}
	}
	return b
}

// usesJSON reports whether sink is an EncodedSink that makes use of the
// JSON WriteEncoded passes it, as far as it says (jsonUser).
func usesJSON(sink Sink) bool {
	if _, ok := sink.(EncodedSink); !ok {
		return false
	}
	u, ok := sink.(jsonUser)
	return !ok || u.usesJSON()
}

// jsonUser is a sink of this package that knows whether the JSON written
// with WriteEncoded saves it work: an endpoint whose deliverer is not a
// JSONEncoder and whose store does not keep JSON would only drop it.
type jsonUser interface {
	usesJSON() bool
}

func (b *Broadcaster) usesJSON() bool { return b.encoded > 0 }

// Write accepts a block of events to be dispatched to all sinks. It returns
// once every sink's Write returned; with Endpoints, that is without waiting
// for the network. A sink's error is logged, not returned, so that one
// failing sink does not make the caller retry the others (ErrQueueFull is
// not logged again: the endpoint logs what it gives up, rate-limited).
// Write returns ErrSinkClosed after Close, even for an empty block. The caller cedes the slice memory to the
// broadcaster and should not modify it after calling write.
func (b *Broadcaster) Write(events ...Event) error {
	var js *blockJSON
	if b.encoded > 1 && len(events) > 0 {
		// An event encoding/json refuses leaves js nil: each sink then
		// meets the error itself.
		js, _ = b.arena.encodeShared(events)
	}
	return b.writeEncoded(events, js)
}

// WriteEncoded is Write for events whose JSON objects are eventJSON (see
// EncodedSink): the broadcaster hands them to its EncodedSinks, and the
// events alone to its other sinks. eventJSON nil is allowed: it writes the
// events to every sink with Write.
func (b *Broadcaster) WriteEncoded(events []Event, eventJSON [][]byte) error {
	return b.writeEncoded(events, withJSON(eventJSON))
}

// writeEncoded is WriteEncoded for events whose JSON js holds (nil when
// unknown), which the sinks of this package share.
func (b *Broadcaster) writeEncoded(events []Event, js *blockJSON) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrSinkClosed
	}
	if js != nil && len(js.objects) != len(events) {
		js = nil
	}
	var at stamp // read once for the sinks that take it
	stamped := false
	for _, sink := range b.sinks {
		var err error
		if ss, ok := sink.(stampedSink); ok && js != nil {
			if !stamped {
				at, stamped = stampNow(), true
			}
			err = ss.writeEncodedAt(events, js, at)
		} else if es, ok := sink.(EncodedSink); ok && js != nil {
			err = es.WriteEncoded(events, js.objects)
		} else {
			err = sink.Write(events...)
		}
		if err != nil && !errors.Is(err, ErrQueueFull) {
			b.log.WithError(err).WithField("events", len(events)).Error("notifications: broadcaster: sink write failed")
		}
	}
	return nil
}

// stampedSink is a sink of this package that stores when events were
// written: WriteEncoded, with that time given, so that a broadcaster reads
// the clock once per Write, not once per endpoint, and with the events'
// JSON as a blockJSON, which the sink may keep, shared, but never
// modifies.
type stampedSink interface {
	writeEncodedAt(events []Event, js *blockJSON, at stamp) error
}

var (
	_ stampedSink = (*Endpoint)(nil)
	_ stampedSink = (*eventQueue)(nil)
)

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
