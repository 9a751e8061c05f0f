package notifications

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications/internal/spool"
)

// flakyStore is a memoryStore whose peek fails while failPeeks > 0 and
// whose push fails when failPush is set.
type flakyStore struct {
	memoryStore
	failPeeks int
	failPush  bool
}

func (f *flakyStore) peek(skip, maxEvents int) ([]queuedBlock, error) {
	if f.failPeeks > 0 {
		f.failPeeks--
		return nil, errors.New("disk on fire")
	}
	return f.memoryStore.peek(skip, maxEvents)
}

func (f *flakyStore) push(b queuedBlock) error {
	if f.failPush {
		return errors.New("disk full")
	}
	return f.memoryStore.push(b)
}

func TestEventQueueRetriesAnUnreadableStore(t *testing.T) {
	next := &fakeDeliverer{}
	store := &flakyStore{failPeeks: 3}
	q, _, _ := newTestQueueOver(next, store, EndpointConfig{MaxBatch: 10})
	q.mu.Lock()
	q.storeRetry = time.Millisecond // before the first read: the queue is empty
	q.mu.Unlock()
	require.NoError(t, q.Write(testEvents("a", 2)...))
	eventually(t, func() bool { return len(next.events()) == 2 }, "delivered once the store reads again")
	require.NoError(t, q.Write(testEvents("b", 1)...))
	require.NoError(t, q.Close())
	assert.Equal(t, []string{"a-0", "a-1", "b-0"}, ids(next.events()))
}

// A store that cannot be read makes the endpoint failing, with the reason:
// nothing is delivered meanwhile (a relay's /healthz said "delivering").
func TestUnreadableStoreIsFailing(t *testing.T) {
	store := &flakyStore{failPeeks: 1 << 30}
	q, _, _ := newTestQueueOver(&fakeDeliverer{}, store, EndpointConfig{CloseTimeout: time.Millisecond})
	q.mu.Lock()
	q.storeRetry = time.Millisecond // before the first read: the queue is empty
	q.mu.Unlock()
	require.NoError(t, q.Write(testEvents("a", 2)...))
	var m EndpointMetrics
	eventually(t, func() bool { q.metrics.read(&m); return m.Failing }, "failing while the store cannot be read")
	assert.Equal(t, "reading the spool: disk on fire", m.LastFailure)
	assert.False(t, m.LastFailureTime.IsZero())
	_ = q.Close()
}

func TestEventQueueGivesUpWhatTheStoreRefuses(t *testing.T) {
	store := &flakyStore{failPush: true}
	q, finished, dead := newTestQueueOver(&fakeDeliverer{}, store, EndpointConfig{MaxBatch: 10})
	err := q.Write(testEvents("a", 2)...)
	require.Error(t, err)
	assert.Equal(t, []string{"a-0", "a-1"}, ids(dead.events()), "handed to the dead letter, not lost unseen")
	require.Len(t, finished.all, 1)
	assert.Equal(t, err, finished.all[0].Err, "finished with the error Write returned")
	require.NoError(t, q.Close())
}

func TestBodyReaderFailsAfterClose(t *testing.T) {
	var bb bodyPool
	b, err := bb.encode(testEvents("a", 1), appendEnvelope)
	require.NoError(t, err)
	body := bb.open(b)
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = io.Copy(io.Discard, body) }) // a transport goroutine reading
	require.NoError(t, body.Close())
	wg.Wait()
	_, err = body.Read(make([]byte, 8))
	assert.ErrorIs(t, err, errBodyClosed, "a closed body is never read again")
}

func TestEndpointURLWithPasswordIsRedacted(t *testing.T) {
	_, err := OpenEndpoint("secret-url", "http://user:hunter2@[::1", EndpointConfig{})
	require.ErrorIs(t, err, ErrInvalidConfig)
	assert.NotContains(t, err.Error(), "hunter2")

	rc := newReceiver(t, nil)
	e := NewEndpoint("secret-url", "http://user:hunter2@"+rc.Listener.Addr().String()+"/", EndpointConfig{Logger: testLogger()})
	defer e.Close()
	assert.NotContains(t, e.published().URL, "hunter2")
}

