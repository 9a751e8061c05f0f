package notifications

import (
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// rateLimitedLog logs given-up events at most once per interval, with the
// count since the previous line, so that an overflowing endpoint does not
// flood its log.
type rateLimitedLog struct {
	log      logrus.FieldLogger
	interval time.Duration

	mu      sync.Mutex
	last    time.Time
	pending int // events given up since the last line
}

func newRateLimitedLog(log logrus.FieldLogger, interval time.Duration) *rateLimitedLog {
	return &rateLimitedLog{log: log, interval: interval}
}

// add records n events given up for reason, and logs if the interval has
// passed since the last line.
func (r *rateLimitedLog) add(n int, reason error) {
	r.mu.Lock()
	r.pending += n
	now := time.Now()
	if now.Sub(r.last) < r.interval {
		r.mu.Unlock()
		return
	}
	count := r.pending
	r.pending, r.last = 0, now
	r.mu.Unlock()
	r.log.WithError(reason).WithField("events", count).Warn("notifications: events given up")
}
