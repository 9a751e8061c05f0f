package notifications

import (
	"sync/atomic"
	"time"
)

// stamp is when a block was written: nanoseconds since clockBase, on the
// monotonic clock for a time read in this process (a block's written is
// 8 bytes, where a time.Time takes 24). clockBase's wall time plus a stamp
// drifts from the wall clock as the monotonic clock does (a slew, a step
// of the wall clock, a suspend): wallNanos gives the wall clock's reading.
type stamp int64

// clockBase is the time stamps count from.
var clockBase = time.Now()

// stampOf returns the stamp of t.
func stampOf(t time.Time) stamp { return stamp(t.Sub(clockBase)) }

// stampNow returns the stamp of the present.
func stampNow() stamp { return stampOf(time.Now()) }

// since returns the time elapsed since s.
func (s stamp) since() time.Duration { return time.Since(clockBase) - time.Duration(s) }

// wallNanos returns the wall clock's reading at s, in Unix nanoseconds:
// what a spool's record keeps, and compares with the wall clock once read
// back by a later process. It reads the clocks at most once a second (a
// spooled Write would otherwise read them twice): s is added to the wall
// clock's reading at the last anchor, taken again once s is more than a
// second past it, so that a step of the wall clock shows within a second,
// and a slew is off by at most a second's worth of it.
func (s stamp) wallNanos() int64 {
	a := wallAnchor.Load()
	if s-a.at > stamp(time.Second) {
		a = newClockAnchor()
		wallAnchor.Store(a)
	}
	return a.wall + int64(s-a.at)
}

// stampOfWall returns the stamp of a wall clock reading in Unix
// nanoseconds (a spool record's): wallNanos undone through the anchor, so
// that a stamp read back from a record written under the same anchor is
// the stamp written.
func stampOfWall(wall int64) stamp {
	a := wallAnchor.Load()
	return a.at + stamp(wall-a.wall)
}

// clockAnchor is one reading of both clocks: the stamp of an instant and
// the wall clock's reading then, in Unix nanoseconds.
type clockAnchor struct {
	at   stamp
	wall int64
}

// wallAnchor is the last anchor wallNanos took.
var wallAnchor atomic.Pointer[clockAnchor]

func init() { wallAnchor.Store(newClockAnchor()) }

func newClockAnchor() *clockAnchor {
	now := time.Now()
	return &clockAnchor{at: stampOf(now), wall: now.UnixNano()}
}
