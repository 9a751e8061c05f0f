package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
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
func burstCeilingName(n int) string { return fmt.Sprintf("%s %dk", ceilingName, n/1000) }

// ceilingOf is the name of the ceiling a pipeline's rate is measured
// against: a burst's own, for the same number of events (a short round
// costs the receiver more per event, the ceiling's as much as any
// pipeline's), else the ceiling.
func ceilingOf(pipeline string) string {
	var n int
	if _, err := fmt.Sscanf(pipeline, ceilingName+" %dk", &n); err == nil {
		return pipeline
	}
	if i := strings.Index(pipeline, "k burst"); i > 0 {
		if j := strings.LastIndex(pipeline[:i], " "); j >= 0 {
			if _, err := fmt.Sscanf(pipeline[j+1:i], "%d", &n); err == nil {
				return burstCeilingName(n * 1000)
			}
		}
	}
	return ceilingName
}

// runCeiling posts n events (rounded up to whole envelopes) and returns the
// round's result, named name, timed like runRound's: first POST to the
// last answer.
func runCeiling(ctl receiverCtl, name string, n int, latency time.Duration) (result, error) {
	r := result{pipeline: name, latency: latency}
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
	r.events = n
	r.elapsed = time.Duration(stats.Last - t0.UnixNano())
	r.rate = float64(stats.Unique) / r.elapsed.Seconds()
	r.posts = stats.Posts
	r.dups, r.lost, r.bad, r.media = stats.Dups, n-stats.Unique, stats.Bad, stats.Media
	r.cpuPerEv = (processCPU() - cpu0) / time.Duration(n)
	r.rxCPUPerEv = stats.CPU / time.Duration(n)
	r.rxBytesPerEv, r.rxAllocsPerE = nan(), nan()
	if stats.Separate {
		r.rxBytesPerEv = float64(stats.Bytes) / float64(n)
		r.rxAllocsPerE = float64(stats.Mallocs) / float64(n)
	}
	return r, nil
}

// encodeEnvelope is the envelope's JSON as encoding/json writes it, byte
// for byte what the library sends.
func encodeEnvelope(events []notifications.Event) ([]byte, error) {
	return json.Marshal(notifications.Envelope{Events: events})
}
