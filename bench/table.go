package main

// The report: each pipeline's rounds summarized by their medians, printed
// as a Markdown table with the legend of its columns.

import (
	"cmp"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

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
