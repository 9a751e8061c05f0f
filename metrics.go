package notifications

import (
	"expvar"
	"sync"
	"sync/atomic"
	"time"
)

// EndpointMetrics track various actions taken by the endpoint, typically by
// number of events. The goal of this to export it via expvar but we may find
// some other future solution to be better.
//
// Every counter counts events, not requests: an envelope of five events that
// fails adds five to Failures.
type EndpointMetrics struct {
	Pending   int            // events held, in memory or spool (see Endpoint.Pending)
	Events    int            // total events incoming: taken into the queue or spool (not those given up at once, past MaxPending or on a spool error); counted once stored, so a scrape may see an event's success first
	Successes int            // total events written successfully
	Failures  int            // total events failed
	Errors    int            // total events errored
	Statuses  map[string]int // status code histogram, per call event

	// Dropped counts events that will never reach the endpoint: refused
	// past MaxPending or by a spool that could not store them, rejected
	// Threshold times, older than MaxEventAge, left by a Close that timed
	// out without a spool, or lost to damaged spool records. They went to
	// the DeadLetter sink, when one is configured (but for the damaged
	// records, which could not be read).
	Dropped int

	// LastFailure describes the last attempt that was not accepted: the
	// answer's status and the deliverer's error (for HTTP, the transport
	// error and its cause, such as a refused connection or
	// ErrBlockedAddress), never a header value nor the URL. Empty when no
	// attempt failed yet.
	LastFailure string `json:",omitempty"`

	// LastFailureTime is when that attempt ended; zero when none failed.
	LastFailureTime time.Time `json:",omitzero"`

	// Failing is true when the endpoint's last delivery attempt was not
	// accepted (it failed, or was refused), or its spool could not be read
	// since (LastFailure then says "reading the spool: ..."), until an
	// attempt is accepted.
	Failing bool `json:",omitempty"`
}

// endpointMetrics is the live counterpart of EndpointMetrics that the
// stages of an endpoint update: under its mutex, but for the two counters
// every Write moves, atomics, so that a Write shares no lock with the
// endpoint's goroutine (see eventQueue.storeBlock).
type endpointMetrics struct {
	events  atomic.Int64 // EndpointMetrics.Events
	pending atomic.Int64 // EndpointMetrics.Pending

	mu      sync.Mutex
	m       EndpointMetrics // but for Events and Pending
	latency latencyHistogram
}

func newEndpointMetrics() *endpointMetrics {
	return &endpointMetrics{m: EndpointMetrics{Statuses: make(map[string]int)}}
}

// received counts n events written to the endpoint as pending; stored
// counts them in Events once the store took them.
func (em *endpointMetrics) received(n int) {
	em.pending.Add(int64(n))
}

// receivedWithin is received for an endpoint that holds at most limit
// events: it counts the n events only when they take the pending ones to
// limit at most, and reports whether it did. Concurrent callers never take
// Pending past limit together.
func (em *endpointMetrics) receivedWithin(n, limit int) bool {
	for {
		pending := em.pending.Load()
		if pending+int64(n) > int64(limit) {
			return false
		}
		if em.pending.CompareAndSwap(pending, pending+int64(n)) {
			return true
		}
	}
}

// unreceived takes back received(n), for events the store then refused.
func (em *endpointMetrics) unreceived(n int) {
	em.pending.Add(-int64(n))
}

// stored counts n events received and stored in Events: counted only then,
// Events never goes down, as a refusal by the store would take it.
func (em *endpointMetrics) stored(n int) {
	em.events.Add(int64(n))
}

// recovered counts n events found in a spool at start as pending.
func (em *endpointMetrics) recovered(n int) {
	em.pending.Add(int64(n))
}

// dropped counts n events given up.
func (em *endpointMetrics) dropped(n int) {
	em.mu.Lock()
	em.m.Dropped += n
	em.mu.Unlock()
}

// finished counts n events that left the queue: delivered or given up.
func (em *endpointMetrics) finished(n int) {
	em.pending.Add(-int64(n))
}

// unreadable records that the store could not be read, err saying why: the
// endpoint is failing (and says so in LastFailure) until an attempt is
// accepted, since nothing can be delivered meanwhile.
func (em *endpointMetrics) unreadable(err error) {
	em.mu.Lock()
	defer em.mu.Unlock()
	em.m.Failing = true
	em.m.LastFailure = "reading the spool: " + err.Error()
	em.m.LastFailureTime = time.Now()
}

