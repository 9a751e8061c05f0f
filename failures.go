package notifications

import (
	"time"

	"github.com/sirupsen/logrus"
)

// failureLogInterval is the least time between two summaries of an
// endpoint's failed attempts.
const failureLogInterval = 30 * time.Second

// failureLog makes an endpoint's failed attempts visible without flooding
// the log: the first failure after a success is logged at once, with its
// reason; while failures go on, a summary with their counts at most once
// per interval; and a line when an attempt succeeds again. Every failure is
// also recorded as the endpoint's last failure (EndpointMetrics). It is
// used by the endpoint's goroutine only.
type failureLog struct {
	log      logrus.FieldLogger
	interval time.Duration
	metrics  *endpointMetrics

	failing  bool      // the last attempt failed
	since    time.Time // first failure of the run
	lastLine time.Time
	attempts int // failed attempts since the last line
	events   int // events those attempts carried
	run      int // failed attempts since the last success
}

// attempted records one attempt of n events and its result.
func (f *failureLog) attempted(n int, d Delivery) {
	now := time.Now()
	if d.Outcome == Accepted {
		if f.failing {
			f.log.WithFields(logrus.Fields{"failed_attempts": f.run, "down_for": now.Sub(f.since).Round(time.Millisecond).String()}).
				Info("notifications: delivery recovered")
		}
		f.failing, f.run, f.attempts, f.events = false, 0, 0, 0
		return
	}
	reason := failureReason(d)
	f.metrics.failed(reason, now)
	f.run++
	f.attempts++
	f.events += n
	switch {
	case !f.failing:
		f.failing, f.since = true, now
	case now.Sub(f.lastLine) < f.interval:
		return
	}
	entry := f.log.WithFields(logrus.Fields{"outcome": d.Outcome.String(), "events": f.events, "attempts": f.attempts})
	if d.Status != "" {
		entry = entry.WithField("status", d.Status)
	}
	if d.Err != nil {
		entry = entry.WithError(d.Err)
	}
	msg := "notifications: delivery attempt failed"
	if f.run > 1 {
		msg = "notifications: delivery attempts failing"
		entry = entry.WithField("failing_for", now.Sub(f.since).Round(time.Millisecond).String())
	}
	entry.Warn(msg)
	f.lastLine, f.attempts, f.events = now, 0, 0
}

// failureReason describes a failed attempt for people: the status and the
// deliverer's error.
func failureReason(d Delivery) string {
	switch {
	case d.Err != nil && d.Status != "":
		return d.Status + ": " + d.Err.Error()
	case d.Err != nil:
		return d.Err.Error()
	case d.Status != "":
		return d.Status
	}
	return d.Outcome.String()
}
