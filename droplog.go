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
// some line. The timer's function runs on a goroutine of its own once the
// interval has passed; close stops the timer or waits for that function,
// so that none is left after the endpoint's Close.
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
	others  bool // the line of the reasons past maxDropReasons; err the latest of them
}

// maxDropReasons is how many distinct reasons get a line of their own per
// interval; events given up for further reasons share one line.
const maxDropReasons = 8

func newRateLimitedLog(log logrus.FieldLogger, interval time.Duration) *rateLimitedLog {
	return &rateLimitedLog{log: log, interval: interval}
}

// add records n events given up for reason. It logs them now when the
// interval has passed since the last lines (or the log is closed), else
// when it passes. It logs outside its mutex: a hook of the logger may
// write to the endpoint again.
func (r *rateLimitedLog) add(n int, reason error) {
	r.mu.Lock()
	r.count(n, reason)
	var lines []droppedFor
	wait := r.interval - time.Since(r.last)
	switch {
	case wait <= 0 || r.closed:
		lines = r.takeLocked()
	case r.timer == nil:
		r.firing.Add(1)
		r.timer = time.AfterFunc(wait, r.fire)
	}
	r.mu.Unlock()
	r.write(lines)
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
	r.timer = nil
	lines := r.takeLocked()
	r.mu.Unlock()
	r.write(lines)
}

// takeLocked returns what is pending, a line per reason, and starts a new
// interval when there was any. r.mu is held.
func (r *rateLimitedLog) takeLocked() []droppedFor {
	if len(r.pending) == 0 {
		return nil
	}
	lines := append([]droppedFor(nil), r.pending...)
	if r.others.events > 0 {
		r.others.others = true
		lines = append(lines, r.others)
	}
	r.pending, r.others, r.last = r.pending[:0], droppedFor{}, time.Now()
	return lines
}

// write logs lines, which takeLocked returned.
func (r *rateLimitedLog) write(lines []droppedFor) {
	for _, d := range lines {
		msg := "notifications: events given up"
		if d.others {
			msg = "notifications: events given up for other reasons (the latest given)"
		}
		r.log.WithError(d.err).WithField("events", d.events).Warn(msg)
	}
}

// close logs what is pending and stops the timer; events given up after
// it are logged at once. It returns once the timer's function, if it ran,
// has returned (whose lines, taken before close's, may come after them).
func (r *rateLimitedLog) close() {
	r.mu.Lock()
	r.closed = true
	if r.timer != nil && r.timer.Stop() {
		r.firing.Done() // it will not run
	}
	r.timer = nil
	lines := r.takeLocked()
	r.mu.Unlock()
	r.write(lines)
	r.firing.Wait()
}
