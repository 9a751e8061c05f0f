package notifications

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lendingBacklog pushes n one-event blocks, each event distinct in its
// strings, into a spool that keeps nothing in memory and lends what it
// reads; it returns the spool and the events.
func lendingBacklog(t *testing.T, n int) (*spoolStore, []Event) {
	t.Helper()
	s, err := openSpoolMemory(t.TempDir(), "lend", time.Second, testLogger(), -1)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.close() })
	s.lend = true
	events := make([]Event, n)
	for i := range events {
		events[i] = goldenEvent()
		events[i].ID = fmt.Sprint("lent-", i)
		events[i].Target.Digest = digest.FromString(events[i].ID)
		events[i].Request.Addr = fmt.Sprintf("10.0.%d.%d:5000", i/256, i%256)
		require.NoError(t, s.push(queuedBlock{events: events[i : i+1], written: stampNow()}))
	}
	return s, events
}

// A lending spool reads a batch into memory of its own and the next one,
// taken ahead, into other memory: the events of a batch stay what was
// written until it is popped, however many reads follow it, and its
// memory serves later reads once it is.
func TestSpoolLendsReadMemoryUntilPopped(t *testing.T) {
	s, want := lendingBacklog(t, 3000)
	const batch = 700 // more than one read of the disk (256 KiB)
	current, err := s.peek(0, batch)
	require.NoError(t, err)
	at := 0
	for len(current) > 0 {
		ahead, err := s.peek(len(current), batch)
		require.NoError(t, err)
		// Peeking the one after again, as the queue does when the batch
		// taken ahead went stale, reads into the memory it let go of.
		ahead, err = s.peek(len(current), batch)
		require.NoError(t, err)
		got := flatten(current)
		sameJSON(t, want[at:at+len(got)], got, "a batch read before the one ahead")
		at += len(got)
		require.NoError(t, s.pop(len(current)))
		current = ahead
	}
	assert.Equal(t, len(want), at)
	assert.LessOrEqual(t, len(s.loans), maxIdleLoans)
}

// Reading a backlog from a lending spool allocates per read, not per event:
// the events share the memory they were read into, used again once popped.
func TestSpoolLendingDecodesWithoutAllocating(t *testing.T) {
	for _, lend := range []bool{true, false} {
		t.Run(fmt.Sprint("lend=", lend), func(t *testing.T) {
			s, _ := lendingBacklog(t, 2000)
			s.lend = lend
			_, err := s.peek(0, 100) // the loans made once
			require.NoError(t, err)
			require.NoError(t, s.pop(1))
			allocs := testing.AllocsPerRun(10, func() {
				blocks, err := s.peek(0, 100)
				require.NoError(t, err)
				require.NoError(t, s.pop(len(blocks)))
			})
			if lend {
				assert.Less(t, allocs, 10.0, "allocations to read and pop 100 events")
			} else {
				assert.GreaterOrEqual(t, allocs, 100.0, "events copied out of the read")
			}
		})
	}
}

// Events an endpoint hands to OnFinished or to its dead letter sink may be
// kept for good: read back from the disk, they are copied out of the
// spool's read memory, and stay what was written however much of the
// backlog is read after them.
func TestSpooledEventsKeptByConsumersStayIntact(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config func(*finishedLog, *fakeSink) EndpointConfig
		kept   func(*finishedLog, *fakeSink) []Event
	}{
		{
			name: "OnFinished",
			config: func(l *finishedLog, _ *fakeSink) EndpointConfig {
				c := fastConfig()
				c.OnFinished = l.record
				return c
			},
			kept: func(l *finishedLog, _ *fakeSink) []Event { return l.events() },
		},
		{
			// The backlog's events (of 2015) are given up as too old.
			name: "DeadLetter",
			config: func(_ *finishedLog, dl *fakeSink) EndpointConfig {
				c := fastConfig()
				c.DeadLetter, c.MaxEventAge = dl, time.Hour
				return c
			},
			kept: func(_ *finishedLog, dl *fakeSink) []Event { return dl.events() },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			prefixes := make([]string, 1500)
			for i := range prefixes {
				prefixes[i] = fmt.Sprint("kept", i)
			}
			want := spoolBacklog(t, dir, "kept", false, prefixes...)
			rc := newReceiver(t, nil)
			var finished finishedLog
			dl := &fakeSink{}
			config := tc.config(&finished, dl)
			config.SpoolDir = dir
			e, err := OpenEndpoint("kept", rc.URL, config)
			require.NoError(t, err)
			eventually(t, func() bool { return len(tc.kept(&finished, dl)) == len(want) }, "every event finished")
			require.NoError(t, e.Close())
			sameJSON(t, want, tc.kept(&finished, dl), "events kept, after the whole backlog was read")
		})
	}
}

// A backlog read from the disk into lent memory, sent through retries,
// dropped connections and a refused event isolated by splitting: every
// event the receiver accepts is the one written, in order, and every one
// but the refused is accepted.
func TestLentBacklogSurvivesRetriesAndRefusals(t *testing.T) {
	dir := t.TempDir()
	s, err := openSpoolMemory(dir, "lent", time.Second, testLogger(), -1)
	require.NoError(t, err)
	const n = 3000
	addr := func(i int) string { return fmt.Sprintf("10.1.%d.%d:443", i/256, i%256) }
	poison := map[string]bool{"ev-1234": true, "ev-2500": true}
	var want []string
	for i := range n {
		e := goldenEvent()
		e.ID = fmt.Sprint("ev-", i)
		e.Target.Digest = digest.FromString(e.ID)
		e.Request.Addr = addr(i)
		require.NoError(t, s.push(queuedBlock{events: []Event{e}, written: stampNow()}))
		if !poison[e.ID] {
			want = append(want, e.ID)
		}
	}
	require.NoError(t, s.close())

	var mu sync.Mutex
	var accepted, damaged []string
	requests := 0
	rc := newUnstartedReceiver(t, nil)
	rc.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		mu.Lock()
		requests++
		k := requests
		mu.Unlock()
		switch {
		case err != nil:
			return
		case k%9 == 0:
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				_ = conn.Close()
			}
			return
		case k%4 == 0:
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var env Envelope
		if err := json.Unmarshal(body, &env); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, e := range env.Events {
			if poison[e.ID] {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
		}
		for _, e := range env.Events {
			var i int
			if _, err := fmt.Sscanf(e.ID, "ev-%d", &i); err != nil || e.Target.Digest != digest.FromString(e.ID) || e.Request.Addr != addr(i) {
				damaged = append(damaged, e.ID)
			}
			accepted = append(accepted, e.ID)
		}
	})
	rc.Start()
	config := fastConfig()
	config.SpoolDir, config.MaxBatch, config.Logger = dir, 300, testLogger()
	e, err := OpenEndpoint("lent", rc.URL, config)
	require.NoError(t, err)
	eventually(t, func() bool {
		var m EndpointMetrics
		e.ReadMetrics(&m)
		return m.Pending == 0
	}, "the backlog delivered or given up")
	require.NoError(t, e.Close())

	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, damaged, "events accepted with another event's values")
	var firsts []string // each ID as first accepted: retries resend what was accepted before
	seen := map[string]bool{}
	for _, id := range accepted {
		if !seen[id] {
			seen[id] = true
			firsts = append(firsts, id)
		}
	}
	assert.Equal(t, want, firsts)
}
