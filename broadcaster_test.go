package notifications

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBroadcasterWritesEveryBlockToEverySink(t *testing.T) {
	sinks := []*fakeSink{{}, {}, {}}
	b := NewBroadcaster(sinks[0], sinks[1], sinks[2])
	blocks := [][]Event{testEvents("a", 3), testEvents("b", 1), testEvents("c", 2)}
	for _, block := range blocks {
		require.NoError(t, b.Write(block...))
	}
	checkClose(t, b)
	for i, s := range sinks {
		require.Len(t, s.blocks, len(blocks), "sink %d", i)
		for j, block := range blocks {
			assert.Equal(t, ids(block), ids(s.blocks[j]), "sink %d keeps block %d whole and in order", i, j)
		}
		assert.Equal(t, 1, s.closed, "sink %d closed once", i)
	}
}

func TestBroadcasterCloseJoinsSinkErrors(t *testing.T) {
	failing := &closeFailingSink{err: errTest}
	b := NewBroadcaster(&fakeSink{}, failing)
	assert.ErrorIs(t, b.Close(), errTest)
}

func TestBroadcasterSinkErrorDoesNotStopOthers(t *testing.T) {
	bad := &fakeSink{fail: func(int) error { return errTest }}
	good := &fakeSink{}
	b := NewBroadcaster(bad, good)
	require.NoError(t, b.Write(testEvents("a", 1)...))
	assert.Len(t, good.events(), 1)
	require.NoError(t, b.Close())
}

func TestBroadcasterCloseRacingWrite(t *testing.T) {
	for range 50 {
		sink := &fakeSink{}
		b := NewBroadcaster(sink)
		var wg sync.WaitGroup
		var mu sync.Mutex
		accepted := 0
		for range 4 {
			wg.Go(func() {
				for range 20 {
					err := b.Write(testEvents("r", 1)...)
					if err == nil {
						mu.Lock()
						accepted++
						mu.Unlock()
					} else if !errors.Is(err, ErrSinkClosed) {
						t.Errorf("unexpected error: %v", err)
					}
				}
			})
		}
		closed := make(chan error, 1)
		go func() { closed <- b.Close() }()
		select {
		case err := <-closed:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("Close hung while racing Write")
		}
		wg.Wait()
		assert.Len(t, sink.events(), accepted, "every accepted write reached the sink before Close returned")
	}
}

// TestBroadcasterClosesSinksConcurrently shows that Close does not wait for
// one slow sink before closing the next.
func TestBroadcasterClosesSinksConcurrently(t *testing.T) {
	release := make(chan struct{})
	slow := &closeFailingSink{wait: release}
	fast := &fakeSink{}
	b := NewBroadcaster(slow, fast)
	done := make(chan error, 1)
	go func() { done <- b.Close() }()
	eventually(t, func() bool {
		fast.mu.Lock()
		defer fast.mu.Unlock()
		return fast.closed == 1
	}, "the fast sink is closed while the slow one is still closing")
	close(release)
	require.NoError(t, <-done)
}

// closeFailingSink accepts writes; its Close waits on wait (if set) and
// returns err.
type closeFailingSink struct {
	wait chan struct{}
	err  error
}

func (s *closeFailingSink) Write(...Event) error { return nil }

func (s *closeFailingSink) Close() error {
	if s.wait != nil {
		<-s.wait
	}
	return s.err
}

// A Broadcaster reads the clock once per Write: its endpoints store the
// block as written at that one time.
func TestBroadcasterStampsEndpointsOnce(t *testing.T) {
	hold := make(chan struct{})
	var stores []*memoryStore
	var sinks []Sink
	for range 2 {
		m := &memoryStore{}
		q, _, _ := newTestQueueOver(&fakeDeliverer{hold: hold}, m, EndpointConfig{})
		stores, sinks = append(stores, m), append(sinks, q)
	}
	b := NewBroadcaster(sinks...)
	events := testEvents("stamp", 2)
	eventJSON, err := EncodeEvents(events)
	require.NoError(t, err)
	start := stampNow()
	require.NoError(t, b.WriteEncoded(events, eventJSON))
	end := stampNow()
	var written []stamp
	for _, m := range stores {
		blocks, err := m.peek(0, 10)
		require.NoError(t, err)
		require.Len(t, blocks, 1)
		assert.Equal(t, eventJSON, blocks[0].encoded(), "the JSON is kept")
		written = append(written, blocks[0].written)
	}
	assert.True(t, start <= written[0] && written[0] <= end, "stamped when written")
	assert.Equal(t, written[0], written[1], "one stamp for both endpoints")
	close(hold)
	require.NoError(t, b.Close())
}
