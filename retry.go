package notifications

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// retryingSink writes to the next sink until it succeeds, waiting between
// attempts as its policy says. The count of consecutive failures carries
// across writes; a success resets it. It gives a batch up only in two
// cases, handing the events to giveUp: events older than maxAge, and a
// single event the destination rejected threshold times in a row. A
// rejected batch of several events is split in halves, to isolate the event
// refused. It returns ErrSinkClosed once closed.
type retryingSink struct {
	next      Sink
	policy    BackoffPolicy
	threshold int           // rejections of one event before it is given up
	maxAge    time.Duration // 0: no limit
	giveUp    giveUpFunc
	now       func() time.Time

	mu       sync.Mutex
	failures int
	closed   bool
	closing  chan struct{} // closed by Close: wakes every wait
}

var _ Sink = (*retryingSink)(nil)

func newRetryingSink(next Sink, policy BackoffPolicy, threshold int, maxAge time.Duration, giveUp giveUpFunc) *retryingSink {
	return &retryingSink{
		next: next, policy: policy, threshold: max(threshold, 1), maxAge: maxAge, giveUp: giveUp,
		now: time.Now, closing: make(chan struct{}),
	}
}

// Write blocks until the events were written to the next sink or given up,
// and returns nil; or, once the sink is closed, an error wrapping
// ErrSinkClosed (an *interruptedError saying which events are unfinished).
func (rs *retryingSink) Write(events ...Event) error {
	rejections := 0
	for {
		if events = rs.dropExpired(events); len(events) == 0 {
			return nil
		}
		err := rs.next.Write(events...)
		if err == nil {
			rs.setFailures(0)
			return nil
		}
		if errors.Is(err, ErrSinkClosed) {
			return &interruptedError{unfinished: events}
		}
		if IsRejected(err) {
			if len(events) > 1 {
				mid := len(events) / 2
				if err := rs.Write(events[:mid]...); err != nil {
					var ie *interruptedError
					if errors.As(err, &ie) {
						return ie.with(events[mid:])
					}
					return err
				}
				return rs.Write(events[mid:]...)
			}
			if rejections++; rejections >= rs.threshold {
				rs.setFailures(0) // the destination answers: it is not down
				rs.giveUp(events, err)
				return nil
			}
		}
		rs.mu.Lock()
		rs.failures++
		wait := max(rs.policy.Delay(rs.failures), retryAfter(err))
		rs.mu.Unlock()
		if !rs.sleep(wait) {
			return &interruptedError{unfinished: events}
		}
	}
}

// interruptedError is what a retrying sink's Write returns when it was
// closed before it finished: it wraps ErrSinkClosed and holds the events
// neither delivered nor given up, so that they are not given up twice.
type interruptedError struct {
	unfinished []Event
}

func (e *interruptedError) Error() string {
	return fmt.Sprintf("%v: %d events unfinished", ErrSinkClosed, len(e.unfinished))
}

func (e *interruptedError) Unwrap() error { return ErrSinkClosed }

// with adds the events that came after the interrupted ones.
func (e *interruptedError) with(more []Event) *interruptedError {
	e.unfinished = append(append([]Event(nil), e.unfinished...), more...)
	return e
}

func (rs *retryingSink) setFailures(n int) {
	rs.mu.Lock()
	rs.failures = n
	rs.mu.Unlock()
}

// dropExpired gives up the events older than maxAge and returns the others,
// in order. Events without a timestamp never expire.
func (rs *retryingSink) dropExpired(events []Event) []Event {
	if rs.maxAge <= 0 {
		return events
	}
	cutoff := rs.now().Add(-rs.maxAge)
	var keep, expired []Event
	for i, e := range events {
		old := !e.Timestamp.IsZero() && e.Timestamp.Before(cutoff)
		switch {
		case old && expired == nil && keep == nil:
			keep = append(make([]Event, 0, len(events)), events[:i]...)
			expired = append(expired, e)
		case old:
			expired = append(expired, e)
		case keep != nil:
			keep = append(keep, e)
		}
	}
	if expired == nil {
		return events
	}
	rs.giveUp(expired, ErrEventTooOld)
	return keep
}

// sleep waits for d and reports whether the sink is still open.
func (rs *retryingSink) sleep(d time.Duration) bool {
	if d <= 0 {
		select {
		case <-rs.closing:
			return false
		default:
			return true
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-rs.closing:
		return false
	case <-t.C:
		return true
	}
}

// Close wakes a waiting Write and closes the next sink.
func (rs *retryingSink) Close() error {
	rs.mu.Lock()
	if rs.closed {
		rs.mu.Unlock()
		return errAlreadyClosed
	}
	rs.closed = true
	close(rs.closing)
	rs.mu.Unlock()
	return rs.next.Close()
}
