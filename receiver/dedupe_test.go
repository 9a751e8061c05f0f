package receiver

import (
	"testing"

	"github.com/regnotify/notifications"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIDSetRing(t *testing.T) {
	s := newIDSet(2, 1<<20)
	events := func(ids ...string) []notifications.Event {
		out := make([]notifications.Event, len(ids))
		for i, id := range ids {
			out[i].ID = id
		}
		return out
	}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		fresh, busy := s.claim(events(id))
		require.False(t, busy)
		s.commit(fresh)
	}
	assert.False(t, s.contains("a"))
	assert.False(t, s.contains("c"))
	assert.True(t, s.contains("d"))
	assert.True(t, s.contains("e"))
	assert.Len(t, s.order[s.head:], 2)
	assert.Equal(t, 2*idCost("d"), s.bytes)
	assert.Len(t, s.handled, 2)

	fresh, busy := s.claim(events("x"))
	require.False(t, busy)
	_, busy = s.claim(events("y", "x"))
	assert.True(t, busy, "x is in flight")
	s.release(fresh)
	_, busy = s.claim(events("y", "x"))
	assert.False(t, busy, "released")
}
