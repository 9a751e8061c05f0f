package notifications

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEndpointChaos delivers 5,000 events through a receiver that answers at
// random: every event arrives, in order, with duplicates only where an
// answer was lost after the receiver took the envelope.
func TestEndpointChaos(t *testing.T) {
	const total = 5000
	rng := rand.New(rand.NewPCG(1, 2))
	var mu sync.Mutex
	var received []Event
	lostAnswers, busy := 0, 0
	srv := newUnstartedReceiver(t, nil)
	const timeout = 500 * time.Millisecond
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		mu.Lock()
		roll := rng.IntN(100)
		mu.Unlock()
		switch {
		case roll < 10:
			w.WriteHeader(http.StatusInternalServerError)
		case roll < 15:
			// The first asks for a second's pause; the rest for none.
			mu.Lock()
			busy++
			wait := busy <= 1
			mu.Unlock()
			if wait {
				w.Header().Set("Retry-After", "1")
			} else {
				w.Header().Set("Retry-After", "0")
			}
			w.WriteHeader(http.StatusTooManyRequests)
		case roll < 20: // drop the connection before taking the envelope
			hangUpConn(w)
		case roll < 21: // slow answer, past the endpoint's timeout
			time.Sleep(timeout + 100*time.Millisecond)
			w.WriteHeader(http.StatusOK)
		default:
			var env Envelope
			if err := json.Unmarshal(body, &env); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			mu.Lock()
			received = append(received, env.Events...)
			// Took it, but the answer is lost: dropped on purpose, or so late
			// that the sender may have given up on it.
			lost := roll < 26 || time.Since(start) > timeout/2
			if lost {
				lostAnswers += len(env.Events)
			}
			mu.Unlock()
			if lost {
				hangUpConn(w)
				return
			}
			w.WriteHeader(http.StatusOK)
		}
	})
	srv.Start()

	config := EndpointConfig{Timeout: timeout, Threshold: 3, Backoff: time.Millisecond, MaxBatch: 50, CloseTimeout: -1, Logger: testLogger()}
	e, err := OpenEndpoint("chaos", srv.URL, config)
	require.NoError(t, err)
	var want []string
	for i := 0; len(want) < total; i++ {
		block := testEvents(fmt.Sprint("chaos-", i), 1+i%4)
		want = append(want, ids(block)...)
		require.NoError(t, e.Write(block...))
	}
	require.NoError(t, e.Close())

	mu.Lock()
	defer mu.Unlock()
	got := ids(received)
	// Remove the duplicates: an event may be received again only after an
	// attempt whose answer was lost (or timed out) — never out of order.
	seen := map[string]bool{}
	var firsts []string
	dups := 0
	for _, id := range got {
		if seen[id] {
			dups++
			continue
		}
		seen[id] = true
		firsts = append(firsts, id)
	}
	assert.Equal(t, want, firsts, "every event, in order")
	assert.LessOrEqual(t, dups, lostAnswers, "duplicates only where an answer was lost")
	var m EndpointMetrics
	e.ReadMetrics(&m)
	assert.Equal(t, total, m.Successes)
	assert.Zero(t, m.Dropped)
	t.Logf("%d events in %d receipts, %d duplicates, %d events in lost answers, failures=%d errors=%d",
		total, len(got), dups, lostAnswers, m.Failures, m.Errors)
}

// hangUpConn drops the connection without an answer.
func hangUpConn(w http.ResponseWriter) {
	if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
		_ = conn.Close()
	}
}
