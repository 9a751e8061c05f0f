package spool

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The reservation word keeps each of its fields apart, and a ticket is
// recovered whole from its low bits across their wrap.
func TestReservationWord(t *testing.T) {
	for _, tt := range []struct {
		ticket uint32
		epoch  uint8
		offset int64
	}{
		{0, 0, 0},
		{1, 2, 3},
		{ticketMask, 255, maxSegmentSize},
		{ticketMask + 5, 7, closedBit - 1}, // the ticket's high bits are dropped
	} {
		w := makeReservation(tt.ticket, tt.epoch, tt.offset)
		assert.Equal(t, tt.ticket&ticketMask, w.ticket())
		assert.Equal(t, tt.epoch, w.epoch())
		assert.Equal(t, tt.offset, w.offset())
		assert.False(t, w.closed())
		assert.True(t, (w | closedBit).closed())
		assert.Equal(t, tt.offset, (w | closedBit).offset())
	}
	for _, committed := range []uint64{0, 5, ticketMask, ticketMask + 1, 3*ticketMask - 2} {
		for _, ahead := range []uint64{0, 1, ringSize - 1} {
			ticket := committed + ahead
			assert.Equal(t, ticket, committed+inFlight(makeReservation(uint32(ticket), 0, 0), committed), "committed %d, ticket %d", committed, ticket)
		}
	}
}

// Records commit in ticket order: while the first appender is held before
// its put, the records reserved after it are written but not visible, and
// once more than the ring holds wait, further appenders wait for room.
// Released, every record is read back, in the order reserved.
func TestAppendsCommitInTicketOrder(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{SegmentSize: 64 << 10})
	defer l.Close()
	held, release := make(chan struct{}), make(chan struct{})
	l.beforePut = func(ticket uint64) {
		if ticket == 0 {
			close(held)
			<-release
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		_, err := l.Append(0, [][]byte{[]byte("first")}, nil)
		assert.NoError(t, err)
	})
	<-held
	const others = ringSize + 100
	var mu sync.Mutex
	spans := map[string]Span{}
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < others; i += 4 {
				item := fmt.Sprint(i)
				span, err := l.Append(0, [][]byte{[]byte(item)}, nil)
				assert.NoError(t, err)
				mu.Lock()
				spans[item] = span
				mu.Unlock()
			}
		})
	}
	require.Eventually(t, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.waiting.Load() > 0
	}, 10*time.Second, 100*time.Microsecond, "appenders wait for room in the ring")
	assert.Zero(t, l.Len(), "nothing is visible before the first record")
	close(release)
	wg.Wait()
	require.Equal(t, others+1, l.Len())

	got, _ := drain(t, l, 500)
	require.Len(t, got, others+1)
	assert.Equal(t, "first", got[0])
	for k := 2; k < len(got); k++ {
		prev, next := spans[got[k-1]], spans[got[k]]
		follows := prev.To == next.From || next.From == Position{Segment: prev.To.Segment + 1}
		assert.True(t, follows, "records follow each other as reserved: %v then %v", prev, next)
	}
}
