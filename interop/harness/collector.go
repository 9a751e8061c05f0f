package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/receiver"
)

// Collector is a regnotify receiver on loopback that records every event it
// accepts, and, for envelopes, every event object exactly as the sender
// wrote it.
type Collector struct {
	*httptest.Server

	handler http.Handler

	mu           sync.Mutex
	events       []notifications.Event
	raw          map[string]map[string]any // event objects as sent, by ID
	contentTypes []string
}

// NewCollector starts a collector with cfg; it stops when the test ends.
func NewCollector(t testing.TB, cfg receiver.Config) *Collector {
	c := &Collector{raw: map[string]map[string]any{}}
	c.handler = receiver.New(cfg, func(_ context.Context, events []notifications.Event) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.events = append(c.events, events...)
		return nil
	})
	c.Server = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.Close)
	return c
}

func (c *Collector) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	c.handler.ServeHTTP(rec, r)
	c.mu.Lock()
	c.contentTypes = append(c.contentTypes, r.Header.Get("Content-Type"))
	var env struct{ Events []map[string]any }
	if rec.Code == http.StatusOK && json.Unmarshal(body, &env) == nil {
		for _, e := range env.Events {
			if id, ok := e["id"].(string); ok {
				c.raw[id] = e
			}
		}
	}
	c.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// Events returns the events accepted so far, in order.
func (c *Collector) Events() []notifications.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.events)
}

// Raw returns the event object with this ID as the sender wrote it in an
// envelope, or nil.
func (c *Collector) Raw(id string) map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.raw[id]
}

// ContentTypes returns the Content-Type of every request, in order.
func (c *Collector) ContentTypes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.contentTypes)
}

// WaitFor polls until cond holds for the events accepted so far, failing
// the test after 20 seconds, and returns them.
func (c *Collector) WaitFor(t testing.TB, what string, cond func([]notifications.Event) bool) []notifications.Event {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		events := c.Events()
		if cond(events) {
			return events
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %d events arrived", what, len(events))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Find returns the events whose action and target media type are these
// and whose digest is dgst (any when empty).
func Find(events []notifications.Event, action, mediaType, dgst string) []notifications.Event {
	var out []notifications.Event
	for _, e := range events {
		if e.Action == action && e.Target.MediaType == mediaType && (dgst == "" || string(e.Target.Digest) == dgst) {
			out = append(out, e)
		}
	}
	return out
}

// ReencodedDiff encodes e with this library and compares the JSON object
// with raw, the object the registry sent. It returns "" when they are the
// same object, else both in JSON. distribution v3 writes the descriptor
// fields mediaType, digest and size of a target without omitempty (as "" or
// 0 on deletions); the library omits empty fields, so those zero values are
// left out of raw before comparing: they carry nothing.
func ReencodedDiff(raw map[string]any, e notifications.Event) (string, error) {
	ours, err := json.Marshal(e)
	if err != nil {
		return "", err
	}
	var got map[string]any
	if err := json.Unmarshal(ours, &got); err != nil {
		return "", err
	}
	want := dropV3Zeros(raw)
	if equalJSON(want, got) {
		return "", nil
	}
	sent, _ := json.Marshal(want)
	return "registry sent " + string(sent) + "\nlibrary wrote " + string(ours), nil
}

// dropV3Zeros returns a copy of raw without the zero descriptor fields of
// its target.
func dropV3Zeros(raw map[string]any) map[string]any {
	out := make(map[string]any, len(raw))
	for k, v := range raw {
		out[k] = v
	}
	target, ok := raw["target"].(map[string]any)
	if !ok {
		return out
	}
	t := make(map[string]any, len(target))
	for k, v := range target {
		if (k == "mediaType" || k == "digest") && v == "" || k == "size" && v == float64(0) {
			continue
		}
		t[k] = v
	}
	out["target"] = t
	return out
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a) // encoding/json sorts map keys
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
