package main

// One round: a pipeline opened afresh, n events written by the writers,
// timed from the first Write to the receiver's last answer.

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"
)

// result is one round's measurement.
type result struct {
	pipeline     string
	ceiling      string // the ceiling's name its rate is measured against; its own for a ceiling
	latency      time.Duration
	events       int
	elapsed      time.Duration // first Write to last answer
	rate         float64       // events/s
	posts        int
	p50, p99     time.Duration // Write latency
	bytesPerEv   float64       // sender process
	allocsPerEv  float64
	rxBytesPerEv float64 // receiver process; NaN when it shares this one
	rxAllocsPerE float64
	cpuPerEv     time.Duration // sender process CPU per event (the whole process when the receiver shares it)
	rxCPUPerEv   time.Duration // receiver process CPU per event; 0 when it shares this one
	dups, lost   int
	bad          int
	media        map[string]int
	closeErr     error
}

// runRound writes n events through a freshly opened pipeline p and waits for
// the receiver to have them all.
func runRound(p pipeline, ctl receiverCtl, n, writers int, latency time.Duration, o options) (result, error) {
	r := result{pipeline: p.name(), ceiling: ceilingFor(p), latency: latency}
	n = max(n/writers, 1) * writers
	per := n / writers
	s := p.open(ctl.URL(), o.timeout, o.log)
	s.prepare(n)
	lat := make([][]time.Duration, writers)
	for w := range lat {
		lat[w] = make([]time.Duration, per)
	}
	if err := ctl.Reset(n*copies(p), latency); err != nil {
		return r, err
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	var writeErrs [16]int
	for w := range writers {
		wg.Go(func() {
			<-start
			l := lat[w]
			base := w * per
			for i := range l {
				t := time.Now()
				err := s.write(base + i)
				l[i] = time.Since(t)
				if err != nil {
					writeErrs[w%len(writeErrs)]++
				}
			}
		})
	}

	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	cpu0 := processCPU()
	t0 := time.Now()
	close(start)
	wg.Wait()
	stats, err := ctl.Wait(max(5*time.Minute, time.Duration(n)*10*time.Millisecond))
	cpu := processCPU() - cpu0
	runtime.ReadMemStats(&m1)
	if err != nil {
		return r, err
	}

	done := make(chan error, 1)
	go func() { done <- s.close() }()
	select {
	case r.closeErr = <-done:
	case <-time.After(30 * time.Second):
		r.closeErr = fmt.Errorf("%s: Close did not return within 30s", p.name())
	}

	if we := sumInts(writeErrs[:]); we > 0 {
		return r, fmt.Errorf("%s: %d writes failed", p.name(), we)
	}
	err = r.fill(stats, n, t0, cpu)
	r.dups -= (copies(p) - 1) * n
	all := slices.Concat(lat...)
	slices.Sort(all)
	r.p50, r.p99 = percentile(all, 0.50), percentile(all, 0.99)
	r.bytesPerEv = float64(m1.TotalAlloc-m0.TotalAlloc) / float64(n)
	r.allocsPerEv = float64(m1.Mallocs-m0.Mallocs) / float64(n)
	return r, err
}

// fill sets what a round of n events started at t0 measured on both sides,
// the sender process having used cpu: the receiver's stats, the rate and
// the CPU per event. It returns an error when the receiver gave up waiting.
func (r *result) fill(stats roundStats, n int, t0 time.Time, cpu time.Duration) error {
	r.events = n
	r.elapsed = time.Duration(stats.Last - t0.UnixNano())
	r.rate = float64(stats.Unique) / r.elapsed.Seconds()
	r.posts = stats.Posts
	r.dups, r.lost, r.bad, r.media = stats.Dups, n-stats.Unique, stats.Bad, stats.Media
	r.cpuPerEv = cpu / time.Duration(n)
	r.rxCPUPerEv = stats.CPU / time.Duration(n)
	r.rxBytesPerEv, r.rxAllocsPerE = nan(), nan()
	if stats.Separate {
		r.rxBytesPerEv = float64(stats.Bytes) / float64(n)
		r.rxAllocsPerE = float64(stats.Mallocs) / float64(n)
	}
	if stats.TimedOut {
		return fmt.Errorf("%s: receiver got %d of %d events before the timeout", r.pipeline, stats.Unique, n)
	}
	return nil
}

// burstOf is the fixed number of events of p's rounds when p is a burst,
// else 0.
func burstOf(p pipeline) int {
	if o, ok := p.(ours); ok {
		return o.burst
	}
	return 0
}

// copies is how many times the receiver gets each event from p: once per
// endpoint.
func copies(p pipeline) int {
	if o, ok := p.(ours); ok && o.endpoints > 1 {
		return o.endpoints
	}
	return 1
}

func sumInts(xs []int) (s int) {
	for _, x := range xs {
		s += x
	}
	return s
}

// percentile returns the q-quantile of sorted (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
