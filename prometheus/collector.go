// Package prometheus exports the metrics of every open regnotify endpoint to
// Prometheus, under the names the notifications of distribution v3 use, so
// that existing dashboards keep working:
//
//	registry_notifications_events_total{type="Events|Successes|Failures|Errors",endpoint}  counter
//	registry_notifications_pending_total{endpoint}                                        gauge
//	registry_notifications_status_total{code="200 OK",endpoint}                           counter
//
// and three of regnotify's own:
//
//	registry_notifications_dropped_total{endpoint}     counter
//	registry_notifications_delivery_seconds{endpoint}  histogram of the time from Write to acceptance
//	registry_notifications_failing{endpoint}           gauge: 1 while the last attempt was not accepted
//
// It is a module of its own, so that the notifications library never
// depends on the Prometheus client. Register one Collector:
//
//	prometheus.MustRegister(notifprom.NewCollector())
package prometheus

import (
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/regnotify/notifications"
)

// Metric names: the first three are those distribution v3 exports.
const (
	// EventsMetric counts events by type: Events (written to the endpoint),
	// Successes, Failures (answered with an unaccepted status) and Errors
	// (no answer: transport errors, refused addresses).
	EventsMetric = "registry_notifications_events_total"

	// PendingMetric is the gauge of events queued and not yet delivered or
	// given up (the "_total" suffix is upstream's).
	PendingMetric = "registry_notifications_pending_total"

	// StatusMetric counts events by the status that answered them, such as
	// "200 OK".
	StatusMetric = "registry_notifications_status_total"

	// DroppedMetric counts events given up without delivery.
	DroppedMetric = "registry_notifications_dropped_total"

	// LatencyMetric is the histogram of the time events took from Write to
	// acceptance, in seconds, with notifications.DeliveryLatencyBuckets
	// (each event counted from the Write of its batch's oldest events).
	LatencyMetric = "registry_notifications_delivery_seconds"

	// FailingMetric is 1 while the endpoint's last delivery attempt was not
	// accepted, or its spool could not be read since
	// (notifications.EndpointMetrics.Failing), else 0: what to alert on.
	FailingMetric = "registry_notifications_failing"
)

// Label names, as distribution v3 uses them.
const (
	endpointLabel  = "endpoint"
	eventTypeLabel = "type"
	codeLabel      = "code"
)

var (
	eventsDesc = prometheus.NewDesc(EventsMetric,
		"The number of total events", []string{eventTypeLabel, endpointLabel}, nil)
	pendingDesc = prometheus.NewDesc(PendingMetric,
		"The gauge of pending events in queue", []string{endpointLabel}, nil)
	statusDesc = prometheus.NewDesc(StatusMetric,
		"The number of status code", []string{codeLabel, endpointLabel}, nil)
	droppedDesc = prometheus.NewDesc(DroppedMetric,
		"The number of events given up without delivery", []string{endpointLabel}, nil)
	latencyDesc = prometheus.NewDesc(LatencyMetric,
		"The time events took from Write to acceptance by the endpoint", []string{endpointLabel}, nil)
	failingDesc = prometheus.NewDesc(FailingMetric,
		"1 while the endpoint's last delivery attempt was not accepted", []string{endpointLabel}, nil)
)

// Collector is a prometheus.Collector over every endpoint that is open when
// it is collected (notifications.OpenEndpoints): a closed endpoint drops out.
// Endpoints that share a name are reported as one, their counts added up
// (failing when any of them is); when one of them closes, its counts stay
// in the sum as long as another of its name is open, so that the counters
// never go down.
//
// Only the endpoint's name is a label (with U+FFFD for any byte of it that
// is not UTF-8): neither its URL nor its configuration (header values,
// secrets) appears in any metric.
type Collector struct {
	endpoints func() []*notifications.Endpoint

	mu   sync.Mutex                // one Collect at a time: it updates what follows
	seen []*notifications.Endpoint // the endpoints the last Collect read
	// retired holds, per name, the final counts of the endpoints that
	// closed while another of their name stayed open: they stay in the
	// sums, which would otherwise go down (a counter reset, to Prometheus).
	retired map[string]*endpointSample
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a collector over every open endpoint. Register one per
// registry.
func NewCollector() *Collector {
	return &Collector{endpoints: notifications.OpenEndpoints}
}

// Describe sends the descriptors of the six metrics.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{eventsDesc, pendingDesc, statusDesc, droppedDesc, latencyDesc, failingDesc} {
		ch <- d
	}
}

