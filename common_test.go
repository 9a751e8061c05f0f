package notifications

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testEvents returns n distinct events, with IDs prefix-0, prefix-1, ...
func testEvents(prefix string, n int) []Event {
	events := make([]Event, n)
	for i := range events {
		events[i].ID = fmt.Sprintf("%s-%d", prefix, i)
		events[i].Action = EventActionPush
		events[i].Target.Type = EventTargetTypeBlob
		events[i].Target.Name = "library/test"
	}
	return events
}

// allocsPerRun is testing.AllocsPerRun at its fewest over three tries. It
// counts the whole process's allocations, so a goroutine still winding
// down from an earlier test, or one of the code's own (a spool's syncer
// arming its timer), can add to one try; the code measured allocates in
// every try.
func allocsPerRun(runs int, f func()) float64 {
	fewest := testing.AllocsPerRun(runs, f)
	for range 2 {
		fewest = min(fewest, testing.AllocsPerRun(runs, f))
	}
	return fewest
}

// ids returns the IDs of events, in order.
func ids(events []Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

// fakeSink records every block written to it. Its Write fails while fail
// returns an error for the attempt number (1-based).
type fakeSink struct {
	mu     sync.Mutex
	blocks [][]Event
	writes int
	closed int
	fail   func(attempt int) error
	block  chan struct{} // when non-nil, Write waits on it first
}

func (s *fakeSink) Write(events ...Event) error {
	if s.block != nil {
		<-s.block
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed > 0 {
		return ErrSinkClosed
	}
	s.writes++
	if s.fail != nil {
		if err := s.fail(s.writes); err != nil {
			return err
		}
	}
	s.blocks = append(s.blocks, append([]Event(nil), events...))
	return nil
}

func (s *fakeSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed++
	if s.closed > 1 {
		return errAlreadyClosed
	}
	return nil
}

// events returns every event written, in order.
func (s *fakeSink) events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Event
	for _, b := range s.blocks {
		out = append(out, b...)
	}
	return out
}

func (s *fakeSink) attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// checkClose closes sink, then checks that a Write after Close returns
// ErrSinkClosed and that a second Close returns an error.
func checkClose(t *testing.T, sink Sink) {
	t.Helper()
	require.NoError(t, sink.Close())
	assert.ErrorIs(t, sink.Write(testEvents("after-close", 1)...), ErrSinkClosed)
	assert.ErrorIs(t, sink.Close(), ErrSinkClosed, "a second Close returns an error")
}

// eventually polls cond until it holds, failing the test after a while.
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, time.Millisecond, msg)
}

// fastConfig is an endpoint configuration with short waits, for tests.
func fastConfig() EndpointConfig {
	return EndpointConfig{Timeout: 2 * time.Second, Threshold: 3, Backoff: time.Millisecond}
}

var errTest = errors.New("test failure")

// fakeDeliverer records the events of every attempt it accepts. answer
// chooses the Delivery of each attempt (1-based); nil accepts. When hold is
// not nil, each attempt first waits on it, or on ctx: then it fails.
type fakeDeliverer struct {
	mu       sync.Mutex
	batches  [][]Event
	attempts int
	closed   int
	answer   func(attempt int, events []Event) Delivery
	hold     chan struct{}
}

var _ Deliverer = (*fakeDeliverer)(nil)

func (d *fakeDeliverer) Deliver(ctx context.Context, events []Event) Delivery {
	if d.hold != nil {
		select {
		case <-d.hold:
		case <-ctx.Done():
			return Delivery{Outcome: Retry, Err: ctx.Err()}
		}
	}
	d.mu.Lock()
	d.attempts++
	n, answer := d.attempts, d.answer
	d.mu.Unlock()
	del := Delivery{Outcome: Accepted, Status: "200 OK"}
	if answer != nil {
		del = answer(n, events)
	}
	if del.Outcome == Accepted {
		d.mu.Lock()
		d.batches = append(d.batches, append([]Event(nil), events...))
		d.mu.Unlock()
	}
	return del
}

