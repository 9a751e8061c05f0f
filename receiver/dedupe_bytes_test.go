package receiver

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/regnotify/notifications"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandlerRefusesLongEventIDs(t *testing.T) {
	tests := []struct {
		name string
		id   string
		want int
	}{
		{"at the limit", strings.Repeat("a", MaxEventIDBytes), http.StatusOK},
		{"one byte over", strings.Repeat("a", MaxEventIDBytes+1), http.StatusBadRequest},
		{"multi-byte runes count in bytes", strings.Repeat("é", MaxEventIDBytes/2+1), http.StatusBadRequest},
		{"2 MiB", strings.Repeat("x", 2<<20), http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			h := New(Config{}, rec.handle)
			resp := serve(h, newRequest(t, envelope(t, "ok", tt.id), time.Now()))
			assert.Equal(t, tt.want, resp.StatusCode)
			if tt.want != http.StatusOK {
				assert.Empty(t, rec.ids(), "no event of the envelope is handled")
				assert.Zero(t, h.(*handler).seen.bytes, "nothing is remembered")
			}
		})
	}
}

func TestIDSetBoundedByBytes(t *testing.T) {
	const keep = 10
	limit := int64(keep * (MaxEventIDBytes + idOverhead))
	s := newIDSet(1_000_000, limit)
	long := func(i int) string { return fmt.Sprintf("%0*d", MaxEventIDBytes, i) }
	for i := range 100 {
		fresh, busy := s.claim([]notifications.Event{{ID: long(i)}})
		require.False(t, busy)
		s.commit(fresh)
		assert.LessOrEqual(t, s.bytes, limit, "after %d IDs", i+1)
	}
	assert.Len(t, s.handled, keep, "the newest IDs that fit are remembered")
	assert.True(t, s.contains(long(99)))
	assert.True(t, s.contains(long(90)))
	assert.False(t, s.contains(long(89)), "older IDs are forgotten")

	// Short IDs cost less: more of them fit in the same bytes.
	for i := range 100 {
		fresh, _ := s.claim([]notifications.Event{{ID: fmt.Sprint(i)}})
		s.commit(fresh)
	}
	assert.Greater(t, len(s.handled), keep)
	assert.LessOrEqual(t, s.bytes, limit)
}

func TestHandlerDedupeBytesDefault(t *testing.T) {
	cfg := Config{}.withDefaults()
	assert.Equal(t, DefaultDedupeBytes, cfg.DedupeBytes)
	h := New(Config{DedupeBytes: 3 * (MaxEventIDBytes + idOverhead)}, (&recorder{}).handle).(*handler)
	for i := range 50 {
		id := fmt.Sprintf("%0*d", MaxEventIDBytes, i)
		require.Equal(t, http.StatusOK, serve(h, newRequest(t, envelope(t, id), time.Now())).StatusCode)
	}
	assert.LessOrEqual(t, h.seen.bytes, int64(3*(MaxEventIDBytes+idOverhead)))
	assert.Len(t, h.seen.handled, 3)
}