// TestStoresPeekAhead: both stores peek past the blocks of the batch out,
// and keep what was peeked ahead when that batch is popped.
func TestStoresPeekAhead(t *testing.T) {
	stores := map[string]func(t *testing.T) eventStore{
		"memory": func(*testing.T) eventStore { return &memoryStore{} },
		"spool": func(t *testing.T) eventStore {
			s, err := openSpool(t.TempDir(), "ahead", time.Second, testLogger())
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.close() })
			return s
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			for _, p := range []string{"a", "b", "c", "d", "e"} {
				require.NoError(t, s.push(queuedBlock{events: testEvents(p, 1)}))
			}
			first, err := s.peek(0, 2)
			require.NoError(t, err)
			assert.Equal(t, []string{"a-0", "b-0"}, ids(flatten(first)))
			ahead, err := s.peek(2, 2)
			require.NoError(t, err)
			assert.Equal(t, []string{"c-0", "d-0"}, ids(flatten(ahead)))
			require.NoError(t, s.pop(2))
			assert.Equal(t, 3, s.len())
			after, err := s.peek(2, 2) // past the batch taken ahead
			require.NoError(t, err)
			assert.Equal(t, []string{"e-0"}, ids(flatten(after)))
			require.NoError(t, s.pop(2))
			again, err := s.peek(0, 5)
			require.NoError(t, err)
			assert.Equal(t, []string{"e-0"}, ids(flatten(again)))
			require.NoError(t, s.pop(1))
			assert.Zero(t, s.len())
		})
	}
}

// TestSpoolSyncFailureThroughAnEndpoint: once the spool cannot write to
// disk, a Write returns an error naming the endpoint and the cause, and
// hands its events to the DeadLetter; every event whose Write returned nil
// is still delivered, the failure is logged, and Close returns.
func TestSpoolSyncFailureThroughAnEndpoint(t *testing.T) {
	var failing atomic.Bool
	testHookSpoolSync = func() error {
		if failing.Load() {
			return errors.New("disk on fire")
		}
		return nil
	}
	t.Cleanup(func() { testHookSpoolSync = nil })
	rc := newReceiver(t, nil)
	logger, hook := logtest.NewNullLogger()
	dead := &fakeSink{}
	config := fastConfig()
	config.SpoolDir, config.SpoolSync, config.Logger, config.DeadLetter = t.TempDir(), time.Millisecond, logger, dead
	e, err := OpenEndpoint("synced", rc.URL, config)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() }) // when a check below stops the test early

	want := ids(testEvents("before", 3))
	require.NoError(t, e.Write(testEvents("before", 3)...))
	failing.Store(true)
	var writeErr error
	eventually(t, func() bool {
		events := testEvents(fmt.Sprint("after", len(want)), 1)
		if writeErr = e.Write(events...); writeErr != nil {
			return true
		}
		want = append(want, events[0].ID)
		return false
	}, "Write fails once a sync of the spool failed")
	assert.ErrorIs(t, writeErr, spool.ErrSyncFailed)
	assert.ErrorContains(t, writeErr, `endpoint "synced"`)
	assert.ErrorContains(t, writeErr, "disk on fire")
	assert.Len(t, dead.events(), 1, "the refused event goes to the dead letter")
	assert.ErrorIs(t, e.Write(testEvents("later", 1)...), spool.ErrSyncFailed, "and every Write after it is refused")

	eventually(t, func() bool { return len(rc.received()) >= len(want) }, "every event whose Write returned nil is delivered")
	assert.Equal(t, want, ids(rc.received()))
	var logged bool
	for _, entry := range hook.AllEntries() {
		logged = logged || strings.Contains(entry.Message, "fsync failed")
	}
	assert.True(t, logged, "the failed sync is logged")
	assert.NoError(t, e.Close())
}
