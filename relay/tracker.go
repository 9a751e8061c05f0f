package relay

import (
	"sync"
)

// Tracker follows each event a relay delivers until every target has
// finished with it, for ingresses that must acknowledge their source only
// then (JetStream). Install its Finished method as the OnFinished of every
// target's EndpointConfig before opening the endpoints, and give it to
// New in Config.Tracker; then use Relay.Deliver. The endpoints should have
// no spool: events left in a spool at Close are never finished, so their
// source is told nothing and sends them again only after its own timeout
// (package config refuses spooldir in fleet mode).
type Tracker struct {
	mu      sync.Mutex
	pending map[string]*tracked // by event ID
	recent  *recentIDs          // IDs acknowledged lately
}

// tracked is one event on its way through the targets.
type tracked struct {
	left  int          // targets yet to finish with it
	retry bool         // a target gave it up for a reason another try may fix
	done  []func(bool) // the callbacks of every delivery of this ID
}

// NewTracker returns a tracker that remembers the last dedupe IDs it
// acknowledged (default DefaultDedupeSize when dedupe <= 0), so that an
// event its source delivers again is acknowledged without being sent again.
func NewTracker(dedupe int) *Tracker {
	if dedupe <= 0 {
		dedupe = DefaultDedupeSize
	}
	return &Tracker{pending: make(map[string]*tracked), recent: newRecentIDs(dedupe)}
}

// start registers the callback of an event about to be written to targets
// targets. It returns false when the event needs no writing: it is on its
// way already (done joins the other callbacks) or was acknowledged lately
// (done is called with true before start returns).
func (t *Tracker) start(id string, targets int, done func(ack bool)) bool {
	t.mu.Lock()
	if p, ok := t.pending[id]; ok {
		p.done = append(p.done, done)
		t.mu.Unlock()
		return false
	}
	if t.recent.contains(id) {
		t.mu.Unlock()
		done(true)
		return false
	}
	t.pending[id] = &tracked{left: targets, done: []func(bool){done}}
	t.mu.Unlock()
	return true
}

// finish records that one target has finished with the events of ids;
// retry says that it gave them up for a reason another attempt may fix.
// When the last target finished with an event, its callbacks are called
// (outside the lock) with true, or false when some target asked for a
// retry.
func (t *Tracker) finish(ids []string, retry bool) {
	var calls []func()
	t.mu.Lock()
	for _, id := range ids {
		p, ok := t.pending[id]
		if !ok {
			continue // not tracked: written by someone else, or already settled
		}
		p.left--
		p.retry = p.retry || retry
		if p.left > 0 {
			continue
		}
		delete(t.pending, id)
		ack := !p.retry
		if ack {
			t.recent.add(id)
		}
		for _, done := range p.done {
			calls = append(calls, func() { done(ack) })
		}
	}
	t.mu.Unlock()
	for _, call := range calls {
		call()
	}
}

// Pending returns how many events are on their way.
func (t *Tracker) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pending)
}

// recentIDs is a bounded set of IDs: past size, the oldest is forgotten.
type recentIDs struct {
	size int
	set  map[string]struct{}
	ring []string
	next int
}

func newRecentIDs(size int) *recentIDs {
	return &recentIDs{size: size, set: make(map[string]struct{})}
}

func (r *recentIDs) contains(id string) bool {
	_, ok := r.set[id]
	return ok
}

func (r *recentIDs) add(id string) {
	if _, ok := r.set[id]; ok {
		return
	}
	r.set[id] = struct{}{}
	if len(r.ring) < r.size {
		r.ring = append(r.ring, id)
		return
	}
	delete(r.set, r.ring[r.next])
	r.ring[r.next] = id
	r.next = (r.next + 1) % r.size
}
