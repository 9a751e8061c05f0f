package jetstream

import (
	"testing"
	"testing/synctest"
	"time"
)

// keepAlive runs once however often start is called, never after close,
// and close ends it (synctest fails on a goroutine left behind).
func TestInFlightStartAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newInFlight()
		f.start(time.Second)
		f.start(time.Second)
		time.Sleep(3 * time.Second) // ticks with nothing in flight
		f.close()
		f.close()

		g := newInFlight()
		g.close()
		g.start(time.Second)
		g.close()
	})
}
