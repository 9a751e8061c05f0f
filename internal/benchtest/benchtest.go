// Package benchtest holds what the benchmarks of several packages share:
// timing each call of an operation run by concurrent writers and
// reporting the latency's percentiles beside the mean.
package benchtest

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// Writers calls op b.N times, with i from 0 to b.N-1, from writers
// goroutines at once (each takes every writers-th i), times every call and
// reports the calls' p50 and p99 as the metrics p50-ns and p99-ns. The
// benchmark's timer runs only while the writers do; a call that fails
// fails the benchmark and ends its writer.
func Writers(b *testing.B, writers int, op func(i int) error) {
	b.Helper()
	lat := make([][]time.Duration, writers)
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range writers {
		wg.Go(func() {
			own := make([]time.Duration, 0, b.N/writers+1)
			for i := w; i < b.N; i += writers {
				start := time.Now()
				if err := op(i); err != nil {
					b.Error(err)
					return
				}
				own = append(own, time.Since(start))
			}
			lat[w] = own
		})
	}
	wg.Wait()
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(percentile(all, 0.50).Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(percentile(all, 0.99).Nanoseconds()), "p99-ns")
	}
}

// percentile returns the q-quantile of sorted, by nearest rank (as the
// bench program's, a module of its own, does).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
