package notifications

import (
	"encoding/json"
	"errors"
	"expvar"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOnFinishedEveryEventOnce: every event written is finished exactly
// once, with how it ended.
func TestOnFinishedEveryEventOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := make(chan struct{})
		d := &fakeDeliverer{hold: hold, answer: func(n int, events []Event) Delivery {
			if n == 2 { // one failure that a retry overcomes
				return Delivery{Outcome: Retry, Err: errTest}
			}
			for _, e := range events {
				if e.ID == "poison" {
					return Delivery{Outcome: Reject, Status: "422 Unprocessable Entity", Err: errNotAccepted}
				}
			}
			return Delivery{Outcome: Accepted}
		}}
		dead := &fakeSink{}
		e, finished := openFake(t, "finished", d, EndpointConfig{
			Threshold: 2, MaxEventAge: time.Minute, MaxPending: 8, DeadLetter: dead,
			Ignore: IgnoreConfig{Actions: []string{EventActionPull}},
		})

		first := testEvents("first", 1)
		require.NoError(t, e.Write(first...)) // out, held
		synctest.Wait()
		mixed := testEvents("mixed", 4)
		mixed[1].Action = EventActionPull
		mixed[2].ID = "poison"
		mixed[3].Timestamp = time.Now().Add(-time.Hour)
		require.NoError(t, e.Write(mixed...))
		require.ErrorIs(t, e.Write(testEvents("full", 5)...), ErrQueueFull)
		close(hold)
		require.NoError(t, e.Close())
		assert.ErrorIs(t, e.Write(testEvents("late", 1)...), ErrSinkClosed)

		got := finished.byID(t)
		assert.Len(t, got, 1+4+5, "every event written, once; none of the Write after Close")
		assert.True(t, got["first-0"].Delivered())
		assert.Equal(t, 1, got["first-0"].Attempts)
		assert.True(t, got["mixed-0"].Delivered())
		assert.Equal(t, 3, got["mixed-0"].Attempts, "failed and refused with the batch, then accepted alone")
		assert.True(t, got["mixed-1"].Ignored)
		assert.NoError(t, got["mixed-1"].Err)
		assert.False(t, got["mixed-1"].Delivered())
		assert.ErrorIs(t, got["poison"].Err, ErrRejected)
		assert.Equal(t, 4, got["poison"].Attempts, "twice with the batch, then alone Threshold times")
		assert.ErrorIs(t, got["mixed-3"].Err, ErrEventTooOld)
		assert.ErrorIs(t, got["full-0"].Err, ErrQueueFull)
		assert.Zero(t, got["full-0"].Attempts)
		assert.Equal(t, "finished", got["full-0"].Endpoint)
		assert.ElementsMatch(t, []string{"poison", "mixed-3", "full-0", "full-1", "full-2", "full-3", "full-4"}, ids(dead.events()),
			"the dead letter receives what is given up, not what is ignored")
	})
}

// TestOnFinishedWithSpool: events left in the spool at Close are not
// finished; the endpoint that delivers them from the spool finishes them.
func TestOnFinishedWithSpool(t *testing.T) {
	dir := t.TempDir()
	down := &fakeDeliverer{answer: failWith(Retry, errTest)}
	config := EndpointConfig{SpoolDir: dir, Threshold: 1, Backoff: time.Hour, CloseTimeout: 50 * time.Millisecond}
	e, finished := openFake(t, "spooled", down, config)
	require.NoError(t, e.Write(testEvents("s", 3)...))
	var undelivered *UndeliveredError
	require.ErrorAs(t, e.Close(), &undelivered)
	assert.True(t, undelivered.Spooled)
	assert.Zero(t, finished.count(), "what stays in the spool is not finished")

	up := &fakeDeliverer{}
	e, finished = openFake(t, "spooled", up, config)
	require.NoError(t, e.Close())
	got := finished.byID(t)
	require.Len(t, got, 3, "events delivered from the spool are finished")
	for _, id := range []string{"s-0", "s-1", "s-2"} {
		assert.True(t, got[id].Delivered(), id)
	}
}

