package notifications

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// README, Coming from the 2015 package: "a batch holds the events of
// several Writes when they wait (MaxBatch: 1: one POST per Write)". Writes
// made while the first POST is held wait; then the default MaxBatch sends
// them in one envelope, and MaxBatch 1 one envelope a Write (a Write of
// two events stays whole: blocks are never split).
func TestMaxBatchOneSendsEachWriteAlone(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxBatch int
		want     []int // events per envelope
	}{
		{"default", 0, []int{1, 4}},
		{"MaxBatch 1", 1, []int{1, 1, 1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			held := make(chan struct{})
			first := make(chan struct{})
			rc := newReceiver(t, func(n int, w http.ResponseWriter) int {
				if n == 1 {
					close(first)
					<-held
				}
				return http.StatusOK
			})
			config := fastConfig()
			config.MaxBatch = tc.maxBatch
			e, err := OpenEndpoint("batches", rc.URL, config)
			require.NoError(t, err)
			events := testEvents("b", 5)
			require.NoError(t, e.Write(events[0]))
			<-first // the first POST is out, held
			require.NoError(t, e.Write(events[1]))
			require.NoError(t, e.Write(events[2]))
			require.NoError(t, e.Write(events[3:]...))
			close(held)
			require.NoError(t, e.Close())

			rc.mu.Lock()
			defer rc.mu.Unlock()
			var sizes []int
			for _, env := range rc.envelopes {
				sizes = append(sizes, len(env.Events))
			}
			assert.Equal(t, tc.want, sizes)
		})
	}
}