func (d *fakeDeliverer) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed++
	return nil
}

// events returns every event accepted, in order.
func (d *fakeDeliverer) events() []Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Event
	for _, b := range d.batches {
		out = append(out, b...)
	}
	return out
}

// sizes returns the size of each accepted batch.
func (d *fakeDeliverer) sizes() []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []int
	for _, b := range d.batches {
		out = append(out, len(b))
	}
	return out
}

func (d *fakeDeliverer) tries() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.attempts
}

// failWith answers every attempt with outcome, and err.
func failWith(outcome Outcome, err error) func(int, []Event) Delivery {
	return func(int, []Event) Delivery { return Delivery{Outcome: outcome, Err: err} }
}

// finishedLog records what OnFinished receives.
type finishedLog struct {
	mu  sync.Mutex
	all []Finished
}

func (l *finishedLog) record(f Finished) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f.Events = append([]Event(nil), f.Events...)
	l.all = append(l.all, f)
}

// byID returns the outcome of each event, failing the test when an event
// was finished twice.
func (l *finishedLog) byID(t *testing.T) map[string]Finished {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]Finished{}
	for _, f := range l.all {
		for _, e := range f.Events {
			_, twice := out[e.ID]
			assert.False(t, twice, "event %s finished twice", e.ID)
			one := f
			one.Events = []Event{e}
			out[e.ID] = one
		}
	}
	return out
}

// events returns every event finished, in the order they were reported.
func (l *finishedLog) events() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var all []Event
	for _, f := range l.all {
		all = append(all, f.Events...)
	}
	return all
}

// count returns how many events were finished.
func (l *finishedLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, f := range l.all {
		n += len(f.Events)
	}
	return n
}

// newTestQueue starts a queue over a memory store delivering to d, with
// config's defaults applied (CloseTimeout -1 when zero, and the test
// logger). Its outcomes go to the returned log and dead letter sink.
func newTestQueue(d Deliverer, config EndpointConfig) (*eventQueue, *finishedLog, *fakeSink) {
	return newTestQueueOver(d, &memoryStore{}, config)
}

func newTestQueueOver(d Deliverer, store eventStore, config EndpointConfig) (*eventQueue, *finishedLog, *fakeSink) {
	if config.CloseTimeout == 0 {
		config.CloseTimeout = -1
	}
	if config.Logger == nil {
		config.Logger = testLogger()
	}
	config = config.withDefaults()
	finished, dead := &finishedLog{}, &fakeSink{}
	m := newEndpointMetrics()
	out := &outcomes{endpoint: "test", metrics: m, dropLog: newRateLimitedLog(config.Logger, time.Second),
		deadLetter: dead, onFinished: finished.record, log: config.Logger}
	return newEventQueue("test", d, store, config, m, out), finished, dead
}

// oneAttempt makes one delivery attempt of events through d, counted in
// metrics as an endpoint named name counts it, closes d, and returns nil
// or the attempt's *DeliveryError.
func oneAttempt(name string, d Deliverer, metrics *endpointMetrics, events []Event) error {
	q := &eventQueue{name: name, deliverer: d, metrics: metrics, failLog: failureLog{log: testLogger(), metrics: metrics}}
	if e, ok := d.(Encoder); ok {
		q.encoder = e
	}
	p := &part{events: events}
	del, _ := q.attempt(context.Background(), p)
	p.release()
	_ = d.Close()
	if del.Outcome == Accepted {
		return nil
	}
	return &DeliveryError{Endpoint: name, Delivery: del}
}

// assertLogOmits checks that no line hook holds, its message and fields as
// logrus writes them, shows any of needles (what says what they are).
func assertLogOmits(t *testing.T, hook *logtest.Hook, what string, needles ...string) {
	t.Helper()
	for _, entry := range hook.AllEntries() {
		line, err := entry.String()
		require.NoError(t, err)
		for _, needle := range needles {
			assert.NotContains(t, line, needle, "a log line shows %s: %s", what, line)
		}
	}
}
