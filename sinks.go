package notifications

// The errors of an endpoint: what Write and Close return, and the reasons
// given for events given up. The queue, which owns an endpoint's delivery,
// is in queue.go (its Write side and Close) and queue_batch.go (its
// goroutine's batches); its retry loop in retry.go; outcomes in finished.go.

import (
	"errors"
	"fmt"
)

// errAlreadyClosed is returned by a second Close of any sink of this package.
var errAlreadyClosed = fmt.Errorf("%w: already closed", ErrSinkClosed)

// Reasons for which events are given up, found with errors.Is in
// Finished.Err, in the error Write returns (ErrQueueFull), and in the log.
// ErrRejected (delivery.go) is the fourth.
var (
	// ErrQueueFull: the endpoint already held MaxPending events. Write
	// returns an error wrapping it, and the events go to the dead letter.
	ErrQueueFull = errors.New("notifications: endpoint queue full")

	// ErrEventTooOld: the event was older than MaxEventAge.
	ErrEventTooOld = errors.New("notifications: event older than MaxEventAge")

	// ErrCloseTimeout: Close ran out of time, and the endpoint has no spool.
	ErrCloseTimeout = errors.New("notifications: endpoint closed before delivery")
)

// UndeliveredError is returned by Close when CloseTimeout ran out before
// every event was delivered.
type UndeliveredError struct {
	// Endpoint names the endpoint.
	Endpoint string

	// Events is how many events were not delivered.
	Events int

	// Spooled is true when those events stay in the endpoint's spool, to be
	// delivered by the next endpoint opened on it; false when they were
	// dropped (and handed to the dead letter sink).
	Spooled bool
}

// Error says how many events were left and where, naming the endpoint.
func (e *UndeliveredError) Error() string {
	where := "dropped"
	if e.Spooled {
		where = "kept in the spool"
	}
	return fmt.Sprintf("notifications: endpoint %q closed with %d events undelivered (%s)", e.Endpoint, e.Events, where)
}

// maxEnvelopeBytes bounds the JSON of one batch; a single block larger than
// that still goes out alone, since blocks are never split to batch them.
const maxEnvelopeBytes = 1 << 20
