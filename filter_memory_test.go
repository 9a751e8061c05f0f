package notifications

import (
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An endpoint with an Ignore keeps its own copy of the JSON of the events
// it keeps, not the memory that JSON shared with the events it ignored: an
// arena chunk of a Broadcaster's (16 KiB), or EncodeEvents' buffer of the
// whole block (a relay's). Each pending event held all of that memory
// before.
func TestFilteredBlockHoldsOnlyWhatItKeeps(t *testing.T) {
	bulky := func(n, keepEvery int) []Event {
		events := testEvents("f", n)
		for i := range events {
			events[i].Target.URL = "https://registry.example/v2/library/test/blobs/" + strings.Repeat("a", 1000)
			if i%keepEvery != 0 {
				events[i].Action = EventActionPull
			}
		}
		return events
	}
	tests := []struct {
		name      string
		endpoints int
		write     func(t *testing.T, sinks []Sink) int // returns the events each endpoint keeps
	}{
		{"a relay's block, encoded whole", 1, func(t *testing.T, sinks []Sink) int {
			for range 1000 {
				events := bulky(50, 50)
				eventJSON, err := EncodeEvents(events)
				require.NoError(t, err)
				require.NoError(t, sinks[0].(EncodedSink).WriteEncoded(events, eventJSON))
			}
			return 1000
		}},
		{"a Broadcaster's arena", 2, func(t *testing.T, sinks []Sink) int {
			b := NewBroadcaster(sinks...)
			for _, e := range bulky(20000, 10) {
				require.NoError(t, b.Write(e))
			}
			return 2000
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			down := newReceiver(t, func(int, http.ResponseWriter) int { return http.StatusServiceUnavailable })
			config := fastConfig()
			config.Threshold, config.Backoff, config.CloseTimeout = 1, time.Hour, time.Millisecond
			config.Ignore = IgnoreConfig{Actions: []string{EventActionPull}}
			config.Logger = testLogger()
			var sinks []Sink
			var endpoints []*Endpoint
			for range tt.endpoints {
				e, err := OpenEndpoint("filtered", down.URL, config)
				require.NoError(t, err)
				t.Cleanup(func() { _ = e.Close() })
				sinks, endpoints = append(sinks, e), append(endpoints, e)
			}
			before := heapInUse()
			kept := tt.write(t, sinks)
			growth := heapInUse() - before
			for _, e := range endpoints {
				require.Equal(t, kept, e.Pending(), "the events kept are pending")
			}
			perEvent := growth / float64(kept*len(endpoints))
			t.Logf("heap growth %.1f MiB, %.0f B a kept event", growth/(1<<20), perEvent)
			assert.Less(t, perEvent, 5120.0, "a kept event holds its own memory only (~2.6 KB: the Event, its 1 KB URL, its JSON)")
		})
	}
}

// heapInUse returns the bytes of live heap after a collection.
func heapInUse() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc)
}
