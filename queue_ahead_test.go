package notifications

import (
	"sync"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEventQueuePreparesNextBatchDuringDelivery(t *testing.T) {
	release := make(chan struct{})
	next := &fakeSink{block: release}
	var mu sync.Mutex
	var prepared [][]string
	prepare := func(events []Event) {
		mu.Lock()
		prepared = append(prepared, ids(events))
		mu.Unlock()
	}
	config := EndpointConfig{MaxBatch: 4, CloseTimeout: -1, Logger: logrus.StandardLogger()}
	q := newEventQueue("ahead", next, &memoryStore{}, config, newEndpointMetrics(), noGiveUp, prepare)

	require.NoError(t, q.Write(testEvents("a", 1)...)) // out at once, alone
	eventually(t, func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.store.len() == 1 // taken, not yet popped
	}, "first batch in flight")
	for _, p := range []string{"b", "c", "d", "e", "f"} {
		require.NoError(t, q.Write(testEvents(p, 2)...))
	}
	close(release)
	require.NoError(t, q.Close())

	var written [][]string
	for _, b := range next.blocks {
		written = append(written, ids(b))
	}
	assert.Equal(t, []string{"a-0", "b-0", "b-1", "c-0", "c-1", "d-0", "d-1", "e-0", "e-1", "f-0", "f-1"}, ids(next.events()), "order kept")
	mu.Lock()
	defer mu.Unlock()
	used := 0
	for _, p := range prepared {
		for _, w := range written {
			if assert.ObjectsAreEqual(p, w) {
				used++
			}
		}
	}
	assert.Positive(t, used, "batches prepared while others were out were then written as prepared")
}
