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
	// Last: measurePending leaves its pipelines hung, their pending events
	// live, for the program's exit (distribution v3 would drain with one
	// connection per event). Measured before the fan-out and the backlog,
	// some 230 MB of them sat in the heap those two measure in.
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
	return nil
}

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