// attempted counts one delivery attempt of n events with its result.
func (em *endpointMetrics) attempted(n int, d Delivery) {
	em.mu.Lock()
	defer em.mu.Unlock()
	em.m.Failing = d.Outcome != Accepted
	switch {
	case d.Outcome == Accepted:
		em.m.Successes += n
	case d.Status == "":
		em.m.Errors += n
	default:
		em.m.Failures += n
	}
	if d.Status != "" {
		em.m.Statuses[d.Status] += n
	}
}

// failed records the last failed attempt.
func (em *endpointMetrics) failed(reason string, at time.Time) {
	em.mu.Lock()
	em.m.LastFailure, em.m.LastFailureTime = reason, at
	em.mu.Unlock()
}

// read copies the counters into out, with a Statuses map of its own.
func (em *endpointMetrics) read(out *EndpointMetrics) {
	em.mu.Lock()
	defer em.mu.Unlock()
	*out = em.m
	out.Events, out.Pending = int(em.events.Load()), int(em.pending.Load())
	out.Statuses = make(map[string]int, len(em.m.Statuses))
	for k, v := range em.m.Statuses {
		out.Statuses[k] = v
	}
}

// openEndpoints is the list published under expvar registry.notifications.
// Endpoints join it when created and leave it when closed.
var openEndpoints struct {
	mu   sync.Mutex
	list []*Endpoint
	once sync.Once
}

// register adds e to the published list, publishing the list on first use.
func register(e *Endpoint) {
	openEndpoints.once.Do(publishExpvar)
	openEndpoints.mu.Lock()
	openEndpoints.list = append(openEndpoints.list, e)
	openEndpoints.mu.Unlock()
}

// unregister removes e from the published list.
func unregister(e *Endpoint) {
	openEndpoints.mu.Lock()
	defer openEndpoints.mu.Unlock()
	for i, x := range openEndpoints.list {
		if x == e {
			openEndpoints.list = append(openEndpoints.list[:i], openEndpoints.list[i+1:]...)
			return
		}
	}
}

// publishedEndpoint is the expvar form of an endpoint. Header names are
// published; their values never are, since credentials live there.
type publishedEndpoint struct {
	Name      string              `json:"name"`
	URL       string              `json:"url"`
	Headers   map[string][]string `json:"Headers"`
	Timeout   int64               `json:"Timeout"`
	Threshold int                 `json:"Threshold"`
	Backoff   int64               `json:"Backoff"`
	Metrics   EndpointMetrics     `json:"Metrics"`
}

// redactedValue stands in for every header value in published data.
const redactedValue = "<redacted>"

func (e *Endpoint) published() publishedEndpoint {
	p := publishedEndpoint{
		Name:      e.name,
		URL:       e.shownURL,
		Headers:   redactHeaders(e.Headers),
		Timeout:   int64(e.Timeout),
		Threshold: e.Threshold,
		Backoff:   int64(e.Backoff),
	}
	e.ReadMetrics(&p.Metrics)
	return p
}

// redactHeaders keeps the header names and the number of values of each,
// replacing every value.
func redactHeaders(h map[string][]string) map[string][]string {
	out := make(map[string][]string, len(h))
	for name, values := range h {
		r := make([]string, len(values))
		for i := range r {
			r[i] = redactedValue
		}
		out[name] = r
	}
	return out
}

// publishExpvar publishes the endpoint list as registry → notifications →
// endpoints, reusing a "registry" map that the embedding program published.
func publishExpvar() {
	registry, ok := expvar.Get("registry").(*expvar.Map)
	if !ok {
		if expvar.Get("registry") != nil {
			return // someone else owns the name with another type
		}
		registry = expvar.NewMap("registry")
	}
	notifications, ok := registry.Get("notifications").(*expvar.Map)
	if !ok {
		notifications = new(expvar.Map).Init()
		registry.Set("notifications", notifications)
	}
	notifications.Set("endpoints", expvar.Func(func() any {
		list := OpenEndpoints()
		out := make([]publishedEndpoint, 0, len(list))
		for _, e := range list {
			out = append(out, e.published())
		}
		return out
	}))
}