// endpointSample is what one endpoint name reports.
type endpointSample struct {
	metrics notifications.EndpointMetrics
	latency notifications.LatencyHistogram
}

// labelValue returns s as a label value, which must be UTF-8: with U+FFFD
// in place of bytes that are not.
func labelValue(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// add adds what e reports to s.
func (s *endpointSample) add(e *notifications.Endpoint) {
	var from endpointSample
	e.ReadMetrics(&from.metrics)
	e.ReadDeliveryLatency(&from.latency)
	s.metrics.Pending += from.metrics.Pending
	s.metrics.Failing = s.metrics.Failing || from.metrics.Failing
	s.addCounts(&from)
}

// addCounts adds the counters of from to s: its counts, statuses and
// latencies, not its gauges.
func (s *endpointSample) addCounts(from *endpointSample) {
	m, h := &from.metrics, &from.latency
	s.metrics.Events += m.Events
	s.metrics.Successes += m.Successes
	s.metrics.Failures += m.Failures
	s.metrics.Errors += m.Errors
	s.metrics.Dropped += m.Dropped
	if s.metrics.Statuses == nil {
		s.metrics.Statuses = make(map[string]int, len(m.Statuses))
	}
	for code, n := range m.Statuses {
		// A Deliverer of the caller's may return any Status: those that
		// labelValue makes alike add up.
		s.metrics.Statuses[labelValue(code)] += n
	}
	if s.latency.Buckets == nil {
		s.latency.Buckets = h.Buckets
		s.latency.Counts = make([]uint64, len(h.Counts))
	}
	for i := range min(len(h.Counts), len(s.latency.Counts)) {
		s.latency.Counts[i] += h.Counts[i]
	}
	s.latency.Count += h.Count
	s.latency.Sum += h.Sum
}

// retire moves into c.retired the final counts of the endpoints the last
// Collect read that have closed since while another of their name is open
// (samples holds the open ones' names), and forgets the retired counts of
// names no open endpoint has: their series end.
func (c *Collector) retire(open []*notifications.Endpoint, samples map[string]*endpointSample) {
	isOpen := make(map[*notifications.Endpoint]bool, len(open))
	for _, e := range open {
		isOpen[e] = true
	}
	for _, e := range c.seen {
		name := labelValue(e.Name())
		if isOpen[e] || samples[name] == nil {
			continue
		}
		r := c.retired[name]
		if r == nil {
			if c.retired == nil {
				c.retired = make(map[string]*endpointSample)
			}
			r = new(endpointSample)
			c.retired[name] = r
		}
		r.add(e) // its final counts: a closed endpoint's metrics stay readable (its gauges are not used)
	}
	for name := range c.retired {
		if samples[name] == nil {
			delete(c.retired, name)
		}
	}
	c.seen = open
}

// Collect reads every open endpoint and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	open := c.endpoints()
	var names []string
	samples := make(map[string]*endpointSample)
	for _, e := range open {
		name := labelValue(e.Name())
		s, ok := samples[name]
		if !ok {
			s = new(endpointSample)
			samples[name] = s
			names = append(names, name)
		}
		s.add(e)
	}
	c.retire(open, samples)
	for _, name := range names {
		s := samples[name]
		if r := c.retired[name]; r != nil {
			s.addCounts(r)
		}
		m := s.metrics
		for _, counter := range []struct {
			kind  string
			value int
		}{
			{"Events", m.Events}, {"Successes", m.Successes}, {"Failures", m.Failures}, {"Errors", m.Errors},
		} {
			ch <- prometheus.MustNewConstMetric(eventsDesc, prometheus.CounterValue, float64(counter.value), counter.kind, name)
		}
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(m.Pending), name)
		for code, n := range m.Statuses {
			ch <- prometheus.MustNewConstMetric(statusDesc, prometheus.CounterValue, float64(n), code, name)
		}
		ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(m.Dropped), name)
		failing := 0.0
		if m.Failing {
			failing = 1
		}
		ch <- prometheus.MustNewConstMetric(failingDesc, prometheus.GaugeValue, failing, name)

		buckets := make(map[float64]uint64, len(s.latency.Buckets))
		for i, bound := range s.latency.Buckets {
			buckets[bound] = s.latency.Counts[i]
		}
		ch <- prometheus.MustNewConstHistogram(latencyDesc, s.latency.Count, s.latency.Sum, buckets, name)
	}
}
