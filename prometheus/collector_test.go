package prometheus_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications"
	notifprom "github.com/regnotify/notifications/prometheus"
)

// scripted is a Deliverer that answers each attempt (1-based) with
// answers[attempt-1], the last one repeating. When hold is non-nil every
// attempt first waits for it (or for Close).
type scripted struct {
	answers []notifications.Delivery
	hold    chan struct{}

	mu       sync.Mutex
	attempts int
}

func (s *scripted) Deliver(ctx context.Context, _ []notifications.Event) notifications.Delivery {
	s.mu.Lock()
	s.attempts++
	n := s.attempts
	s.mu.Unlock()
	if s.hold != nil {
		select {
		case <-s.hold:
		case <-ctx.Done():
			return notifications.Delivery{Outcome: notifications.Retry, Err: ctx.Err()}
		}
	}
	return s.answers[min(n, len(s.answers))-1]
}

func (s *scripted) Close() error { return nil }

func (s *scripted) started() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

var (
	ok         = notifications.Delivery{Outcome: notifications.Accepted, Status: "200 OK"}
	serverErr  = notifications.Delivery{Outcome: notifications.Retry, Status: "500 Internal Server Error", Err: assert.AnError}
	unanswered = notifications.Delivery{Outcome: notifications.Retry, Err: assert.AnError}
)

// config retries at once, so that tests need no real waits.
var config = notifications.EndpointConfig{Threshold: 10, Backoff: time.Millisecond}

func events(n int) []notifications.Event {
	out := make([]notifications.Event, n)
	for i := range out {
		out[i].Action = notifications.EventActionPush
		out[i].Target.Type = notifications.EventTargetTypeBlob
		out[i].Target.Name = "library/test"
	}
	return out
}

func openEndpoint(t *testing.T, name string, d notifications.Deliverer) *notifications.Endpoint {
	t.Helper()
	e, err := notifications.NewDelivererEndpoint(name, "test://"+name, d, config)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() }) // in case the test failed before closing it
	return e
}

// settled waits until e has nothing pending and succeeded n events.
func settled(t *testing.T, e *notifications.Endpoint, successes int) {
	t.Helper()
	require.Eventually(t, func() bool {
		var m notifications.EndpointMetrics
		e.ReadMetrics(&m)
		return m.Pending == 0 && m.Successes == successes
	}, 10*time.Second, time.Millisecond)
}

