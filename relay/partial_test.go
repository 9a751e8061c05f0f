package relay

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/regnotify/notifications"
)

func TestPartialSetForgetsOldest(t *testing.T) {
	s := newPartialSet(3, 2)
	for i := range 10 {
		s.mark(events(fmt.Sprint("p", i), 1), i%2)
	}
	held := func(id string, target int) bool {
		return len(s.unheld([]notifications.Event{{ID: id}}, target)) == 0
	}
	assert.Equal(t, 3, s.len())
	assert.True(t, held("p9-0", 1))
	assert.False(t, held("p9-0", 0))
	assert.False(t, held("p0-0", 0), "the oldest are forgotten")
	s.forget(events("p9", 1))
	assert.False(t, held("p9-0", 1))
}

// unheld leaves out, in order, the events a target holds.
func TestPartialSetUnheld(t *testing.T) {
	s := newPartialSet(10, 2)
	sent := events("u", 4)
	assert.Equal(t, eventIDs(sent), eventIDs(s.unheld(sent, 0)), "nothing held")
	s.mark([]notifications.Event{sent[1], sent[3]}, 0)
	assert.Equal(t, []string{"u-0", "u-2"}, eventIDs(s.unheld(sent, 0)))
	assert.Equal(t, eventIDs(sent), eventIDs(s.unheld(sent, 1)), "another target")
	s.mark(sent, 1)
	assert.Empty(t, s.unheld(sent, 1))
}