// TestClosedSinksRefuseWrites: after Close, every sink of the pipeline
// returns ErrSinkClosed itself for any Write, empty ones included.
// A batch of several Writes that Close cuts short, with a spool, leaves
// the spool but for the Writes it had not finished: the next endpoint
// sends those, not the ones delivered or refused already.
func TestCloseMidBatchKeepsTheUnfinishedWrites(t *testing.T) {
	dir := t.TempDir()
	started, written := make(chan struct{}), make(chan struct{})
	d := &fakeDeliverer{answer: func(attempt int, events []Event) Delivery {
		if attempt == 1 { // held while the next Writes queue up behind it
			close(started)
			<-written
			return Delivery{Outcome: Accepted}
		}
		for _, e := range events {
			switch {
			case e.ID == "s-1":
				return Delivery{Outcome: Reject, Status: "422 Unprocessable Entity", Err: errTest}
			case e.ID == "s-2":
				return Delivery{Outcome: Retry, Status: "503 Service Unavailable", Err: errTest}
			}
		}
		return Delivery{Outcome: Accepted}
	}}
	config := EndpointConfig{SpoolDir: dir, Threshold: 1, Backoff: time.Hour, CloseTimeout: 100 * time.Millisecond}
	e, first := openFake(t, "cut", d, config)
	require.NoError(t, e.Write(testEvents("w", 1)...))
	<-started
	for _, ev := range testEvents("s", 4) {
		require.NoError(t, e.Write(ev)) // a Write, a block, each
	}
	close(written)
	require.Eventually(t, func() bool { return len(first.byID(t)) == 3 }, 10*time.Second, time.Millisecond,
		"w-0 and s-0 delivered, s-1 refused; s-2 waits for its retry")
	var undelivered *UndeliveredError
	require.ErrorAs(t, e.Close(), &undelivered)
	assert.Equal(t, 2, undelivered.Events, "s-2 and s-3 stay in the spool")
	firstIDs := first.byID(t)
	assert.True(t, firstIDs["s-0"].Delivered())
	assert.ErrorIs(t, firstIDs["s-1"].Err, ErrRejected)

	e, second := openFake(t, "cut", &fakeDeliverer{}, config)
	require.NoError(t, e.Close())
	secondIDs := second.byID(t)
	assert.ElementsMatch(t, []string{"s-2", "s-3"}, slices.Collect(maps.Keys(secondIDs)), "the next endpoint sends what was not finished, only")
}

// No report of a Write follows Close: Writes racing Close that are refused
// (queue full) or ignored are reported before Close returns, or return
// ErrSinkClosed and are not reported. OnFinished takes its time for the
// refused ones, so that Close meets Writes in the middle of reporting.
func TestNoReportAfterClose(t *testing.T) {
	for range 20 {
		var closed atomic.Bool
		var late, refusing atomic.Int64
		d := &fakeDeliverer{hold: make(chan struct{})} // the first event stays pending: the queue is full
		e, err := NewDelivererEndpoint("race", "fake", d, EndpointConfig{
			MaxPending: 1, CloseTimeout: time.Millisecond, Logger: testLogger(),
			Ignore: IgnoreConfig{Actions: []string{EventActionPull}},
			OnFinished: func(f Finished) {
				if errors.Is(f.Err, ErrQueueFull) {
					refusing.Add(1)
					time.Sleep(20 * time.Millisecond) // a slow OnFinished (longer than Close), not a wait for anything
				}
				if closed.Load() { // this report ends after Close returned
					late.Add(int64(len(f.Events)))
				}
			},
		})
		require.NoError(t, err)
		require.NoError(t, e.Write(testEvents("held", 1)...))
		var writers sync.WaitGroup
		for w := range 4 {
			writers.Go(func() {
				for {
					events := testEvents("w", 1)
					if w%2 == 1 {
						events[0].Action = EventActionPull // ignored
					}
					if errors.Is(e.Write(events...), ErrSinkClosed) {
						return
					}
				}
			})
		}
		for refusing.Load() < 2 {
			runtime.Gosched()
		}
		_ = e.Close()
		closed.Store(true)
		writers.Wait()
		assert.Zero(t, late.Load(), "events reported after Close returned")
	}
}

func TestClosedSinksRefuseWrites(t *testing.T) {
	sinks := map[string]func() Sink{
		"endpoint": func() Sink { e, _ := openFake(t, "closed", &fakeDeliverer{}, EndpointConfig{}); return e },
		"endpoint with Ignore": func() Sink {
			e, _ := openFake(t, "closed-ignore", &fakeDeliverer{}, EndpointConfig{Ignore: IgnoreConfig{Actions: []string{EventActionPull}}})
			return e
		},
		"queue": func() Sink {
			q, _, _ := newTestQueue(&fakeDeliverer{}, EndpointConfig{})
			return q
		},
		"broadcaster": func() Sink { return NewBroadcaster(&fakeSink{}) },
	}
	for name, open := range sinks {
		t.Run(name, func(t *testing.T) {
			sink := open()
			require.NoError(t, sink.Close())
			pulls := testEvents("p", 1)
			pulls[0].Action = EventActionPull
			for _, events := range [][]Event{nil, {}, testEvents("x", 2), pulls} {
				err := sink.Write(events...)
				assert.ErrorIs(t, err, ErrSinkClosed)
				assert.True(t, err == ErrSinkClosed, "the sentinel itself: %v", err)
			}
			assert.ErrorIs(t, sink.Close(), ErrSinkClosed)
		})
	}

	closed := &fakeSink{}
	require.NoError(t, closed.Close())
	b := NewBroadcaster(closed)
	assert.NoError(t, b.Write(testEvents("m", 1)...), "a closed member does not fail the broadcaster's Write")
}