func TestCollector(t *testing.T) {
	alpha := openEndpoint(t, "alpha", &scripted{answers: []notifications.Delivery{serverErr, unanswered, ok}})
	require.NoError(t, alpha.Write(events(2)...))
	settled(t, alpha, 2)

	held := &scripted{answers: []notifications.Delivery{ok}, hold: make(chan struct{})}
	beta := openEndpoint(t, "beta", held)
	var release sync.Once
	t.Cleanup(func() { release.Do(func() { close(held.hold) }) }) // runs before beta's Close
	require.NoError(t, beta.Write(events(1)...))
	require.Eventually(t, func() bool { return held.started() == 1 }, 10*time.Second, time.Millisecond)

	c := notifprom.NewCollector()
	expected := `
# HELP registry_notifications_events_total The number of total events
# TYPE registry_notifications_events_total counter
registry_notifications_events_total{endpoint="alpha",type="Errors"} 2
registry_notifications_events_total{endpoint="alpha",type="Events"} 2
registry_notifications_events_total{endpoint="alpha",type="Failures"} 2
registry_notifications_events_total{endpoint="alpha",type="Successes"} 2
registry_notifications_events_total{endpoint="beta",type="Errors"} 0
registry_notifications_events_total{endpoint="beta",type="Events"} 1
registry_notifications_events_total{endpoint="beta",type="Failures"} 0
registry_notifications_events_total{endpoint="beta",type="Successes"} 0
# HELP registry_notifications_pending_total The gauge of pending events in queue
# TYPE registry_notifications_pending_total gauge
registry_notifications_pending_total{endpoint="alpha"} 0
registry_notifications_pending_total{endpoint="beta"} 1
# HELP registry_notifications_status_total The number of status code
# TYPE registry_notifications_status_total counter
registry_notifications_status_total{code="200 OK",endpoint="alpha"} 2
registry_notifications_status_total{code="500 Internal Server Error",endpoint="alpha"} 2
# HELP registry_notifications_dropped_total The number of events given up without delivery
# TYPE registry_notifications_dropped_total counter
registry_notifications_dropped_total{endpoint="alpha"} 0
registry_notifications_dropped_total{endpoint="beta"} 0
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(expected),
		notifprom.EventsMetric, notifprom.PendingMetric, notifprom.StatusMetric, notifprom.DroppedMetric))

	// The latency histogram: its values depend on the clock, its shape not.
	hist := gatherHistograms(t, c)
	require.Contains(t, hist, "alpha")
	assert.Equal(t, uint64(2), hist["alpha"].GetSampleCount())
	buckets := hist["alpha"].GetBucket()
	require.Len(t, buckets, len(notifications.DeliveryLatencyBuckets))
	for i, b := range buckets {
		assert.Equal(t, notifications.DeliveryLatencyBuckets[i], b.GetUpperBound())
		if i > 0 {
			assert.GreaterOrEqual(t, b.GetCumulativeCount(), buckets[i-1].GetCumulativeCount(), "cumulative counts")
		}
	}
	assert.Equal(t, uint64(2), buckets[len(buckets)-1].GetCumulativeCount(), "both took less than the last bound")
	assert.Positive(t, hist["alpha"].GetSampleSum())
	require.Contains(t, hist, "beta")
	assert.Zero(t, hist["beta"].GetSampleCount(), "nothing of beta was accepted yet")

	// Closed endpoints drop out.
	require.NoError(t, alpha.Close())
	release.Do(func() { close(held.hold) })
	require.NoError(t, beta.Close())
	assert.Zero(t, testutil.CollectAndCount(c))
}

func TestCollectorAddsUpEndpointsOfOneName(t *testing.T) {
	first := openEndpoint(t, "shared", &scripted{answers: []notifications.Delivery{ok}})
	second := openEndpoint(t, "shared", &scripted{answers: []notifications.Delivery{ok}})
	t.Cleanup(func() {
		assert.NoError(t, first.Close())
		assert.NoError(t, second.Close())
	})
	require.NoError(t, first.Write(events(1)...))
	require.NoError(t, second.Write(events(2)...))
	settled(t, first, 1)
	settled(t, second, 2)

	c := notifprom.NewCollector()
	expected := `
# HELP registry_notifications_events_total The number of total events
# TYPE registry_notifications_events_total counter
registry_notifications_events_total{endpoint="shared",type="Errors"} 0
registry_notifications_events_total{endpoint="shared",type="Events"} 3
registry_notifications_events_total{endpoint="shared",type="Failures"} 0
registry_notifications_events_total{endpoint="shared",type="Successes"} 3
# HELP registry_notifications_status_total The number of status code
# TYPE registry_notifications_status_total counter
registry_notifications_status_total{code="200 OK",endpoint="shared"} 3
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(expected),
		notifprom.EventsMetric, notifprom.StatusMetric))
	assert.Equal(t, uint64(3), gatherHistograms(t, c)["shared"].GetSampleCount())
}

// When one of two endpoints of a name closes, its counts stay in the sum,
// which would otherwise go down (a counter reset to Prometheus, and a
// burst in rate()); once no endpoint has the name, its series end, and an
// endpoint opened later with it starts from its own counts.
func TestCollectorKeepsCountsOfAClosedNamesake(t *testing.T) {
	first := openEndpoint(t, "shared", &scripted{answers: []notifications.Delivery{ok}})
	second := openEndpoint(t, "shared", &scripted{answers: []notifications.Delivery{ok}})
	require.NoError(t, first.Write(events(1)...))
	require.NoError(t, second.Write(events(2)...))
	settled(t, first, 1)
	settled(t, second, 2)
	c := notifprom.NewCollector()
	counts := func(n int) string {
		return strings.ReplaceAll(`
# HELP registry_notifications_events_total The number of total events
# TYPE registry_notifications_events_total counter
registry_notifications_events_total{endpoint="shared",type="Errors"} 0
registry_notifications_events_total{endpoint="shared",type="Events"} N
registry_notifications_events_total{endpoint="shared",type="Failures"} 0
registry_notifications_events_total{endpoint="shared",type="Successes"} N
# HELP registry_notifications_status_total The number of status code
# TYPE registry_notifications_status_total counter
registry_notifications_status_total{code="200 OK",endpoint="shared"} N
`, "N", strconv.Itoa(n))
	}
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(counts(3)), notifprom.EventsMetric, notifprom.StatusMetric))

	require.NoError(t, first.Close())
	require.NoError(t, second.Write(events(1)...))
	settled(t, second, 3)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(counts(4)), notifprom.EventsMetric, notifprom.StatusMetric))
	assert.Equal(t, uint64(4), gatherHistograms(t, c)["shared"].GetSampleCount())

	require.NoError(t, second.Close())
	assert.Zero(t, testutil.CollectAndCount(c))

	third := openEndpoint(t, "shared", &scripted{answers: []notifications.Delivery{ok}})
	t.Cleanup(func() { assert.NoError(t, third.Close()) })
	require.NoError(t, third.Write(events(1)...))
	settled(t, third, 1)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(counts(1)), notifprom.EventsMetric, notifprom.StatusMetric))
}

