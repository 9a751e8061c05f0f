package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications"
)

func TestCountElements(t *testing.T) {
	for _, data := range []string{
		`[]`, ` [ ] `, `[1]`, `[1,2,3]`, `[{}]`, `[{},{}]`, `[[],[1,2],{"a":[3,4]}]`,
		`["a,b","c\",d","\\",","]`, `[{"x":"]"},"[",{"y":"}"}]`, "[\n {\"id\": \"a\"},\n {\"id\": \"b\"}\n]",
		`[null,true,false,-1.5e3]`,
	} {
		t.Run(data, func(t *testing.T) {
			var elems []json.RawMessage
			require.NoError(t, json.Unmarshal([]byte(data), &elems))
			assert.Equal(t, len(elems), countElements([]byte(data), 100))
		})
	}
	for _, data := range []string{`null`, `{}`, `{"events":[1,2]}`, `"[1,2]"`, `3`} {
		assert.Zero(t, countElements([]byte(data), 100), data)
	}
	assert.Equal(t, 3, countElements([]byte(`[1,2,3,4,5,6]`), 2), "limit+1 once over the limit")
	assert.Equal(t, 2, countElements([]byte(`[1,2]`), 2))
}

// A request may carry MaxEvents events and no more: more is answered 413
// (a regnotify endpoint then sends smaller batches), in every dialect that
// carries a list, before the events are decoded: a body of tiny events
// costs no more memory than a few times its size.
func TestHandlerCapsEvents(t *testing.T) {
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprint("e", i)
		}
		return out
	}
	batch := func(ids []string) []byte {
		var b strings.Builder
		b.WriteString("[")
		for i, id := range ids {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"specversion":"1.0","id":%q,"source":"/r","type":"t","data":{"id":%q}}`, id, id)
		}
		b.WriteString("]")
		return []byte(b.String())
	}
	tests := []struct {
		name        string
		contentType string
		body        []byte
		want        int
	}{
		{"envelope of MaxEvents", notifications.EventsMediaType, envelope(t, ids(MaxEvents)...), http.StatusOK},
		{"envelope of one more", notifications.EventsMediaType, envelope(t, ids(MaxEvents+1)...), http.StatusRequestEntityTooLarge},
		{"batch of MaxEvents", notifications.CloudEventsBatchMediaType, batch(ids(MaxEvents)), http.StatusOK},
		{"batch of one more", notifications.CloudEventsBatchMediaType, batch(ids(MaxEvents + 1)), http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			r := newRequest(t, tt.body, time.Now())
			r.Header.Set("Content-Type", tt.contentType)
			resp := serve(New(Config{}, rec.handle), r)
			assert.Equal(t, tt.want, resp.StatusCode)
			handled := len(rec.ids())
			if tt.want == http.StatusOK {
				assert.Equal(t, MaxEvents, handled)
			} else {
				assert.Zero(t, handled)
			}
		})
	}

	t.Run("memory", func(t *testing.T) {
		for _, tt := range []struct{ contentType, open, close string }{
			{notifications.EventsMediaType, `{"events":[`, `]}`},
			{notifications.CloudEventsBatchMediaType, `[`, `]`},
		} {
			body := []byte(tt.open + strings.Repeat(`{},`, int(DefaultMaxBodyBytes-64)/3) + `{}` + tt.close)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			resp := serve(New(Config{}, (&recorder{}).handle), newRequestOfType(t, body, tt.contentType))
			runtime.ReadMemStats(&after)
			assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, tt.contentType)
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(8*DefaultMaxBodyBytes), "%s: bytes allocated for a body of %d", tt.contentType, len(body))
		}
	})
}

// newRequestOfType is newRequest, unsigned, with another Content-Type.
func newRequestOfType(t *testing.T, body []byte, contentType string) *http.Request {
	r := newRequest(t, bytes.Clone(body), time.Now())
	r.Header.Set("Content-Type", contentType)
	return r
}

// A handle func that can take no batch as large answers 413 through
// ErrTooManyEvents (a regnotify sender then sends smaller batches), and the
// events are free for the smaller ones.
func TestHandlerTooManyForTheApplication(t *testing.T) {
	var calls int
	h := New(Config{}, func(_ context.Context, events []notifications.Event) error {
		calls++
		if len(events) > 1 {
			return fmt.Errorf("app: %w", ErrTooManyEvents)
		}
		return nil
	})
	assert.Equal(t, http.StatusRequestEntityTooLarge, serve(h, newRequest(t, envelope(t, "a", "b"), time.Now())).StatusCode)
	assert.Equal(t, http.StatusOK, serve(h, newRequest(t, envelope(t, "a"), time.Now())).StatusCode)
	assert.Equal(t, http.StatusOK, serve(h, newRequest(t, envelope(t, "b"), time.Now())).StatusCode)
	assert.Equal(t, 3, calls)
}
