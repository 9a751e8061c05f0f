package notifications

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLatencyHistogramCounts(t *testing.T) {
	var h latencyHistogram
	h.observe(500*time.Microsecond, 2) // first bucket
	h.observe(30*time.Millisecond, 1)  // 0.05 bucket
	h.observe(time.Hour, 1)            // +Inf only
	var out LatencyHistogram
	h.read(&out)
	require.Len(t, out.Counts, len(DeliveryLatencyBuckets))
	assert.Equal(t, uint64(2), out.Counts[0])
	assert.Equal(t, uint64(2), out.Counts[3], "0.025 holds the first two only")
	assert.Equal(t, uint64(3), out.Counts[4], "0.05 adds the 30ms one")
	assert.Equal(t, uint64(3), out.Counts[len(out.Counts)-1], "the hour is past every bound")
	assert.Equal(t, uint64(4), out.Count)
	assert.InDelta(t, 0.001+0.03+3600, out.Sum, 1e-9)
}

func TestEndpointRecordsLatencyAndListsOpenEndpoints(t *testing.T) {
	rc := newReceiver(t, nil)
	e := NewEndpoint("latency", rc.URL, fastConfig())
	assert.Contains(t, OpenEndpoints(), e)
	require.NoError(t, e.Write(testEvents("l", 3)...))
	require.NoError(t, e.Close())
	assert.NotContains(t, OpenEndpoints(), e)
	var h LatencyHistogram
	e.ReadDeliveryLatency(&h)
	assert.Equal(t, uint64(3), h.Count)
	assert.Equal(t, uint64(3), h.Counts[len(h.Counts)-1])
}
