package relay

import (
	"errors"

	"github.com/regnotify/notifications"
)

// ErrNoTracker is returned by Deliver on a relay made without a Tracker.
var ErrNoTracker = errors.New("relay: Deliver needs Config.Tracker")

// Deliver writes events to every target, each as a block of its own (they
// come from separate messages), and calls done(i, ack) once for each event
// i when every target has finished with it: ack
// is true when each target delivered it, ignores it or gave it up for good
// (it went to the target's dead letter); false when a target gave it up for
// a reason another attempt may fix (its queue was full, it was closing), so
// that the caller has its source send the event again. done is called from
// the targets' goroutines or, for events settled at once, before Deliver
// returns; it must not block.
//
// An event whose ID is on its way already is not written again: its done
// is called with the other's outcome. An event acknowledged lately (the
// Tracker's dedupe size) is acknowledged at once. An event without an ID
// cannot be followed: it is not written, and done says ack (it is dropped,
// with a log line).
func (r *Relay) Deliver(events []notifications.Event, done func(i int, ack bool)) error {
	tr := r.cfg.Tracker
	if tr == nil {
		return ErrNoTracker
	}
	fresh := make([]notifications.Event, 0, len(events))
	for i := range events {
		e := &events[i]
		if e.ID == "" {
			r.log.WithField("action", e.Action).Warn("relay: event without an id dropped")
			done(i, true)
			continue
		}
		if tr.start(e.ID, len(r.cfg.Targets), func(ack bool) { done(i, ack) }) {
			fresh = append(fresh, *e)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	for _, t := range r.cfg.Targets {
		refused := 0
		for _, e := range fresh {
			// One block per event: events from separate messages are not
			// related, and MaxBatch then bounds the events of a request.
			if err := t.Endpoint.Write(e); err != nil {
				refused++
				if errors.Is(err, notifications.ErrSinkClosed) { // the endpoint does not finish these
					tr.finish([]string{e.ID}, true)
				}
			}
		}
		if refused > 0 {
			r.log.WithField("endpoint", t.Endpoint.Name()).WithField("events", refused).Warn("relay: endpoint refused events; they will be sent again")
		}
	}
	return nil
}

// eventIDs returns the IDs of events.
func eventIDs(events []notifications.Event) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}
