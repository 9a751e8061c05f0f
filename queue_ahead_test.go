package notifications

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// encodingDeliverer is a fakeDeliverer that is an Encoder: it records each
// batch it encodes, and whether another batch was out meanwhile.
type encodingDeliverer struct {
	fakeDeliverer

	emu      sync.Mutex
	encoded  [][]string
	ahead    int // batches encoded while another was taken and unfinished
	out      bool
	live     int // encoded and not released
	released int
}

var _ Encoder = (*encodingDeliverer)(nil)

type fakeEncoded struct {
	d      *encodingDeliverer
	events []Event
	done   bool
}

func (e *fakeEncoded) Release() {
	e.d.emu.Lock()
	defer e.d.emu.Unlock()
	if e.done {
		panic("released twice")
	}
	e.done = true
	e.d.live--
	e.d.released++
}

func (d *encodingDeliverer) Encode(events []Event) (Encoded, error) {
	d.emu.Lock()
	defer d.emu.Unlock()
	d.encoded = append(d.encoded, ids(events))
	if d.live > 0 { // another batch is taken and not finished
		d.ahead++
	}
	d.live++
	return &fakeEncoded{d: d, events: events}, nil
}

func (d *encodingDeliverer) DeliverEncoded(ctx context.Context, enc Encoded) Delivery {
	e := enc.(*fakeEncoded)
	d.emu.Lock()
	if e.done {
		panic("delivered after Release")
	}
	d.out = true
	d.emu.Unlock()
	defer func() {
		d.emu.Lock()
		d.out = false
		d.emu.Unlock()
	}()
	return d.Deliver(ctx, e.events)
}

func TestEventQueuePreparesNextBatchDuringDelivery(t *testing.T) {
	stores := map[string]func(t *testing.T) eventStore{
		"memory": func(*testing.T) eventStore { return &memoryStore{} },
		"spool": func(t *testing.T) eventStore {
			s, err := openSpool(t.TempDir(), "ahead", time.Second, testLogger())
			require.NoError(t, err)
			return s
		},
	}
	for name, store := range stores {
		t.Run(name, func(t *testing.T) {
			release := make(chan struct{})
			d := &encodingDeliverer{fakeDeliverer: fakeDeliverer{hold: release}}
			q, finished, _ := newTestQueueOver(d, store(t), EndpointConfig{MaxBatch: 4})

			require.NoError(t, q.Write(testEvents("a", 1)...)) // out at once, alone
			eventually(t, func() bool {
				d.emu.Lock()
				defer d.emu.Unlock()
				return d.out
			}, "first batch in flight")
			for _, p := range []string{"b", "c", "d", "e", "f"} {
				require.NoError(t, q.Write(testEvents(p, 2)...))
			}
			release <- struct{}{} // a goes; the next batch waits
			eventually(t, func() bool {
				d.emu.Lock()
				defer d.emu.Unlock()
				return d.ahead > 0
			}, "a batch encoded while the one before it is out")
			close(release)
			require.NoError(t, q.Close())

			assert.Equal(t, []string{"a-0", "b-0", "b-1", "c-0", "c-1", "d-0", "d-1", "e-0", "e-1", "f-0", "f-1"}, ids(d.events()), "order kept")
			assert.Equal(t, 11, finished.count())
			d.emu.Lock()
			defer d.emu.Unlock()
			assert.LessOrEqual(t, len(d.encoded), len(d.batches)+1, "a batch is encoded again only when blocks came to join it after it was taken ahead")
			assert.Zero(t, d.live, "every encoding released")
		})
	}
}
