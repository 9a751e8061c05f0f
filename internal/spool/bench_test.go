package spool

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkAppend measures Append from 4 goroutines, records of one item
// of 1000 bytes (about an encoded event), and reports its latency's p50
// and p99 besides the mean; with the default SyncEvery, and with fsyncs
// every 10ms while appending.
func BenchmarkAppend(b *testing.B) {
	for _, every := range []time.Duration{DefaultSyncEvery, 10 * time.Millisecond} {
		b.Run(fmt.Sprint("sync=", every), func(b *testing.B) { benchmarkAppend(b, every) })
	}
}

func benchmarkAppend(b *testing.B, syncEvery time.Duration) {
	l := openLog(b, b.TempDir(), Options{SyncEvery: syncEvery})
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
