package spool

import "github.com/sirupsen/logrus"

// Damaged records: scan skips the bytes of a record that fails its checks
// (a torn append, a flipped bit) and logs them here, once per record.

// maxSkipsRemembered bounds the damaged records logSkip remembers; past
// it, it forgets them all and may log some again.
const maxSkipsRemembered = 1024

// logSkip logs the damaged bytes at off of segment seq, once: the count at
// open and every read that meets them (a batch read again, say) skip them
// each time.
func (l *Log) logSkip(seq uint64, off, n int64, err error) {
	at := Position{Segment: seq, Offset: off}
	l.skipMu.Lock()
	_, logged := l.skips[at]
	if !logged {
		if l.skips == nil || len(l.skips) >= maxSkipsRemembered {
			l.skips = map[Position]struct{}{}
		}
		l.skips[at] = struct{}{}
	}
	l.skipMu.Unlock()
	if logged {
		return
	}
	l.log.WithError(err).WithFields(logrus.Fields{"segment": l.segmentPath(seq), "offset": off, "bytes": n}).
		Error("notifications: spool: skipping a damaged record")
}
