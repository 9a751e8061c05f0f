package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/receiver"
	"github.com/regnotify/notifications/relay"
)

// Tap records the event objects a registry sends, exactly as it wrote them,
// that the handler behind it answered with 2xx.
type Tap struct {
	next http.Handler

	mu   sync.Mutex
	sent map[string]map[string]any // by event ID
	ids  []string                  // in the order they were first answered 2xx
}

// NewTap returns a tap in front of next.
func NewTap(next http.Handler) *Tap {
	return &Tap{next: next, sent: map[string]map[string]any{}}
}

// ServeHTTP passes the request to the handler behind and records its events
// when the answer is 2xx.
func (tp *Tap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	tp.next.ServeHTTP(rec, r)
	if rec.code/100 != 2 {
		return
	}
	var env struct{ Events []map[string]any }
	if json.Unmarshal(body, &env) != nil {
		return
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for _, e := range env.Events {
		if id, ok := e["id"].(string); ok {
			if _, seen := tp.sent[id]; !seen {
				tp.ids = append(tp.ids, id)
			}
			tp.sent[id] = e
		}
	}
}

// IDs returns the IDs of the events answered 2xx, in order.
func (tp *Tap) IDs() []string {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]string(nil), tp.ids...)
}

// Sent returns the event object with this ID as the registry wrote it.
func (tp *Tap) Sent(id string) map[string]any {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.sent[id]
}

// statusRecorder remembers the status a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// StartRelay runs a regnotify relay in-process whose one endpoint POSTs to
// webhookURL with cfg, behind a Tap, and returns the tap and the URL
// registries notify (".../events"). The relay is closed when the test ends.
func StartRelay(t testing.TB, webhookURL string, cfg notifications.EndpointConfig) (*Tap, string) {
	t.Helper()
	e, err := notifications.OpenEndpoint("webhook", webhookURL, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := relay.New(relay.Config{Targets: []relay.Target{{Endpoint: e}}})
	if err != nil {
		t.Fatal(err)
	}
	tap := NewTap(r.Handler())
	srv := httptest.NewServer(tap)
	t.Cleanup(func() {
		srv.Close()
		_ = r.Close()
	})
	return tap, srv.URL + relay.EventsPath
}

// CheckRelayed waits until every event the registry sent through tap has
// reached c, and checks that each arrived as the very object the registry
// sent (ReencodedDiff): the relay lost no field.
func CheckRelayed(t *testing.T, tap *Tap, c *Collector) {
	t.Helper()
	ids := tap.IDs()
	if len(ids) == 0 {
		t.Fatal("the registry sent no event through the relay")
	}
	byID := func(events []notifications.Event) map[string]notifications.Event {
		got := make(map[string]notifications.Event, len(events))
		for _, e := range events {
			got[e.ID] = e
		}
		return got
	}
	got := byID(c.WaitFor(t, fmt.Sprintf("the %d events the relay answered 2xx for", len(ids)), func(events []notifications.Event) bool {
		got := byID(events)
		for _, id := range ids {
			if _, ok := got[id]; !ok {
				return false
			}
		}
		return true
	}))
	for _, id := range ids {
		diff, err := ReencodedDiff(tap.Sent(id), got[id])
		if err != nil {
			t.Fatal(err)
		}
		if diff != "" {
			t.Errorf("event %s changed on its way through the relay:\n%s", id, diff)
		}
	}
}

// CheckRelayedScenario runs CheckEveryEvent on a registry that start runs
// with its notifications pointed at a relay (with a spool) in front of a
// Collector, then CheckRelayed: every event reaches the webhook as the
// registry sent it. The relay sends in the default envelope format.
func CheckRelayedScenario(t *testing.T, start func(t testing.TB, notifyURL string) *Client, s Scenario) {
	c := NewCollector(t, receiver.Config{})
	tap, url := StartRelay(t, c.URL, notifications.EndpointConfig{SpoolDir: t.TempDir()})
	reg := start(t, url)
	s.MediaType = notifications.EventsMediaType // what the relay's endpoint sends
	CheckEveryEvent(t, reg, c, s)
	CheckRelayed(t, tap, c)
}

// CheckRelayFilters runs a registry that start runs with its notifications
// pointed at a relay whose endpoint ignores blobs and the repositories
// under scratch/, pushes an image to scratch/tmp and then one to team/app,
// and checks that the webhook gets the manifest push of team/app and no
// other event: filters match the fields real registries send (repository,
// mediaType), not only the 2015 format's type and name.
func CheckRelayFilters(t *testing.T, start func(t testing.TB, notifyURL string) *Client) {
	c := NewCollector(t, receiver.Config{})
	tap, url := StartRelay(t, c.URL, notifications.EndpointConfig{Ignore: notifications.IgnoreConfig{
		TargetTypes:  []string{notifications.EventTargetTypeBlob},
		Repositories: []string{"scratch/*"},
	}})
	reg := start(t, url)
	reg.PushImage("scratch/tmp", "v1", OCIManifest)
	kept := reg.PushImage("team/app", "v1", OCIManifest) // the registry notifies in order: this one last
	events := c.WaitFor(t, "the manifest push of team/app", func(events []notifications.Event) bool {
		return len(Find(events, notifications.EventActionPush, OCIManifest, kept.Manifest.Digest)) > 0
	})
	for _, e := range events {
		if e.Target.Repository != "team/app" || notifications.CloudEventKind(&e) != notifications.EventTargetTypeManifest {
			t.Errorf("event %s (%s %s in %q) reached the webhook: the filters should have ignored it", e.ID, e.Action, e.Target.MediaType, e.Target.Repository)
		}
	}
	if sent := len(tap.IDs()); sent <= len(events) {
		t.Errorf("the registry sent the relay %d events, the webhook got %d: nothing was there to ignore", sent, len(events))
	}
}
