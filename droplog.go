package notifications

import (
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// rateLimitedLog logs given-up events at most once per interval, with how
// many were given up for each reason since the previous lines, so that an
// overflowing endpoint does not flood its log. Events given up within the
// interval after a line are logged when it has passed (a timer, armed only
// while some wait), and at the latest by close: every given-up event is in
// some line.
type rateLimitedLog struct {
	log      logrus.FieldLogger
	interval time.Duration

	mu      sync.Mutex
	last    time.Time      // when the last lines were logged
	pending []droppedFor   // given up since, by reason, in order of first appearance
	others  droppedFor     // given up since for reasons past maxDropReasons; err the latest
	timer   *time.Timer    // logs what is pending once the interval has passed; nil when not armed
	closed  bool           // close ran: what comes after is logged at once
	firing  sync.WaitGroup // the timer's function, armed or running
}

// droppedFor counts events given up for one reason.
type droppedFor struct {
	err     error
	message string
	events  int
}

// maxDropReasons is how many distinct reasons get a line of their own per
// interval; events given up for further reasons share one line.
const maxDropReasons = 8

func newRateLimitedLog(log logrus.FieldLogger, interval time.Duration) *rateLimitedLog {
	return &rateLimitedLog{log: log, interval: interval}
}

// add records n events given up for reason. It logs them now when the
// interval has passed since the last lines (or the log is closed), else
// when it passes.
func (r *rateLimitedLog) add(n int, reason error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.count(n, reason)
	wait := r.interval - time.Since(r.last)
	switch {
	case wait <= 0 || r.closed:
		r.flushLocked()
	case r.timer == nil:
		r.firing.Add(1)
		r.timer = time.AfterFunc(wait, r.fire)
	}
}

// count adds n events given up for reason to what is pending.
func (r *rateLimitedLog) count(n int, reason error) {
	message := "<nil>"
	if reason != nil {
		message = reason.Error()
	}
	for i := range r.pending {
		if r.pending[i].message == message {
			r.pending[i].events += n
			return
		}
	}
	if len(r.pending) < maxDropReasons {
		r.pending = append(r.pending, droppedFor{err: reason, message: message, events: n})
		return
	}
	r.others.err, r.others.events = reason, r.others.events+n
}

// fire is the timer's function: it logs what is pending.
func (r *rateLimitedLog) fire() {
	defer r.firing.Done()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.timer = nil
	r.flushLocked()
}

// flushLocked logs a line per reason of what is pending, if anything is.
// r.mu is held.
func (r *rateLimitedLog) flushLocked() {
	if len(r.pending) == 0 {
		return
	}
	for _, d := range r.pending {
		r.log.WithError(d.err).WithField("events", d.events).Warn("notifications: events given up")
	}
	if r.others.events > 0 {
		r.log.WithError(r.others.err).WithField("events", r.others.events).Warn("notifications: events given up for other reasons (the latest given)")
	}
	r.pending, r.others, r.last = r.pending[:0], droppedFor{}, time.Now()
}

// close logs what is pending and stops the timer; events given up after
// it are logged at once. It returns once the timer's function, if it ran,
// has returned.
func (r *rateLimitedLog) close() {
	r.mu.Lock()
	r.closed = true
	if r.timer != nil && r.timer.Stop() {
		r.firing.Done() // it will not run
	}
	r.timer = nil
	r.flushLocked()
	r.mu.Unlock()
	r.firing.Wait()
}