// TestFailuresAreLoggedAndExposed: failed attempts are logged at warning
// level with their reason, the first at once and then a summary at most
// every failureLogInterval with the attempts and events since the previous
// line, and an info line on recovery (README, Metrics); the last failure is
// in the metrics and expvar.
func TestFailuresAreLoggedAndExposed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const failures, events = 100, 2 // one failure a second
		d := &fakeDeliverer{answer: func(n int, _ []Event) Delivery {
			if n <= failures {
				return Delivery{Outcome: Retry, Status: "503 Service Unavailable", Err: errTest}
			}
			return Delivery{Outcome: Accepted, Status: "200 OK"}
		}}
		logger, hook := logtest.NewNullLogger()
		e, _ := openFake(t, "failing", d, EndpointConfig{Threshold: 1, Backoff: time.Second, Logger: logger, CloseTimeout: -1,
			BackoffPolicy: ThresholdBackoff{Threshold: 1, Backoff: time.Second}})
		start := time.Now()
		require.NoError(t, e.Write(testEvents("f", events)...))
		time.Sleep(time.Minute)
		synctest.Wait()

		var m EndpointMetrics
		e.ReadMetrics(&m)
		assert.Equal(t, "503 Service Unavailable: "+errTest.Error(), m.LastFailure)
		assert.Equal(t, start.Add(time.Minute), m.LastFailureTime)
		published, err := json.Marshal(e.published())
		require.NoError(t, err)
		assert.Contains(t, string(published), `"LastFailure":"503 Service Unavailable: test failure"`)

		require.NoError(t, e.Close())
		var lines []*logrus.Entry
		for _, entry := range hook.AllEntries() {
			if strings.Contains(entry.Message, "delivery") {
				lines = append(lines, entry)
			}
		}
		require.Len(t, lines, 5, "first failure, summaries at 30s, 60s and 90s, recovery")
		assert.Equal(t, "failing", lines[0].Data["endpoint"])
		for i, want := range []struct {
			message          string
			attempts, events int
		}{
			{"notifications: delivery attempt failed", 1, events},
			{"notifications: delivery attempts failing", 30, 30 * events}, // since the last line
		} {
			assert.Equal(t, logrus.WarnLevel, lines[i].Level, "line %d", i)
			assert.Equal(t, want.message, lines[i].Message, "line %d", i)
			assert.Equal(t, want.attempts, lines[i].Data["attempts"], "line %d: attempts since the previous line", i)
			assert.Equal(t, want.events, lines[i].Data["events"], "line %d: events since the previous line", i)
			assert.Equal(t, "503 Service Unavailable", lines[i].Data["status"], "line %d: the reason", i)
			assert.Equal(t, errTest, lines[i].Data[logrus.ErrorKey], "line %d: the reason", i)
		}
		assert.Equal(t, logrus.InfoLevel, lines[4].Level)
		assert.Equal(t, "notifications: delivery recovered", lines[4].Message)
		assert.Equal(t, failures, lines[4].Data["failed_attempts"])
		assert.NotNil(t, expvar.Get("registry"))
	})
}

func TestFailureOfHTTPEndpointHidesUserinfo(t *testing.T) {
	rc := newReceiver(t, nil)
	rc.Close() // nothing listens there any more
	config := fastConfig()
	config.Logger = testLogger()
	config.CloseTimeout = 50 * time.Millisecond
	e, err := OpenEndpoint("refused", strings.Replace(rc.URL, "http://", "http://someuser:s3cret@", 1), config)
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("r", 1)...))
	var m EndpointMetrics
	eventually(t, func() bool { e.ReadMetrics(&m); return m.LastFailure != "" }, "a failed attempt")
	_ = e.Close()
	assert.Contains(t, m.LastFailure, "connection refused", "the transport error's cause")
	assert.NotContains(t, m.LastFailure, "someuser")
	assert.NotContains(t, m.LastFailure, "s3cret")
}

// EndpointMetrics.Failing says whether the last attempt was not accepted:
// set by a failure, cleared by the next accepted attempt.
func TestEndpointMetricsFailing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDeliverer{answer: func(n int, _ []Event) Delivery {
			if n <= 2 {
				return Delivery{Outcome: Retry, Status: "503 Service Unavailable", Err: errNotAccepted}
			}
			return Delivery{Outcome: Accepted, Status: "200 OK"}
		}}
		e, _ := openFake(t, "failing-flag", d, EndpointConfig{CloseTimeout: -1,
			BackoffPolicy: ThresholdBackoff{Threshold: 1, Backoff: time.Second}})
		var m EndpointMetrics
		e.ReadMetrics(&m)
		assert.False(t, m.Failing, "no attempt yet")
		require.NoError(t, e.Write(testEvents("f", 1)...))
		synctest.Wait() // the first attempt failed; the queue waits a second
		e.ReadMetrics(&m)
		assert.True(t, m.Failing)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		e.ReadMetrics(&m)
		assert.False(t, m.Failing, "accepted at the third attempt")
		assert.Equal(t, 1, m.Successes)
		require.NoError(t, e.Close())
	})
}
