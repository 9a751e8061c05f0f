package spool

import (
	"fmt"
	"testing"
	"time"

	"github.com/regnotify/notifications/internal/benchtest"
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
	benchtest.Writers(b, 4, func(i int) error {
		_, err := l.Append(int64(i), [][]byte{item}, nil)
		return err
	})
	b.SetBytes(int64(len(item)))
}