// gatherHistograms registers c with a pedantic registry, which checks the
// metrics against Describe, and returns the latency histogram per endpoint.
func gatherHistograms(t *testing.T, c prometheus.Collector) map[string]*dto.Histogram {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	families, err := reg.Gather()
	require.NoError(t, err)
	out := make(map[string]*dto.Histogram)
	for _, f := range families {
		if f.GetName() != notifprom.LatencyMetric {
			continue
		}
		assert.Equal(t, dto.MetricType_HISTOGRAM, f.GetType())
		for _, m := range f.GetMetric() {
			require.Len(t, m.GetLabel(), 1)
			out[m.GetLabel()[0].GetValue()] = m.GetHistogram()
		}
	}
	return out
}

// The failing gauge is 1 for an endpoint whose last attempt was not
// accepted, 0 for one whose last attempt was.
func TestCollectorFailing(t *testing.T) {
	up := openEndpoint(t, "up", &scripted{answers: []notifications.Delivery{ok}})
	require.NoError(t, up.Write(events(1)...))
	settled(t, up, 1)
	held := &scripted{answers: []notifications.Delivery{serverErr, ok}, hold: make(chan struct{})}
	down := openEndpoint(t, "down", held)
	require.NoError(t, down.Write(events(1)...))
	held.hold <- struct{}{} // the first attempt answers 500; the second waits
	require.Eventually(t, func() bool { return held.started() == 2 }, 10*time.Second, time.Millisecond)

	expected := `
# HELP registry_notifications_failing 1 while the endpoint's last delivery attempt was not accepted
# TYPE registry_notifications_failing gauge
registry_notifications_failing{endpoint="down"} 1
registry_notifications_failing{endpoint="up"} 0
`
	c := notifprom.NewCollector()
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(expected), notifprom.FailingMetric))
	close(held.hold)
	settled(t, down, 1)
	expected = strings.Replace(expected, `{endpoint="down"} 1`, `{endpoint="down"} 0`, 1)
	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(expected), notifprom.FailingMetric), "accepted again")
}

// An endpoint name that is not UTF-8 is exported with U+FFFD in place of
// its bad bytes: a label value must be UTF-8, and one such name failed the
// whole scrape.
func TestCollectorNameNotUTF8(t *testing.T) {
	e := openEndpoint(t, "hook-\xff", &scripted{answers: []notifications.Delivery{ok}})
	require.NoError(t, e.Write(events(1)...))
	settled(t, e, 1)
	expected := `
# HELP registry_notifications_failing 1 while the endpoint's last delivery attempt was not accepted
# TYPE registry_notifications_failing gauge
registry_notifications_failing{endpoint="hook-` + "\uFFFD" + `"} 0
`
	assert.NoError(t, testutil.CollectAndCompare(notifprom.NewCollector(), strings.NewReader(expected), notifprom.FailingMetric))
}

// A Status that is not UTF-8 (a Deliverer of the caller's may return any)
// is exported with U+FFFD in place of its bad bytes, two such adding up: it
// failed the whole scrape.
func TestCollectorStatusNotUTF8(t *testing.T) {
	answers := []notifications.Delivery{
		{Outcome: notifications.Retry, Status: "bad \xff"},
		{Outcome: notifications.Retry, Status: "bad \xfe"},
		ok,
	}
	e := openEndpoint(t, "status", &scripted{answers: answers})
	require.NoError(t, e.Write(events(1)...))
	settled(t, e, 1)
	expected := `
# HELP registry_notifications_status_total The number of status code
# TYPE registry_notifications_status_total counter
registry_notifications_status_total{code="200 OK",endpoint="status"} 1
registry_notifications_status_total{code="bad ` + "\uFFFD" + `",endpoint="status"} 2
`
	assert.NoError(t, testutil.CollectAndCompare(notifprom.NewCollector(), strings.NewReader(expected), "registry_notifications_status_total"))
}
