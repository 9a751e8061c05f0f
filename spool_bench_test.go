package notifications

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/regnotify/notifications/internal/benchtest"
	"github.com/stretchr/testify/require"
)

// BenchmarkSpoolPush measures the cost a spooled endpoint adds to Write:
// writing one event's binary form and appending its record (copied into
// the mapped segment on Linux, with pwrite elsewhere).
func BenchmarkSpoolPush(b *testing.B) {
	s, err := openSpool(b.TempDir(), "bench", time.Second, testLogger())
	require.NoError(b, err)
	defer s.close()
	block := []Event{goldenEvent()}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.push(queuedBlock{events: block, written: stampNow()}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSpoolRecover measures opening a spool that holds a backlog: the
// time a restarted endpoint needs before it delivers again.
func BenchmarkSpoolRecover(b *testing.B) {
	for _, backlog := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(backlog), func(b *testing.B) {
			dir := b.TempDir()
			s, err := openSpool(dir, "bench", time.Second, testLogger())
			require.NoError(b, err)
			block := []Event{goldenEvent()}
			for range backlog {
				require.NoError(b, s.push(queuedBlock{events: block, written: stampNow()}))
			}
			require.NoError(b, s.close())
			b.ResetTimer()
			for b.Loop() {
				s, err := openSpool(dir, "bench", time.Second, testLogger())
				require.NoError(b, err)
				if s.len() != backlog {
					b.Fatalf("reopen: %d events, %d written", s.len(), backlog)
				}
				_ = s.close()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(backlog)*1000, "ns/event")
		})
	}
}

// BenchmarkSpoolDrain measures a new endpoint delivering a backlog left in
// its spool, one event a block, to a receiver that reads and answers.
func BenchmarkSpoolDrain(b *testing.B) {
	const backlog = 20_000
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer rc.Close()
	config := EndpointConfig{Logger: testLogger(), CloseTimeout: -1}
	for b.Loop() {
		b.StopTimer()
		config.SpoolDir = b.TempDir()
		s, err := openSpool(config.SpoolDir, "drain", time.Second, testLogger())
		require.NoError(b, err)
		for i := range backlog {
			e := goldenEvent()
			e.ID = fmt.Sprint(i)
			require.NoError(b, s.push(queuedBlock{events: []Event{e}, written: stampNow()}))
		}
		require.NoError(b, s.close())
		b.StartTimer()
		e, err := OpenEndpoint("drain", rc.URL, config)
		require.NoError(b, err)
		require.NoError(b, e.Close())
	}
	b.ReportMetric(float64(backlog)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkSpoolEndpointWrite measures a spooled endpoint taking events
// from 4 writers, one event a Write, and delivering them to a receiver
// that reads and answers: the cost of the spool on the sending side.
func BenchmarkSpoolEndpointWrite(b *testing.B) {
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer rc.Close()
	for _, spooled := range []bool{false, true} {
		b.Run(fmt.Sprint("spool=", spooled), func(b *testing.B) {
			config := EndpointConfig{Logger: testLogger(), CloseTimeout: -1}
			if spooled {
				config.SpoolDir = b.TempDir()
			}
			e, err := OpenEndpoint("write", rc.URL, config)
			require.NoError(b, err)
			event := goldenEvent()
			b.ReportAllocs()
			benchtest.Writers(b, 4, func(int) error { return e.Write(event) }) // 4 writers on 2 cores
			require.NoError(b, e.Close())
		})
	}
}
