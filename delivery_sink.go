package notifications

import (
	"context"
	"sync"
)

// deliverySink is the last sink of an endpoint: each Write is one attempt
// of its Deliverer, counted in the endpoint's metrics. A failed attempt
// returns a *DeliveryError. Close cancels an attempt in flight, waits for it,
// and closes the Deliverer.
type deliverySink struct {
	endpoint  string
	deliverer Deliverer
	metrics   *endpointMetrics

	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	inFlight sync.WaitGroup
}

var _ Sink = (*deliverySink)(nil)

func newDeliverySink(endpoint string, d Deliverer, metrics *endpointMetrics) *deliverySink {
	ctx, cancel := context.WithCancel(context.Background())
	return &deliverySink{endpoint: endpoint, deliverer: d, metrics: metrics, ctx: ctx, cancel: cancel}
}

// Write makes one delivery attempt of events. It returns nil when they were
// accepted, ErrSinkClosed when the sink was closed before or during the
// attempt, and a *DeliveryError otherwise.
func (s *deliverySink) Write(events ...Event) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrSinkClosed
	}
	s.inFlight.Add(1)
	s.mu.Unlock()
	defer s.inFlight.Done()

	d := s.deliverer.Deliver(s.ctx, events)
	if d.Outcome != Accepted && s.ctx.Err() != nil {
		return ErrSinkClosed // cancelled by Close: not the receiver's answer
	}
	s.metrics.attempted(len(events), d)
	if d.Outcome == Accepted {
		return nil
	}
	return &DeliveryError{Endpoint: s.endpoint, Delivery: d}
}

// Close cancels the attempt in flight, if any, waits for it to return and
// closes the deliverer.
func (s *deliverySink) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errAlreadyClosed
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.inFlight.Wait()
	return s.deliverer.Close()
}
