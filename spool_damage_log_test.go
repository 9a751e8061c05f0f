package notifications

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Messages of the lines a damaged spool record is logged with: by the
// storage engine, where it skips the bytes; by the spool store, for a
// record whose events do not decode; by the engine, for records counted
// and then found unreadable; and by the queue, with the count of events
// lost.
const (
	msgSkippedRecord   = "notifications: spool: skipping a damaged record"
	msgUndecodable     = "notifications: spool: a record of events that do not decode"
	msgCountedUnread   = "notifications: spool: events counted but unreadable"
	msgLostToDamage    = "notifications: spool: events lost to damaged records"
	spoolRecordMagic   = "RNS2" // internal/spool: the first bytes of every record
	spoolRecordHdrSize = 16     // internal/spool: magic, length, count, CRC
)

// spoolSegment returns the path of the one segment file of endpoint name's
// spool under dir and the offset of each record in it, found by their magic.
func spoolSegment(t *testing.T, dir, name string) (string, []int64) {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, spoolDirName(name), "*.seg"))
	require.NoError(t, err)
	require.Len(t, segs, 1)
	data, err := os.ReadFile(segs[0])
	require.NoError(t, err)
	var offsets []int64
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte(spoolRecordMagic))
		if j < 0 {
			break
		}
		offsets = append(offsets, int64(i+j))
		i += j + len(spoolRecordMagic)
	}
	return segs[0], offsets
}

// flipSpoolByte inverts the byte at off of the file at path, in place (the
// file may be open: nothing else of it moves).
func flipSpoolByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	b := make([]byte, 1)
	_, err = f.ReadAt(b, off)
	require.NoError(t, err)
	b[0] ^= 0xff
	_, err = f.WriteAt(b, off)
	require.NoError(t, err)
}

// entriesWith returns the entries of hook with message msg.
func entriesWith(hook *logtest.Hook, msg string) []*logrus.Entry {
	var out []*logrus.Entry
	for _, e := range hook.AllEntries() {
		if e.Message == msg {
			out = append(out, e)
		}
	}
	return out
}

// openDamaged opens endpoint name on the spool under dir, posting to rc
// (one block a POST), logging to a hook, with a dead letter sink.
func openDamaged(t *testing.T, dir, name string, rc *receiver) (*Endpoint, *logtest.Hook, *fakeSink) {
	t.Helper()
	logger, hook := logtest.NewNullLogger()
	dead := &fakeSink{}
	config := fastConfig()
	config.SpoolDir = dir
	config.Logger = logger
	config.MaxBatch = 1
	config.DeadLetter = dead
	e, err := OpenEndpoint(name, rc.URL, config)
	require.NoError(t, err)
	return e, hook, dead
}

// README, Storage: "A torn or corrupt record is logged and skipped."
//
// A record damaged on disk before the endpoint opens its spool — torn at
// the end of the segment as by a crash, or with a byte flipped in its
// payload or its magic — is logged at error level, naming the endpoint
// and where the damaged bytes lie, and skipped: the records around it are
// delivered, in order, and nothing of it is.
func TestSpoolDamagedRecordIsLoggedAndSkipped(t *testing.T) {
	tests := []struct {
		name    string
		damaged int // the record damaged, of a-0 | b-0 b-1 | c-0 c-1 c-2 | d-0
		damage  func(t *testing.T, path string, offsets []int64)
	}{
		{"torn last record", 3, func(t *testing.T, path string, offsets []int64) {
			require.NoError(t, os.Truncate(path, offsets[3]+spoolRecordHdrSize+5))
		}},
		{"flipped byte in a payload", 2, func(t *testing.T, path string, offsets []int64) {
			flipSpoolByte(t, path, offsets[2]+spoolRecordHdrSize+12)
		}},
		{"flipped byte in a magic", 1, func(t *testing.T, path string, offsets []int64) {
			flipSpoolByte(t, path, offsets[1])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			all := spoolBacklog(t, dir, "damaged", false, "a", "b", "c", "d")
			path, offsets := spoolSegment(t, dir, "damaged")
			require.Len(t, offsets, 4)
			fi, err := os.Stat(path)
			require.NoError(t, err)
			ends := append(offsets[1:], fi.Size())
			tt.damage(t, path, offsets)
			fi, err = os.Stat(path)
			require.NoError(t, err)
			ends[3] = min(ends[3], fi.Size()) // torn: what is left of it

			rc := newReceiver(t, nil)
			e, hook, _ := openDamaged(t, dir, "damaged", rc)
			require.NoError(t, e.Close())

			var want []Event
			for k, size := range []int{1, 2, 3, 1} { // the blocks spoolBacklog wrote
				if k != tt.damaged {
					want = append(want, all[:size]...)
				}
				all = all[size:]
			}
			assert.Equal(t, ids(want), ids(rc.received()), "the records around it, in order")

			lines := entriesWith(hook, msgSkippedRecord)
			require.Len(t, lines, 1, "the damaged record is logged, once, though counted at open and then read")
			for _, line := range lines {
				assert.Equal(t, logrus.ErrorLevel, line.Level)
				assert.Equal(t, "damaged", line.Data["endpoint"])
				assert.Equal(t, path, line.Data["segment"])
				assert.Equal(t, offsets[tt.damaged], line.Data["offset"], "where the damage starts")
				assert.Equal(t, ends[tt.damaged]-offsets[tt.damaged], line.Data["bytes"], "the damaged record's bytes are skipped, no more")
				assert.Error(t, line.Data[logrus.ErrorKey].(error))
			}
		})
	}
}

