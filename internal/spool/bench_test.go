package spool

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkAppend measures Append from 4 goroutines, records of one item
// of 1 KiB (about an encoded event), and reports its latency's p50 and
// p99 besides the mean.
func BenchmarkAppend(b *testing.B) {
	l := openLog(b, b.TempDir(), Options{})
	defer l.Close()
	item := make([]byte, 1000)
	const writers = 4
	lat := make([][]time.Duration, writers)
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range writers {
		wg.Go(func() {
			own := make([]time.Duration, 0, b.N/writers+1)
			for i := w; i < b.N; i += writers {
				start := time.Now()
				if _, err := l.Append(int64(i), [][]byte{item}, nil); err != nil {
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
		b.ReportMetric(float64(all[len(all)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(all[len(all)*99/100].Nanoseconds()), "p99-ns")
	}
	b.SetBytes(int64(len(item)))
}
