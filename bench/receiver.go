package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"time"

	notifications "github.com/regnotify/notifications"
)

// receiverEnv, set to "1" in the environment, makes the program serve as the
// receiver child process instead of running the benchmark.
const receiverEnv = "REGNOTIFY_BENCH_RECEIVER"

// roundStats is what the receiver saw during one round.
type roundStats struct {
	Events    int            // events received, duplicates included
	Unique    int            // distinct event IDs
	Dups      int            // events whose ID had been received before
	Posts     int            // POSTs answered
	Bad       int            // bodies that did not decode as an Envelope
	Last      int64          // wall clock (Unix ns) of the last answer counted
	Media     map[string]int // POSTs per Content-Type
	Mallocs   uint64         // receiver process heap allocations during the round
	Bytes     uint64         // receiver process bytes allocated during the round
	CPU       time.Duration  // receiver process CPU time during the round
	Separate  bool           // the receiver ran in a process of its own
	TimedOut  bool           // Wait gave up before all expected events came
	BodyBytes int64          // request body bytes received
}

// receiver is the webhook receiver every pipeline posts to: it reads and
// decodes each envelope with encoding/json, waits latency (the receiver's
// own work or a network round trip, on top of decoding), counts events,
// duplicates (by ID) and POSTs, and answers 200.
type receiver struct {
	mu      sync.Mutex
	latency time.Duration
	expect  int
	seen    map[string]struct{}
	stats   roundStats
	done    chan struct{} // closed when expect events were counted
	mem0    runtime.MemStats
	cpu0    time.Duration
}

func newReceiver() *receiver {
	r := &receiver{seen: map[string]struct{}{}, done: make(chan struct{})}
	r.stats.Media = map[string]int{}
	return r
}

// reset starts a round: expect events will come, each answer takes latency.
func (r *receiver) reset(expect int, latency time.Duration, separate bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.latency, r.expect = latency, expect
	r.seen = make(map[string]struct{}, expect)
	r.stats = roundStats{Media: map[string]int{}, Separate: separate}
	r.done = make(chan struct{})
	if separate {
		runtime.GC()
		runtime.ReadMemStats(&r.mem0)
		r.cpu0 = processCPU()
	}
}

// wait returns the round's stats once every expected event came, or after
// timeout.
func (r *receiver) wait(timeout time.Duration) roundStats {
	r.mu.Lock()
	done := r.done
	r.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	timedOut := false
	select {
	case <-done:
	case <-t.C:
		timedOut = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.TimedOut = timedOut
	s.Media = make(map[string]int, len(r.stats.Media))
	for k, v := range r.stats.Media {
		s.Media[k] = v
	}
	if s.Separate {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		s.Mallocs, s.Bytes = m.Mallocs-r.mem0.Mallocs, m.TotalAlloc-r.mem0.TotalAlloc
		s.CPU = processCPU() - r.cpu0
	}
	return s
}

// ServeHTTP answers webhook POSTs.
func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	var env notifications.Envelope
	if err == nil {
		err = json.Unmarshal(body, &env)
	}
	r.mu.Lock()
	latency := r.latency
	r.mu.Unlock()
	if latency > 0 {
		time.Sleep(latency)
	}

	r.mu.Lock()
	r.stats.Posts++
	r.stats.BodyBytes += int64(len(body))
	r.stats.Media[req.Header.Get("Content-Type")]++
	if err != nil {
		r.stats.Bad++
		r.mu.Unlock()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, ev := range env.Events {
		r.stats.Events++
		if _, dup := r.seen[ev.ID]; dup {
			r.stats.Dups++
		} else {
			r.seen[ev.ID] = struct{}{}
			r.stats.Unique++
		}
	}
	r.stats.Last = time.Now().UnixNano()
	if r.stats.Events >= r.expect && r.expect > 0 {
		select {
		case <-r.done:
		default:
			close(r.done)
		}
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// receiverCtl drives a receiver, in this process or in a child process.
type receiverCtl interface {
	// URL is where pipelines POST their envelopes.
	URL() string
	// Reset starts a round.
	Reset(expect int, latency time.Duration) error
	// Wait returns the round's stats once expect events came or timeout passed.
	Wait(timeout time.Duration) (roundStats, error)
	// Close stops the receiver.
	Close() error
}

// localReceiver runs the receiver on an httptest server of this process.
// Its allocations are mixed with the sender's.
type localReceiver struct {
	*receiver
	srv *httptest.Server
}

func startLocalReceiver() *localReceiver {
	r := newReceiver()
	return &localReceiver{receiver: r, srv: httptest.NewServer(r)}
}

func (l *localReceiver) URL() string { return l.srv.URL + "/hook" }

func (l *localReceiver) Reset(expect int, latency time.Duration) error {
	l.reset(expect, latency, false)
	return nil
}

func (l *localReceiver) Wait(timeout time.Duration) (roundStats, error) {
	return l.wait(timeout), nil
}

func (l *localReceiver) Close() error { l.srv.Close(); return nil }

// childReceiver runs the receiver in a child process (this program, with
// receiverEnv set), so that its decoding allocations and garbage stay out of
// the sender's memory statistics. It is driven over /control/ on the same
// loopback server.
type childReceiver struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	base   string
	client *http.Client // a transport of its own: v3 closes DefaultTransport's idle connections
}

func startChildReceiver() (*childReceiver, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), receiverEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("receiver child: %w", err)
	}
	base := line[:len(line)-1]
	return &childReceiver{cmd: cmd, stdin: stdin, base: base,
		client: &http.Client{Transport: &http.Transport{}}}, nil
}

func (c *childReceiver) URL() string { return c.base + "/hook" }

func (c *childReceiver) Reset(expect int, latency time.Duration) error {
	q := url.Values{"expect": {strconv.Itoa(expect)}, "latency": {latency.String()}}
	resp, err := c.client.Post(c.base+"/control/reset?"+q.Encode(), "text/plain", nil)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("receiver reset: %s", resp.Status)
	}
	return nil
}

func (c *childReceiver) Wait(timeout time.Duration) (roundStats, error) {
	var s roundStats
	resp, err := c.client.Get(c.base + "/control/wait?timeout=" + url.QueryEscape(timeout.String()))
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("receiver wait: %s", resp.Status)
	}
	err = json.NewDecoder(resp.Body).Decode(&s)
	return s, err
}

func (c *childReceiver) Close() error {
	_ = c.stdin.Close() // the child exits when its stdin closes
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		return errors.New("receiver child did not exit; killed")
	}
}

// serveReceiverChild is main for the child process: it serves the receiver
// and its control endpoints on a loopback port, prints the base URL on
// stdout and exits when stdin is closed.
func serveReceiverChild() {
	r := newReceiver()
	mux := http.NewServeMux()
	mux.Handle("/hook", r)
	mux.HandleFunc("/control/reset", func(w http.ResponseWriter, req *http.Request) {
		expect, err1 := strconv.Atoi(req.URL.Query().Get("expect"))
		latency, err2 := time.ParseDuration(req.URL.Query().Get("latency"))
		if err := errors.Join(err1, err2); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.reset(expect, latency, true)
	})
	mux.HandleFunc("/control/wait", func(w http.ResponseWriter, req *http.Request) {
		timeout, err := time.ParseDuration(req.URL.Query().Get("timeout"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(r.wait(timeout))
	})
	srv := httptest.NewServer(mux)
	fmt.Println(srv.URL)
	_, _ = io.Copy(io.Discard, os.Stdin)
	srv.Close()
}
