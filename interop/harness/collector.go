package harness

import (
	"bytes"
	"context"
	"encoding/json"
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

	tap *Tap // in front of the receiver: the objects as sent

	mu           sync.Mutex
	events       []notifications.Event
	contentTypes []string
}

// NewCollector starts a collector with cfg; it stops when the test ends.
func NewCollector(t testing.TB, cfg receiver.Config) *Collector {
	c := &Collector{}
	c.tap = NewTap(receiver.New(cfg, func(_ context.Context, events []notifications.Event) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.events = append(c.events, events...)
		return nil
	}))
	c.Server = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.Close)
	return c
}

func (c *Collector) serve(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.contentTypes = append(c.contentTypes, r.Header.Get("Content-Type"))
	c.mu.Unlock()
	c.tap.ServeHTTP(w, r)
}

// Events returns the events accepted so far, in order.
func (c *Collector) Events() []notifications.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.events)
}

// Raw returns the event object with this ID as the sender wrote it in an
// envelope, or nil.
func (c *Collector) Raw(id string) map[string]any { return c.tap.Sent(id) }

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
