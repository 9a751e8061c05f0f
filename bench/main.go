// Command bench measures regnotify (in memory, in short bursts, with a
// spool) against distribution v3.1.2's notifications and against the
// ceiling, the receiver's own limit: every pipeline, wired as a registry
// wires it, posts to the same loopback receiver in alternating rounds, and
// a markdown table of the medians goes to stdout.
//
//	go run . -events 20000 -v3-events 5000 -rounds 3 -latencies 0,2ms
//
// Each round builds its events first (as each library's bridge builds a blob
// event, one registry request per event), then several goroutines write them
// one per Write as fast as they can, timing every Write, and the round ends
// when the receiver has answered for every event. Events per second run from
// the first Write to the last answer. Bytes and allocations per event are
// the sender process's (runtime.MemStats deltas over the round, building
// excluded); the receiver runs in a child process by default and its own
// allocations are reported apart.
package main

import (
	"cmp"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

type options struct {
	events    int           // most events per round for this library
	v3Events  int           // most events per round for v3
	minEvents int           // fewest events per round when calibrating
	roundTime time.Duration // calibrate rounds to about this long; 0: fixed sizes
	rounds    int
	latencies []time.Duration
	writers   int
	timeout   time.Duration // endpoint request timeout, both pipelines
	local     bool          // receiver in this process
	pending   int           // events for the heap-per-pending-event measurement; 0: skip
	fanout    int           // endpoints of the fan-out CPU measurement; 0 or 1: skip
	backlog   int           // events of the backlog measurement; 0: skip
	bursts    []int         // also run the in-memory pipeline with rounds of exactly these many events
	only      string        // run only the pipelines whose name contains this (and the ceiling)
	log       io.Writer     // pipelines' log output
	progress  io.Writer
}

func main() {
	if os.Getenv(receiverEnv) == "1" {
		serveReceiverChild()
		return
	}
	var o options
	var latencies, receiverMode, bursts string
	flag.IntVar(&o.events, "events", 100000, "events per round for regnotify (the most, when calibrating)")
	flag.IntVar(&o.v3Events, "v3-events", 5000, "events per round for distribution v3 (the most, when calibrating); v3 opens a connection per event, keep it under ~6000 so that 3 rounds stay within the ephemeral port range")
	flag.IntVar(&o.minEvents, "min-events", 500, "fewest events per round when calibrating")
	flag.DurationVar(&o.roundTime, "round-time", 3*time.Second, "size each pipeline's rounds, from a warm-up round, to last about this long (within -min-events and -events/-v3-events); 0 uses -events and -v3-events as they are")
	flag.IntVar(&o.rounds, "rounds", 3, "timed rounds per pipeline and latency")
	flag.StringVar(&latencies, "latencies", "0,2ms", "comma-separated receiver latencies")
	flag.StringVar(&bursts, "bursts", "20000", "comma-separated burst sizes: the in-memory pipeline also runs rounds of exactly this many events (at most -events; empty: none)")
	flag.IntVar(&o.writers, "writers", 4, "goroutines writing events")
	flag.DurationVar(&o.timeout, "timeout", time.Second, "endpoint request timeout (both pipelines)")
	flag.StringVar(&receiverMode, "receiver", "process", `where the receiver runs: "process" (a child process: sender allocations are measured alone) or "local" (this process: allocation columns include the receiver's)`)
	flag.IntVar(&o.pending, "pending", 100000, "also measure heap per pending event with this many events pending (0: skip)")
	flag.IntVar(&o.fanout, "fanout", 8, "also measure sender CPU per event with a broadcaster of this many endpoints against one (0: skip)")
	flag.IntVar(&o.backlog, "backlog", 1000000, "also measure a spool backlog of this many events written while the receiver is down (0: skip)")
	verbose := flag.Bool("v", false, "show the pipelines' log lines")
	flag.StringVar(&o.only, "only", "", "run only the pipelines whose name contains this string (the ceiling always runs)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (sender side) to this file")
	memProfile := flag.String("memprofile", "", "write an allocation profile of the whole run (sender side) to this file")
	mutexProfile := flag.String("mutexprofile", "", "write a mutex contention profile of the whole run (sender side) to this file")
	traceFile := flag.String("trace", "", "write an execution trace of the whole run (sender side) to this file")
	quick := flag.Bool("quick", false, "a quick run with small sizes, to check that everything works (overrides the sizes)")
	flag.Parse()
	if *quick {
		o = quickOptions(o)
	}

	var err error
	if o.latencies, err = parseLatencies(latencies); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if o.bursts, err = parseBursts(bursts); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	o.local = receiverMode == "local"
	o.log, o.progress = io.Discard, os.Stderr
	if *verbose {
		o.log = os.Stderr
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	if *traceFile != "" {
		f, err := os.Create(*traceFile)
		if err == nil {
			err = trace.Start(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(2)
		}
		defer trace.Stop()
	}
	if *mutexProfile != "" {
		runtime.SetMutexProfileFraction(1)
	}
	err = run(o, os.Stdout)
	writeProfile(*memProfile, "allocs")
	writeProfile(*mutexProfile, "mutex")
	if err != nil {
		pprof.StopCPUProfile()
		trace.Stop()
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// quickOptions shrinks o to a run of seconds: every measurement, small.
func quickOptions(o options) options {
	o.events, o.v3Events, o.minEvents, o.roundTime, o.rounds = 3000, 200, 100, 0, 1
	o.pending, o.backlog = min(o.pending, 2000), min(o.backlog, 5000)
	return o
}

func parseBursts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad burst size %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func parseLatencies(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "0" {
			out = append(out, 0)
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("bad latency %q", f)
		}
		out = append(out, d)
	}
	return out, nil
}

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

func run(o options, out io.Writer) error {
	var ctl receiverCtl
	var err error
	if o.local {
		ctl = startLocalReceiver()
	} else if ctl, err = startChildReceiver(); err != nil {
		return err
	}
	defer ctl.Close()

	// The spool right after memory: the two whose Write p99s are compared
	// run back to back (each after an untimed round of its own: see
	// below).
	pipelines := []pipeline{ours{}, ours{spool: true}}
	for _, n := range o.bursts {
		pipelines = append(pipelines, ours{burst: min(n, o.events)})
	}
	pipelines = append(pipelines, upstream{})
	if o.only != "" {
		pipelines = slices.DeleteFunc(pipelines, func(p pipeline) bool { return !strings.Contains(p.name(), o.only) })
	}
	maxEvents := func(p pipeline) int {
		if _, ok := p.(upstream); ok {
			return o.v3Events
		}
		if b := burstOf(p); b > 0 {
			return b
		}
		return o.events
	}
	ceilings := map[string]int{ceilingName: o.events}
	for _, p := range pipelines {
		if b := burstOf(p); b > 0 {
			ceilings[ceilingFor(p)] = b
		}
	}
	var results []result
	for _, latency := range o.latencies {
		sizes := map[string]int{}
		for _, p := range pipelines {
			sizes[p.name()] = maxEvents(p)
			if o.roundTime <= 0 {
				continue
			}
			if burstOf(p) > 0 {
				continue // a fixed size, and a fresh pipeline: no warm-up
			}
			warm := min(maxEvents(p), 1000)
			if latency > 0 {
				warm = min(warm, 300)
			}
			r, err := runRound(p, ctl, warm, o.writers, latency, o)
			if err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
			n := int(r.rate * o.roundTime.Seconds())
			sizes[p.name()] = min(max(n, o.minEvents), maxEvents(p))
			fmt.Fprintf(o.progress, "warm-up  %-20s latency %-5v %6d events %9.0f events/s -> %d events per round\n",
				p.name(), latency, r.events, r.rate, sizes[p.name()])
		}
		for round := range o.rounds {
			for _, name := range slices.Sorted(maps.Keys(ceilings)) {
				r, err := runCeiling(ctl, name, ceilings[name], latency)
				if err != nil {
					return err
				}
				fmt.Fprintf(o.progress, "round %d  %-20s latency %-5v %6d events %9.0f events/s %6d POSTs\n",
					round+1, r.pipeline, latency, r.events, r.rate, r.posts)
				results = append(results, r)
			}
			for _, p := range pipelines {
				// Each of our timed rounds follows an untimed round of the
				// same pipeline. The runtime hands the heap a round left
				// free back to the kernel (MADV_DONTNEED) while the next
				// round runs, and that round's allocations fault the pages
				// in again: whichever pipeline came second paid for the
				// first one's garbage. Run after the memory pipeline (60 MB
				// of events let go), the spool's Write p99 was mostly 7-12 µs
				// (3-22); run first, 2.5-5 µs, while memory's went from
				// mostly 1.1-1.4 µs to 1.3-5.7. After a round of its own,
				// each pays for its own.
				if _, ok := p.(ours); ok {
					if _, err := runRound(p, ctl, sizes[p.name()], o.writers, latency, o); err != nil {
						return fmt.Errorf("untimed round: %w", err)
					}
				}
				r, err := runRound(p, ctl, sizes[p.name()], o.writers, latency, o)
				if err != nil {
					return err
				}
				fmt.Fprintf(o.progress, "round %d  %-20s latency %-5v %6d events %9.0f events/s %6d POSTs  p99 %-9v %6.0f B/ev %5.1f allocs/ev dups %d\n",
					round+1, p.name(), latency, r.events, r.rate, r.posts, r.p99, r.bytesPerEv, r.allocsPerEv, r.dups)
				if r.closeErr != nil {
					fmt.Fprintln(o.progress, "   close:", r.closeErr)
				}
				results = append(results, r)
			}
		}
	}
	sums := printTable(out, o, results)

	if o.pending > 0 {
		fmt.Fprintf(out, "\nHeap held per pending event, %d events pending behind a receiver that does not answer (runtime.GC, HeapAlloc delta / events):\n\n", o.pending)
		fmt.Fprintln(out, "| pipeline | heap per pending event |")
		fmt.Fprintln(out, "|---|---:|")
		for _, p := range pipelines {
			per, err := measurePending(p, o.pending, false)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "| %s | %.0f B |\n", p.name(), per)
		}
	}
	if o.fanout > 1 {
		if err := runFanout(ctl, o, out); err != nil {
			return err
		}
	}
	if o.backlog > 0 {
		var ceiling float64
		for _, s := range sums {
			if s.pipeline == ceilingName && s.latency == 0 {
				ceiling = s.rate
			}
		}
		if err := runBacklog(ctl, o, ceiling, out); err != nil {
			return err
		}
	}
	return nil
}

// summary holds the medians over one pipeline's rounds at one latency.
type summary struct {
	pipeline, ceiling       string
	latency                 time.Duration
	events, posts           float64
	rate                    float64
	p50, p99                time.Duration
	bytes, allocs, rxB, rxA float64
	cpu, rxCPU              time.Duration
	dups, lost, bad         int
	media                   []string
	rounds                  int
}

func summarize(rs []result) summary {
	s := summary{pipeline: rs[0].pipeline, ceiling: rs[0].ceiling, latency: rs[0].latency, rounds: len(rs)}
	f := func(get func(result) float64) float64 {
		xs := make([]float64, len(rs))
		for i, r := range rs {
			xs[i] = get(r)
		}
		return median(xs)
	}
	s.events = f(func(r result) float64 { return float64(r.events) })
	s.posts = f(func(r result) float64 { return float64(r.posts) })
	s.rate = f(func(r result) float64 { return r.rate })
	s.p50 = time.Duration(f(func(r result) float64 { return float64(r.p50) }))
	s.p99 = time.Duration(f(func(r result) float64 { return float64(r.p99) }))
	s.bytes = f(func(r result) float64 { return r.bytesPerEv })
	s.allocs = f(func(r result) float64 { return r.allocsPerEv })
	s.rxB = f(func(r result) float64 { return r.rxBytesPerEv })
	s.rxA = f(func(r result) float64 { return r.rxAllocsPerE })
	s.cpu = time.Duration(f(func(r result) float64 { return float64(r.cpuPerEv) }))
	s.rxCPU = time.Duration(f(func(r result) float64 { return float64(r.rxCPUPerEv) }))
	media := map[string]bool{}
	for _, r := range rs {
		s.dups += r.dups
		s.lost += r.lost
		s.bad += r.bad
		for m := range r.media {
			media[m] = true
		}
	}
	for m := range media {
		s.media = append(s.media, m)
	}
	slices.Sort(s.media)
	return s
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return nan()
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

func printTable(out io.Writer, o options, results []result) []summary {
	cpu := cpuModel()
	fmt.Fprintf(out, "regnotify vs distribution v3.1.2 notifications — %s, GOMAXPROCS=%d, %s, %d writers, %d rounds each (medians), receiver in %s\n\n",
		runtime.Version(), runtime.GOMAXPROCS(0), cpu, o.writers, o.rounds, map[bool]string{true: "this process", false: "a child process"}[o.local])
	fmt.Fprintln(out, "| receiver latency | pipeline | events/round | events/s | of ceiling | ×v3 | POSTs/round | events/POST | Write p50 | Write p99 | B/event | allocs/event | CPU/event | receiver allocs/event | receiver CPU/event | dups/lost |")
	fmt.Fprintln(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	groups := map[string][]result{}
	var keys []string
	for _, r := range results {
		k := r.latency.String() + "\x00" + r.pipeline
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r)
	}
	var sums []summary
	for _, k := range keys {
		sums = append(sums, summarize(groups[k]))
	}
	slices.SortStableFunc(sums, func(a, b summary) int { return cmp.Compare(a.latency, b.latency) })
	type at struct {
		latency time.Duration
		name    string
	}
	ref, ceiling := map[time.Duration]summary{}, map[at]summary{}
	for _, s := range sums {
		switch {
		case s.pipeline == (upstream{}).name():
			ref[s.latency] = s
		case s.pipeline == s.ceiling:
			ceiling[at{s.latency, s.pipeline}] = s
		}
	}
	for _, s := range sums {
		ratio := "1.0"
		if v, ok := ref[s.latency]; ok && s.pipeline != v.pipeline {
			ratio = fmt.Sprintf("%.1f", s.rate/v.rate)
		}
		ofCeiling := "—"
		if c, ok := ceiling[at{s.latency, s.ceiling}]; ok {
			ofCeiling = fmt.Sprintf("**%.2f**", s.rate/c.rate)
			if full, ok := ceiling[at{s.latency, ceilingName}]; ok && c.pipeline != ceilingName {
				ofCeiling += fmt.Sprintf(" (%.2f of %s)", s.rate/full.rate, ceilingName)
			}
		}
		rxCPU := "—"
		if s.rxCPU > 0 {
			rxCPU = roundDur(s.rxCPU).String()
		}
		p50, p99, bytes, allocs := roundDur(s.p50).String(), roundDur(s.p99).String(), fmt.Sprintf("%.0f", s.bytes), fmt.Sprintf("%.1f", s.allocs)
		if s.pipeline == s.ceiling { // no Write, encoded before the clock
			p50, p99, bytes, allocs = "—", "—", "—", "—"
		}
		fmt.Fprintf(out, "| %v | %s | %.0f | %.0f | %s | %s | %.0f | %.1f | %s | %s | %s | %s | %v | %s | %s | %d/%d |\n",
			s.latency, s.pipeline, s.events, s.rate, ofCeiling, ratio, s.posts, s.events/s.posts,
			p50, p99, bytes, allocs, roundDur(s.cpu), fmtNaN(s.rxA, "%.1f"), rxCPU, s.dups, s.lost)
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "events/s: first Write to the receiver's last answer; the receiver decodes each envelope, then waits the latency, then answers. Write p50/p99: time.Since around each Write call. Each regnotify round follows an untimed round of the same pipeline, so that it pays for its own garbage, not the previous pipeline's.")
	fmt.Fprintf(out, "ceiling: the same receiver fed the events as envelopes of %d, encoded before the clock starts, POSTed back to back on one keep-alive connection; of ceiling: events/s over the ceiling's. A burst's ceiling is that of the same number of events (a short round costs the receiver more per event, whoever sends); in brackets, its ratio to the full-size ceiling.\n", ceilingBatch)
	fmt.Fprintln(out, "CPU/event: user+system CPU time of the sender process over the round (getrusage), per event; receiver CPU/event likewise for the receiver process.")
	if o.local {
		fmt.Fprintln(out, "B/event and allocs/event: this process over the round (runtime.MemStats), event building excluded, receiver decoding INCLUDED.")
	} else {
		fmt.Fprintln(out, "B/event and allocs/event: the sender process over the round (runtime.MemStats), event building excluded; the receiver's decoding is in its own process and counted apart.")
	}
	media := map[string][]string{}
	var names []string
	for _, s := range sums {
		if _, ok := media[s.pipeline]; !ok {
			names = append(names, s.pipeline)
		}
		media[s.pipeline] = append(media[s.pipeline], s.media...)
	}
	for _, name := range names {
		m := slices.Compact(slices.Sorted(slices.Values(media[name])))
		fmt.Fprintf(out, "Content-Type sent by %s: %s\n", name, strings.Join(m, ", "))
	}
	return sums
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d >= time.Microsecond:
		return d.Round(100 * time.Nanosecond)
	}
	return d
}

func fmtNaN(v float64, format string) string {
	if v != v {
		return "—"
	}
	return fmt.Sprintf(format, v)
}

func nan() float64 { v, _ := strconv.ParseFloat("NaN", 64); return v }

// cpuModel returns the CPU model name from /proc/cpuinfo, if any.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v) + fmt.Sprintf(" (%d CPUs)", runtime.NumCPU())
		}
	}
	return runtime.GOARCH
}

// writeProfile writes the runtime profile name to file, unless file is "".
func writeProfile(file, name string) {
	if file == "" {
		return
	}
	if f, err := os.Create(file); err == nil {
		_ = pprof.Lookup(name).WriteTo(f, 0)
		_ = f.Close()
	}
}
