package notifications

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// givenUpLine is what a line of the given-up log says.
type givenUpLine struct {
	reason string
	events int
}

// givenUpLines returns the given-up lines hook holds, in order.
func givenUpLines(hook *logtest.Hook) []givenUpLine {
	var lines []givenUpLine
	for _, entry := range hook.AllEntries() {
		err, _ := entry.Data["error"].(error)
		n, _ := entry.Data["events"].(int)
		if err != nil && n > 0 {
			lines = append(lines, givenUpLine{err.Error(), n})
		}
	}
	return lines
}

// Given-up events are logged at most once a second, a line per reason,
// and none goes unlogged: those held within the second are logged when it
// has passed, or by close, and those after close at once.
func TestDropLogLogsEveryGivenUpEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logger, hook := logtest.NewNullLogger()
		l := newRateLimitedLog(logger, time.Second)
		errA, errB := errors.New("a"), errors.New("b")
		l.add(1, errA)
		require.Len(t, givenUpLines(hook), 1, "the first at once")
		l.add(2, errA)
		l.add(3, errB)
		l.add(1, errA)
		assert.Len(t, givenUpLines(hook), 1, "held within the second")
		time.Sleep(time.Second)
		synctest.Wait()
		l.add(4, errB) // within a second of those lines: held
		l.close()
		l.add(5, errA)
		assert.Equal(t, []givenUpLine{{"a", 1}, {"a", 3}, {"b", 3}, {"b", 4}, {"a", 5}}, givenUpLines(hook))
	})
}

// Past maxDropReasons distinct reasons within a second, the rest share a
// line, which gives the latest of them.
func TestDropLogBoundsItsLinesPerInterval(t *testing.T) {
	logger, hook := logtest.NewNullLogger()
	l := newRateLimitedLog(logger, time.Hour)
	l.add(1, errors.New("first"))
	for i := range maxDropReasons + 2 {
		l.add(1, fmt.Errorf("reason %d", i))
	}
	l.close()
	lines := givenUpLines(hook)
	require.Len(t, lines, 1+maxDropReasons+1)
	assert.Equal(t, givenUpLine{fmt.Sprint("reason ", maxDropReasons+1), 2}, lines[len(lines)-1])
}

// An endpoint's given-up events are all in its log by the time Close
// returns, however fast they came (here, MaxPending refusing a burst).
func TestEndpointLogsEveryGivenUpEventByClose(t *testing.T) {
	logger, hook := logtest.NewNullLogger()
	d := &fakeDeliverer{hold: make(chan struct{})}
	e, _ := openFake(t, "full", d, EndpointConfig{MaxPending: 1, Logger: logger})
	require.NoError(t, e.Write(testEvents("kept", 1)...))
	refused := 0
	for i := range 5 {
		if err := e.Write(testEvents(fmt.Sprint("over", i), 1)...); errors.Is(err, ErrQueueFull) {
			refused++
		}
	}
	require.Equal(t, 5, refused)
	close(d.hold)
	require.NoError(t, e.Close())
	logged := 0
	for _, line := range givenUpLines(hook) {
		logged += line.events
	}
	var m EndpointMetrics
	e.ReadMetrics(&m)
	assert.Equal(t, m.Dropped, logged)
	assert.Equal(t, refused, logged)
}

// hookFunc is a logrus hook calling fire for every entry.
type hookFunc func(*logrus.Entry)

func (hookFunc) Levels() []logrus.Level       { return logrus.AllLevels }
func (h hookFunc) Fire(e *logrus.Entry) error { h(e); return nil }

// A hook of the endpoint's logger may write to the endpoint: the given-up
// lines are logged outside the log's lock, so a Write the hook makes, and
// the endpoint refuses, is counted and logged in turn, without a deadlock.
func TestDropLogHookMayWriteToTheEndpoint(t *testing.T) {
	logger, hook := logtest.NewNullLogger()
	d := &fakeDeliverer{hold: make(chan struct{})}
	e, _ := openFake(t, "hooked", d, EndpointConfig{MaxPending: 1, Logger: logger})
	var fromHook atomic.Int32
	logger.AddHook(hookFunc(func(entry *logrus.Entry) {
		if entry.Message == "notifications: events given up" && fromHook.Add(1) == 1 {
			assert.ErrorIs(t, e.Write(testEvents("from-hook", 1)...), ErrQueueFull)
		}
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		require.NoError(t, e.Write(testEvents("kept", 1)...))
		assert.ErrorIs(t, e.Write(testEvents("over", 1)...), ErrQueueFull)
		close(d.hold)
		assert.NoError(t, e.Close())
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the endpoint deadlocked on a hook that writes to it")
	}
	logged := 0
	for _, line := range givenUpLines(hook) {
		logged += line.events
	}
	assert.Equal(t, 2, logged, "the refused Write and the one the hook made")
}
