package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	notifications "github.com/regnotify/notifications"
)

// The ceiling: what the receiver and the loopback transport can take at
// most. The same events, encoded into envelopes of ceilingBatch events
// before the clock starts, are POSTed back to back on one keep-alive
// connection. No sender can beat it; the table gives every pipeline's rate
// as a ratio of it.

const ceilingBatch = 1000

const ceilingName = "ceiling"

// burstCeilingName names the ceiling of a burst of n events: the yardstick
// of the pipeline that writes exactly that many (see ours.burst).
func burstCeilingName(n int) string { return ceilingName + " " + countLabel(n) }

// countLabel writes n as "20k" when it is a multiple of 1000.
func countLabel(n int) string {
	if n%1000 == 0 {
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// ceilingFor is the name of the ceiling p's rate is measured against: a
// burst's own, of the same number of events (a short round costs the
// receiver more per event, the ceiling's as much as any pipeline's), else
// the ceiling.
func ceilingFor(p pipeline) string {
	if b := burstOf(p); b > 0 {
		return burstCeilingName(b)
	}
	return ceilingName
}

// runCeiling posts n events, in envelopes of ceilingBatch (the last one
// partial), and returns the round's result, named name, timed like
// runRound's: first POST to the last answer.
func runCeiling(ctl receiverCtl, name string, n int, latency time.Duration) (result, error) {
	r := result{pipeline: name, ceiling: name, latency: latency}
	var s oursSender
	s.prepare(n)
	var bodies [][]byte
	for i := 0; i < n; i += ceilingBatch {
		body, err := encodeEnvelope(s.events[i:min(i+ceilingBatch, n)])
		if err != nil {
			return r, err
		}
		bodies = append(bodies, body)
	}
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	if err := ctl.Reset(n, latency); err != nil {
		return r, err
	}
	cpu0 := processCPU()
	t0 := time.Now()
	for _, body := range bodies {
		req, err := http.NewRequest(http.MethodPost, ctl.URL(), bytes.NewReader(body))
		if err != nil {
			return r, err
		}
		req.Header = benchHeaders()
		req.Header.Set("Content-Type", notifications.EventsMediaType)
		resp, err := client.Do(req)
		if err != nil {
			return r, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return r, fmt.Errorf("ceiling: %s", resp.Status)
		}
	}
	stats, err := ctl.Wait(time.Minute)
	if err != nil {
		return r, err
	}
	return r, r.fill(stats, n, t0, processCPU()-cpu0)
}

// encodeEnvelope is the envelope's JSON as encoding/json writes it, byte
// for byte what the library sends.
func encodeEnvelope(events []notifications.Event) ([]byte, error) {
	return json.Marshal(notifications.Envelope{Events: events})
}
