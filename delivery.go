package notifications

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Outcome classifies the answer to one delivery attempt.
type Outcome int

const (
	// Accepted means the destination took every event of the batch.
	Accepted Outcome = iota

	// Retry means the batch may succeed later: the destination was
	// unreachable, timed out, was busy or failed for its own reasons.
	Retry

	// Reject means the destination refused this content and will refuse it
	// again: sending the same batch again cannot succeed.
	Reject
)

// String returns the outcome's name: "accepted", "retry" or "reject".
func (o Outcome) String() string {
	switch o {
	case Accepted:
		return "accepted"
	case Retry:
		return "retry"
	case Reject:
		return "reject"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// A Deliverer is the last stage of an endpoint: it sends one batch of events
// to its destination and says how the destination answered. An Endpoint
// queues, batches and retries around it; the HTTP webhook is one
// implementation, and other transports plug in through NewDelivererEndpoint.
// A Deliverer that is also an Encoder encodes each batch once.
//
// Deliver is called from one goroutine at a time. It must return when ctx is
// done. It must not modify or keep the events slice.
type Deliverer interface {
	// Deliver sends events, in order, as one batch.
	Deliver(ctx context.Context, events []Event) Delivery

	// Close releases what the deliverer holds (idle connections, clients).
	// It is called once, after the last Deliver returned.
	Close() error
}

// Delivery is the result of one delivery attempt.
type Delivery struct {
	// Outcome says whether the batch was accepted, may be retried or was
	// refused for good.
	Outcome Outcome

	// Status is the destination's answer as it is counted in
	// EndpointMetrics.Statuses, such as "200 OK". It is empty when no answer
	// came (a transport error): such attempts count as Errors, not Failures.
	Status string

	// RetryAfter, when positive, is how long the destination asked the
	// sender to wait before the next attempt.
	RetryAfter time.Duration

	// Err describes why the batch was not accepted; nil when it was.
	Err error
}

// An Encoder is a Deliverer that turns a batch into what it sends before
// sending it. An endpoint whose Deliverer is an Encoder encodes each batch
// once, for all its attempts, and encodes the next batch while the current
// one is out; it calls DeliverEncoded instead of Deliver.
type Encoder interface {
	Deliverer

	// Encode makes events ready to be sent, in order, as one batch. It may
	// run on another goroutine while DeliverEncoded sends the previous
	// batch, and concurrently with another Encode (the next batch's, taken
	// ahead, while the current one is encoded): it must be safe for
	// concurrent use. It must not modify
	// events; it may keep them until the batch is released. An error makes
	// the endpoint handle the batch as refused (Reject), without sending it.
	Encode(events []Event) (Encoded, error)

	// DeliverEncoded is Deliver for a batch Encode made. It is called once
	// per attempt, so several times for a batch that is retried, and from
	// one goroutine at a time. It must return when ctx is done.
	DeliverEncoded(ctx context.Context, batch Encoded) Delivery
}

// A JSONEncoder is an Encoder that can make a batch from its events' JSON
// objects instead of encoding the events again. An endpoint whose
// Deliverer is a JSONEncoder calls EncodeJSON, instead of Encode, for each
// batch whose JSON it holds: events written with WriteEncoded (see
// EncodedSink), whether from memory or read back from its spool, which
// stores them as that JSON. The
// HTTP deliverer is one: it splices the stored bytes into the body, in
// either WireFormat, without encoding the events again.
type JSONEncoder interface {
	Encoder

	// EncodeJSON is Encode for events whose JSON objects are eventJSON, one
	// for each event and in the same order, byte for byte as EncodeEvents
	// returns them. It may send those bytes as they are, so they must be
	// the events' JSON. The rules of Encode apply; it modifies neither
	// slice and may keep both until the batch is released.
	EncodeJSON(events []Event, eventJSON [][]byte) (Encoded, error)
}

// Encoded is a batch an Encoder made ready to send.
type Encoded interface {
	// Release says that the endpoint is done with the batch: no
	// DeliverEncoded of it follows, and the encoder may reuse its memory.
	// The endpoint calls it once per batch.
	Release()
}

// ErrRejected is matched by errors.Is for the reason of events given up
// because the destination refused them (a Reject answer): such a reason is
// a *DeliveryError whose Outcome is Reject.
var ErrRejected = errors.New("notifications: refused by the destination")

// DeliveryError describes an attempt that was not accepted: it is the reason
// given for events refused for good (see ErrRejected). Callers find it with
// errors.As.
type DeliveryError struct {
	// Endpoint names the endpoint the attempt was for.
	Endpoint string

	// Delivery is the attempt's result; its Outcome is Retry or Reject.
	Delivery Delivery
}

// Error describes the failed attempt, naming the endpoint.
func (e *DeliveryError) Error() string {
	if e.Delivery.Status != "" {
		return fmt.Sprintf("notifications: endpoint %q answered %s: %v", e.Endpoint, e.Delivery.Status, e.Delivery.Err)
	}
	return fmt.Sprintf("notifications: endpoint %q: %v", e.Endpoint, e.Delivery.Err)
}

// Unwrap returns the underlying cause.
func (e *DeliveryError) Unwrap() error { return e.Delivery.Err }

// Is reports whether target is ErrRejected and the attempt was refused.
func (e *DeliveryError) Is(target error) bool {
	return target == ErrRejected && e.Delivery.Outcome == Reject
}

// IsRejected reports whether err says that the destination refused the
// content for good, so that sending it again cannot succeed.
func IsRejected(err error) bool {
	var de *DeliveryError
	return errors.As(err, &de) && de.Delivery.Outcome == Reject
}
