package receiver

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/regnotify/notifications"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// README: "cfg := receiver.Config{...} // ... DedupeSize 100,000 ..." and
// "The IDs it remembers ... take at most ... `DedupeSize` (100,000)
// entries, the oldest forgotten first."
func TestDefaultDedupeSizeIs100000(t *testing.T) {
	require.Equal(t, 100_000, DefaultDedupeSize)
	for _, size := range []int{0, -1} {
		h := New(Config{DedupeSize: size}, (&recorder{}).handle).(*handler)
		assert.Equal(t, 100_000, h.cfg.DedupeSize, "DedupeSize %d", size)
		assert.Equal(t, 100_000, h.seen.size, "DedupeSize %d: the set the handler remembers with", size)
	}

	// A zero Config remembers the newest 100,000 IDs and forgets the one
	// before them. The IDs are committed to the handler's set directly (one
	// request of 100,001 events works too, but takes seconds under -race);
	// then a request shows which of them the handler passes on again.
	rec := &recorder{}
	h := New(Config{}, rec.handle).(*handler)
	ids := make([]string, DefaultDedupeSize+1)
	events := make([]notifications.Event, len(ids))
	for i := range ids {
		ids[i] = fmt.Sprintf("e%06d", i)
		events[i].ID = ids[i]
	}
	h.seen.commit(events)
	assert.Equal(t, 100_000, len(h.seen.handled), "IDs remembered") // not assert.Len: it would print the map
	assert.False(t, h.seen.contains(ids[0]), "the oldest ID is forgotten")
	assert.True(t, h.seen.contains(ids[1]), "the 100,000th newest ID is remembered")

	require.Equal(t, http.StatusOK, serve(h, newRequest(t, envelope(t, ids[0], ids[1], ids[len(ids)-1]), time.Now())).StatusCode)
	assert.Equal(t, [][]string{{ids[0]}}, rec.calls, "only the forgotten ID is handled again")
}

// README: "cfg := receiver.Config{Secrets: ...} // Tolerance 5m, ..." and
// 401 for a signature "outside the tolerance": a signature 4m59s old (or
// ahead) is accepted, one 5m01s old (or ahead) is refused.
func TestDefaultToleranceIsFiveMinutes(t *testing.T) {
	require.Equal(t, 5*time.Minute, DefaultTolerance)
	secret := testSecret("tolerance")
	tests := []struct {
		name   string
		offset time.Duration // signed at now + offset
		want   int
	}{
		{"4m59s old", -(4*time.Minute + 59*time.Second), http.StatusOK},
		{"5m01s old", -(5*time.Minute + time.Second), http.StatusUnauthorized},
		{"4m59s ahead", 4*time.Minute + 59*time.Second, http.StatusOK},
		{"5m01s ahead", 5*time.Minute + time.Second, http.StatusUnauthorized},
	}
	// A whole second and one just before the next: the header has whole
	// seconds only.
	for _, now := range []time.Time{time.Unix(1_750_000_000, 0), time.Unix(1_750_000_000, 999_999_999)} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/now+%dns", tt.name, now.Nanosecond()), func(t *testing.T) {
				body := envelope(t, "tol")
				rec := &recorder{}
				h := New(Config{Secrets: []string{secret}}, rec.handle).(*handler)
				require.Equal(t, DefaultTolerance, h.cfg.Tolerance)
				h.now = func() time.Time { return now }
				resp := serve(h, newRequest(t, body, now.Add(tt.offset), secret))
				assert.Equal(t, tt.want, resp.StatusCode)
				assert.Equal(t, tt.want == http.StatusOK, len(rec.ids()) > 0)

				// The same through a Verifier with the default tolerance.
				v, err := NewVerifier([]string{secret}, 0)
				require.NoError(t, err)
				err = v.Verify(newRequest(t, body, now.Add(tt.offset), secret).Header, body, now)
				if tt.want == http.StatusOK {
					assert.NoError(t, err)
				} else {
					assert.ErrorIs(t, err, ErrTimestamp)
				}
			})
		}
	}
}

// The README's numbers for the receiver, pinned as literals: a test that
// used the constants would follow a change that the README does not.
func TestReceiverLimitsAsTheREADMESays(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want int64
	}{
		{"body limit: 10 MiB", DefaultMaxBodyBytes, 10 << 20},
		{"dedupe memory: 16 MiB", DefaultDedupeBytes, 16 << 20},
		{"events a request: 10,000", MaxEvents, 10_000},
		{"event ID: 256 bytes", MaxEventIDBytes, 256},
		{"cost of an ID beyond its bytes: 64", idOverhead, 64},
		{"timestamp tolerance: 5 minutes", int64(DefaultTolerance), int64(5 * time.Minute)},
	} {
		assert.Equal(t, tc.want, tc.got, tc.name)
	}
}
