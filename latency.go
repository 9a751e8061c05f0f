package notifications

import "time"

// DeliveryLatencyBuckets are the upper bounds, in seconds, of the buckets in
// which an endpoint counts the time from Write to acceptance of its events.
// Each event of a delivered batch is counted with the time since the Write
// of the batch's oldest events: exact for those, an upper bound for the
// others.
var DeliveryLatencyBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800}

// LatencyHistogram is a snapshot of the time events took from Write to
// acceptance by the destination, one observation per event (see
// DeliveryLatencyBuckets for the time counted).
type LatencyHistogram struct {
	// Buckets are the upper bounds in seconds, as DeliveryLatencyBuckets.
	Buckets []float64

	// Counts[i] is the number of events that took at most Buckets[i]
	// (cumulative, as Prometheus histograms count).
	Counts []uint64

	// Count is the number of events observed; Sum their latencies in seconds.
	Count uint64
	Sum   float64
}

// latencyHistogram is the live counterpart of LatencyHistogram, guarded by
// the endpointMetrics mutex.
type latencyHistogram struct {
	counts []uint64 // per bucket, not cumulative; one more for +Inf
	count  uint64
	sum    float64
}

// observe counts n events that took d.
func (h *latencyHistogram) observe(d time.Duration, n int) {
	if h.counts == nil {
		h.counts = make([]uint64, len(DeliveryLatencyBuckets)+1)
	}
	s := d.Seconds()
	i := 0
	for i < len(DeliveryLatencyBuckets) && s > DeliveryLatencyBuckets[i] {
		i++
	}
	h.counts[i] += uint64(n)
	h.count += uint64(n)
	h.sum += s * float64(n)
}

// read copies h into out with cumulative counts.
func (h *latencyHistogram) read(out *LatencyHistogram) {
	out.Buckets = append([]float64(nil), DeliveryLatencyBuckets...)
	out.Counts = make([]uint64, len(DeliveryLatencyBuckets))
	var cum uint64
	for i := range out.Counts {
		if h.counts != nil {
			cum += h.counts[i]
		}
		out.Counts[i] = cum
	}
	out.Count, out.Sum = h.count, h.sum
}

// delivered counts n events accepted by the destination, latency after they
// were written.
func (em *endpointMetrics) delivered(n int, latency time.Duration) {
	em.mu.Lock()
	em.latency.observe(latency, n)
	em.mu.Unlock()
}

// ReadDeliveryLatency populates h with the histogram of the time this
// endpoint's events took from Write to acceptance (see
// DeliveryLatencyBuckets for the time counted).
func (e *Endpoint) ReadDeliveryLatency(h *LatencyHistogram) {
	e.metrics.mu.Lock()
	defer e.metrics.mu.Unlock()
	e.metrics.latency.read(h)
}

// OpenEndpoints returns the endpoints that were created and not yet closed,
// in the order they were created.
func OpenEndpoints() []*Endpoint {
	openEndpoints.mu.Lock()
	defer openEndpoints.mu.Unlock()
	return append([]*Endpoint(nil), openEndpoints.list...)
}
