package notifications

import (
	"github.com/sirupsen/logrus"
)

// Finished says that an endpoint is done with some events: it delivered
// them, gave them up, or ignores them. EndpointConfig.OnFinished receives
// one Finished for each group of events that ended the same way.
//
// Every event of a Write to an endpoint that did not return ErrSinkClosed
// is finished exactly once by that endpoint, with one exception: events
// still in the endpoint's spool when Close returns are not finished (the
// next endpoint opened on the spool delivers them and finishes them). Events
// an endpoint delivers from its spool at start, left by a previous one, are
// finished like the others. Of a batch that Close cuts short, the spool
// keeps the Writes from the first it had not finished on, whole: the next
// endpoint sends again, and finishes again, the events of those this one
// had already finished (delivered in a part, or refused and given up).
type Finished struct {
	// Endpoint is the name of the endpoint.
	Endpoint string

	// Events are the events, in the order they were written. They share
	// memory with what was written: do not modify them.
	Events []Event

	// Attempts is how many delivery attempts of this endpoint carried these
	// events: at least 1 when they were delivered; 0 when they were given up
	// before any attempt (queue full, too old, Close before they were sent)
	// or ignored. An attempt cut short by Close is not counted, nor are the
	// attempts of a previous endpoint that left the events in the spool.
	Attempts int

	// Err is nil when the destination accepted the events, or when they are
	// ignored. Otherwise the events were given up, for a reason found with
	// errors.Is: ErrQueueFull, ErrEventTooOld, ErrCloseTimeout, ErrRejected
	// (then errors.As finds the *DeliveryError), or an error of the spool
	// that could not store them. Given-up events also went to the endpoint's
	// DeadLetter.
	Err error

	// Ignored is true for events the endpoint's Ignore configuration
	// matches: they were never queued nor sent.
	Ignored bool
}

// Delivered reports whether the destination accepted the events.
func (f Finished) Delivered() bool { return f.Err == nil && !f.Ignored }

// outcomes is where an endpoint reports what became of its events: metrics,
// the rate-limited log of given-up events, the dead letter sink and
// EndpointConfig.OnFinished. Its methods may be called from the endpoint's
// goroutine and, for events Write ignores or refuses, from writers.
type outcomes struct {
	endpoint   string
	metrics    *endpointMetrics
	dropLog    *rateLimitedLog
	deadLetter Sink
	onFinished func(Finished)
	log        logrus.FieldLogger
}

// delivered reports n events the destination accepted after attempts
// attempts; written is when the oldest of them was written. events may be
// nil when there is no OnFinished to give them to.
func (o *outcomes) delivered(n int, events []Event, attempts int, written stamp) {
	o.metrics.delivered(n, written.since())
	o.finish(Finished{Endpoint: o.endpoint, Events: events, Attempts: attempts})
}

// givenUp counts and logs events that will never be delivered, hands them
// to the dead letter sink and reports them.
func (o *outcomes) givenUp(events []Event, attempts int, reason error) {
	o.givenUpCounted(len(events), events, attempts, reason)
}

// readsEvents reports whether anything reads the events given up: the dead
// letter sink or OnFinished. When nothing does, givenUpCounted needs only
// their count.
func (o *outcomes) readsEvents() bool {
	return o.deadLetter != nil || o.onFinished != nil
}

// givenUpCounted is givenUp for n events, which events holds when
// readsEvents says something reads them (it may be nil otherwise).
func (o *outcomes) givenUpCounted(n int, events []Event, attempts int, reason error) {
	o.metrics.dropped(n)
	o.dropLog.add(n, reason)
	if o.deadLetter != nil {
		if err := o.deadLetter.Write(append([]Event(nil), events...)...); err != nil {
			o.log.WithError(err).WithField("events", len(events)).Error("notifications: dead letter sink refused events")
		}
	}
	o.finish(Finished{Endpoint: o.endpoint, Events: events, Attempts: attempts, Err: reason})
}

// close logs the given-up events not logged yet; later ones are logged at
// once.
func (o *outcomes) close() { o.dropLog.close() }

// ignored reports events the endpoint's Ignore configuration matches.
func (o *outcomes) ignored(events []Event) {
	o.finish(Finished{Endpoint: o.endpoint, Events: events, Ignored: true})
}

func (o *outcomes) finish(f Finished) {
	if o.onFinished != nil && len(f.Events) > 0 {
		o.onFinished(f)
	}
}
