package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary serve as the receiver child process, so that
// the child-process path is tested too.
func TestMain(m *testing.M) {
	if os.Getenv(receiverEnv) == "1" {
		serveReceiverChild()
		return
	}
	os.Exit(m.Run())
}

func tinyOptions() options {
	return options{rounds: 1, writers: 2, timeout: 5 * time.Second, log: io.Discard, progress: io.Discard}
}

// checkRound fails the test unless every event came exactly once.
func checkRound(t *testing.T, r result, n int) {
	t.Helper()
	if r.events != n || r.lost != 0 || r.dups != 0 || r.bad != 0 {
		t.Errorf("%s: %d events written, %d lost, %d duplicates, %d bad bodies", r.pipeline, r.events, r.lost, r.dups, r.bad)
	}
	if r.posts < 1 || r.posts > n {
		t.Errorf("%s: %d POSTs for %d events", r.pipeline, r.posts, n)
	}
	if r.rate <= 0 || r.p99 < r.p50 || r.allocsPerEv <= 0 {
		t.Errorf("%s: implausible round: %+v", r.pipeline, r)
	}
	if r.closeErr != nil {
		t.Errorf("%s: close: %v", r.pipeline, r.closeErr)
	}
}

func TestTinyRounds(t *testing.T) {
	ctl := startLocalReceiver()
	defer ctl.Close()
	o := tinyOptions()
	for _, latency := range []time.Duration{0, time.Millisecond} {
		for _, p := range []pipeline{ours{}, ours{spool: true}, ours{endpoints: 3}, upstream{}} {
			r, err := runRound(p, ctl, 60, o.writers, latency, o)
			if err != nil {
				t.Fatal(err)
			}
			checkRound(t, r, 60)
		}
	}
}

func TestChildReceiver(t *testing.T) {
	ctl, err := startChildReceiver()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := ctl.Close(); err != nil {
			t.Error(err)
		}
	}()
	o := tinyOptions()
	for _, p := range []pipeline{ours{}, upstream{}} {
		r, err := runRound(p, ctl, 40, o.writers, 0, o)
		if err != nil {
			t.Fatal(err)
		}
		checkRound(t, r, 40)
		if r.rxAllocsPerE != r.rxAllocsPerE || r.rxAllocsPerE <= 0 {
			t.Errorf("%s: receiver allocations per event %v, want a positive number from the child", r.pipeline, r.rxAllocsPerE)
		}
	}
}

func TestReceiverCountsDuplicates(t *testing.T) {
	ctl := startLocalReceiver()
	defer ctl.Close()
	if err := ctl.Reset(3, 0); err != nil {
		t.Fatal(err)
	}
	post := func(body string) {
		resp, err := http.Post(ctl.URL(), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	post(`{"events":[{"id":"a"},{"id":"b"}]}`)
	post(`{"events":[{"id":"a"}]}`)
	post(`not json`)
	s, err := ctl.Wait(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if s.Events != 3 || s.Unique != 2 || s.Dups != 1 || s.Posts != 3 || s.Bad != 1 || s.TimedOut {
		t.Errorf("stats %+v, want 3 events, 2 unique, 1 duplicate, 3 POSTs, 1 bad", s)
	}
}

func TestPendingHeap(t *testing.T) {
	for _, p := range []pipeline{ours{}, ours{spool: true}, upstream{}} {
		per, err := measurePending(p, 500, true)
		if err != nil {
			t.Fatal(err)
		}
		// An event holds a few hundred bytes of strings and struct; the
		// bounds only catch a broken measurement.
		if per < 100 || per > 8192 {
			t.Errorf("%s: %.0f B per pending event", p.name(), per)
		}
	}
}

func TestRunPrintsTable(t *testing.T) {
	o := tinyOptions()
	o.events, o.v3Events, o.minEvents = 40, 20, 20
	o.roundTime = 50 * time.Millisecond
	o.latencies = []time.Duration{0}
	o.local = true
	o.pending, o.fanout, o.backlog = 200, 3, 300
	var out bytes.Buffer
	if err := run(o, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| 0s | ceiling |", "| 0s | regnotify memory |", "| 0s | regnotify spool |", "| 0s | distribution v3.1.2 |",
		"of ceiling", "events/POST", "Content-Type sent by",
		"| regnotify spool | ", // heap per pending event
		"| 3 | ",               // fan-out
		"drain of ceiling",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestQuickOptions(t *testing.T) {
	o := quickOptions(options{events: 100000, v3Events: 5000, rounds: 3, pending: 100000, backlog: 1000000, roundTime: time.Second})
	if o.events > 5000 || o.rounds != 1 || o.backlog > 5000 || o.pending > 2000 || o.roundTime != 0 {
		t.Errorf("quick options %+v are not quick", o)
	}
}

func TestPercentileAndMedian(t *testing.T) {
	ds := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if got := percentile(ds, 0.5); got != 5 {
		t.Errorf("p50 = %v, want 5", got)
	}
	if got := percentile(ds, 0.99); got != 10 {
		t.Errorf("p99 = %v, want 10", got)
	}
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median = %v, want 2", got)
	}
	if got := median([]float64{4, 1, 2, 3}); got != 2.5 {
		t.Errorf("median = %v, want 2.5", got)
	}
	if ls, err := parseLatencies("0, 2ms"); err != nil || len(ls) != 2 || ls[1] != 2*time.Millisecond {
		t.Errorf("parseLatencies = %v, %v", ls, err)
	}
}

func TestCeilingFor(t *testing.T) {
	for _, c := range []struct {
		p    pipeline
		want string
	}{
		{ours{}, "ceiling"},
		{ours{spool: true}, "ceiling"},
		{upstream{}, "ceiling"},
		{ours{burst: 20000}, "ceiling 20k"},
		{ours{burst: 1500, endpoints: 8}, "ceiling 1500"},
	} {
		if got := ceilingFor(c.p); got != c.want {
			t.Errorf("ceilingFor(%s) = %q, want %q", c.p.name(), got, c.want)
		}
	}
}
