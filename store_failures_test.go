package notifications

import (
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flakyStore is a memoryStore whose peek fails while failPeeks > 0 and
// whose push fails when failPush is set.
type flakyStore struct {
	memoryStore
	failPeeks int
	failPush  bool
}

func (f *flakyStore) peek(maxEvents int) ([]queuedBlock, error) {
	if f.failPeeks > 0 {
		f.failPeeks--
		return nil, errors.New("disk on fire")
	}
	return f.memoryStore.peek(maxEvents)
}

func (f *flakyStore) push(b queuedBlock) error {
	if f.failPush {
		return errors.New("disk full")
	}
	return f.memoryStore.push(b)
}

func TestEventQueueRetriesAnUnreadableStore(t *testing.T) {
	next := &fakeSink{}
	store := &flakyStore{failPeeks: 3}
	config := EndpointConfig{MaxBatch: 10, CloseTimeout: -1, Logger: testLogger()}
	q := newEventQueue("flaky", next, store, config, newEndpointMetrics(), noGiveUp, nil)
	q.storeRetry = time.Millisecond
	require.NoError(t, q.Write(testEvents("a", 2)...))
	eventually(t, func() bool { return len(next.events()) == 2 }, "delivered once the store reads again")
	require.NoError(t, q.Write(testEvents("b", 1)...))
	require.NoError(t, q.Close())
	assert.Equal(t, []string{"a-0", "a-1", "b-0"}, ids(next.events()))
}

func TestEventQueueGivesUpWhatTheStoreRefuses(t *testing.T) {
	var g givenUp
	store := &flakyStore{failPush: true}
	config := EndpointConfig{MaxBatch: 10, CloseTimeout: -1, Logger: testLogger()}
	m := newEndpointMetrics()
	q := newEventQueue("full", &fakeSink{}, store, config, m, g.giveUp, nil)
	assert.Error(t, q.Write(testEvents("a", 2)...))
	assert.Equal(t, []string{"a-0", "a-1"}, g.ids(), "handed to the dead letter path, not lost unseen")
	require.NoError(t, q.Close())
}

func TestBodyReaderFailsAfterClose(t *testing.T) {
	var bb bodyBuffers
	b, err := bb.forBatch(testEvents("a", 1))
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