// README, Storage: "A torn or corrupt record is logged and skipped"; and
// Delivery guarantee: a damaged record's events "cannot reach
// `DeadLetter`", and are "counted in `Dropped` when the damage is found
// after the spool was opened".
//
// Where the events of a damaged record are known — a record whose checksum
// holds but whose events do not decode, or one counted when the spool was
// opened and damaged on disk afterwards — the endpoint logs an error-level
// line with how many events were lost, counts them in Dropped, skips them
// and delivers the records around them.
func TestSpoolEventsLostToDamageAreLoggedWithTheirCount(t *testing.T) {
	t.Run("record that does not decode", func(t *testing.T) {
		dir := t.TempDir()
		s, err := openSpoolMemory(dir, "undecodable", time.Second, testLogger(), -1)
		require.NoError(t, err)
		want := pushBlocks(t, s, "a", 1)
		_, err = s.log.Append(0, [][]byte{[]byte("not json"), []byte("{"), []byte("x")}, nil)
		require.NoError(t, err)
		want = append(want, pushBlocks(t, s, "b", 2)...)
		require.NoError(t, s.close())

		rc := newReceiver(t, nil)
		e, hook, dead := openDamaged(t, dir, "undecodable", rc)
		require.NoError(t, e.Close())

		assert.Equal(t, want, ids(rc.received()), "the records around it, in order")
		assertLostLogged(t, e, hook, dead, "undecodable", 3)
		undecodable := entriesWith(hook, msgUndecodable)
		require.Len(t, undecodable, 1, "logged once, though read again after a read ahead stopped before it")
		assert.Equal(t, logrus.ErrorLevel, undecodable[0].Level)
		assert.Equal(t, 3, undecodable[0].Data["events"])
	})

	t.Run("record damaged after it was counted", func(t *testing.T) {
		dir := t.TempDir()
		all := spoolBacklog(t, dir, "later", false, "a", "b", "c", "d") // blocks of 1, 2, 3, 1 events
		path, offsets := spoolSegment(t, dir, "later")
		require.Len(t, offsets, 4)

		release := make(chan struct{})
		rc := newReceiver(t, func(n int, _ http.ResponseWriter) int {
			if n == 1 {
				<-release
			}
			return http.StatusOK
		})
		e, hook, dead := openDamaged(t, dir, "later", rc)
		eventually(t, func() bool { rc.mu.Lock(); defer rc.mu.Unlock(); return rc.requests == 1 }, "a-0 out")
		var m EndpointMetrics
		e.ReadMetrics(&m)
		require.Equal(t, len(all), m.Pending, "every event counted")
		require.Empty(t, entriesWith(hook, msgSkippedRecord), "no damage yet")
		// While a-0 is out (and b read ahead, at most), c's record is
		// damaged under the endpoint.
		flipSpoolByte(t, path, offsets[2]+spoolRecordHdrSize+12)
		close(release)
		require.NoError(t, e.Close())

		want := append(ids(all[:3:3]), ids(all[6:])...)
		assert.Equal(t, want, ids(rc.received()), "the records around it, in order")
		assertLostLogged(t, e, hook, dead, "later", 3)
		assert.NotEmpty(t, entriesWith(hook, msgSkippedRecord), "the engine logs the bytes it skips")
	})
}

// assertLostLogged checks that endpoint e, logging to hook, logged events
// lost to damage once, at error level, naming the endpoint, with their
// count, counted them in Dropped, and handed none to its dead letter sink.
func assertLostLogged(t *testing.T, e *Endpoint, hook *logtest.Hook, dead *fakeSink, name string, events int) {
	t.Helper()
	lines := entriesWith(hook, msgLostToDamage)
	require.Len(t, lines, 1, "logged once")
	assert.Equal(t, logrus.ErrorLevel, lines[0].Level)
	assert.Equal(t, events, lines[0].Data["events"], "with the count of events lost")
	assert.Equal(t, name, lines[0].Data["endpoint"])
	var m EndpointMetrics
	e.ReadMetrics(&m)
	assert.Equal(t, events, m.Dropped, "counted in Dropped")
	assert.Zero(t, m.Pending)
	assert.Empty(t, dead.events(), "lost with their record: nothing to hand to DeadLetter")
}
