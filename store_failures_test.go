package notifications

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
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

func TestSpoolIgnoresStaleCursor(t *testing.T) {
	dir := t.TempDir()
	s, err := openSpool(dir, "e", time.Second, testLogger())
	require.NoError(t, err)
	want := pushBlocks(t, s, "a", 2, 3)
	// A cursor left pointing at a segment that no longer exists.
	var buf [cursorSize]byte
	binary.BigEndian.PutUint64(buf[:], 7)
	binary.BigEndian.PutUint32(buf[16:], crc32.Checksum(buf[:16], crcTable))
	_, err = s.cursor.WriteAt(buf[:], 0)
	require.NoError(t, err)
	require.NoError(t, s.close())

	s, err = openSpool(dir, "e", time.Second, testLogger())
	require.NoError(t, err)
	defer s.close()
	got, _ := drainSpool(t, s, 100)
	assert.Equal(t, want, got, "nothing deleted on a stale cursor's word")
}

func TestSpoolCloseRemovesCursorBeforeSegments(t *testing.T) {
	dir := t.TempDir()
	s, err := openSpool(dir, "e", time.Second, testLogger())
	require.NoError(t, err)
	pushBlocks(t, s, "a", 1)
	drainSpool(t, s, 10)
	require.NoError(t, s.close())
	entries, err := os.ReadDir(filepath.Join(dir, "e"))
	require.NoError(t, err)
	for _, e := range entries {
		assert.Equal(t, lockName, e.Name(), "an emptied spool keeps only its lock file")
	}
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
