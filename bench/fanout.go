package main

import (
	"fmt"
	"io"
	"time"
)

// runFanout measures the sender CPU per event of a broadcaster of o.fanout
// endpoints against that of one endpoint, at receiver latency 0: each
// endpoint posts every event, the receiver (in its own process, by default)
// takes them all.
func runFanout(ctl receiverCtl, o options, out io.Writer) error {
	n := min(o.events, 20000)
	one, many := ours{}, ours{endpoints: o.fanout}
	cpu := map[string][]float64{}
	for round := range o.rounds {
		for _, p := range []pipeline{one, many} {
			r, err := runRound(p, ctl, n, o.writers, 0, o)
			if err != nil {
				return err
			}
			if r.lost > 0 || r.dups > 0 {
				return fmt.Errorf("%s: %d lost, %d duplicates", p.name(), r.lost, r.dups)
			}
			fmt.Fprintf(o.progress, "fan-out round %d  %-22s %6d events  CPU/event %v  %d POSTs  %.0f B/ev %.1f allocs/ev\n", round+1, p.name(), r.events, roundDur(r.cpuPerEv), r.posts, r.bytesPerEv, r.allocsPerEv)
			cpu[p.name()] = append(cpu[p.name()], float64(r.cpuPerEv))
		}
	}
	c1, c8 := time.Duration(median(cpu[one.name()])), time.Duration(median(cpu[many.name()]))
	fmt.Fprintf(out, "\nFan-out: sender CPU per event written, %d events, receiver latency 0, medians of %d:\n\n", n, o.rounds)
	fmt.Fprintln(out, "| endpoints | sender CPU/event | × one endpoint |")
	fmt.Fprintln(out, "|---:|---:|---:|")
	fmt.Fprintf(out, "| 1 | %v | 1.00 |\n", c1.Round(10*time.Nanosecond))
	fmt.Fprintf(out, "| %d | %v | **%.2f** |\n", o.fanout, c8.Round(10*time.Nanosecond), float64(c8)/float64(c1))
	return nil
}
