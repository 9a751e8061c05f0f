package notifications

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regnotify/notifications/internal/stdwebhooks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cloudEventJSON is what AppendCloudEvent must write, as encoding/json
// writes it.
type cloudEventJSON struct {
	SpecVersion     string     `json:"specversion"`
	ID              string     `json:"id"`
	Source          string     `json:"source"`
	Type            string     `json:"type"`
	Subject         string     `json:"subject,omitempty"`
	Time            *time.Time `json:"time,omitempty"`
	DataContentType string     `json:"datacontenttype"`
	Data            *Event     `json:"data"`
}

func wantCloudEvent(e *Event) cloudEventJSON {
	ce := cloudEventJSON{SpecVersion: "1.0", ID: e.ID, Source: CloudEventSource(e.Source), Type: CloudEventType(e),
		Subject: CloudEventSubject(e), DataContentType: "application/json", Data: e}
	if !e.Timestamp.IsZero() {
		ce.Time = &e.Timestamp
	}
	return ce
}

func TestAppendCloudEventMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	// 1,000 random batches cover every block of cloudevents.go and encode.go
	// that 300 do; FuzzAppendCloudEvent explores further.
	for range 1000 {
		events := make([]Event, 1+r.IntN(3))
		want := make([]cloudEventJSON, len(events))
		for i := range events {
			events[i] = randomEvent(r)
			if events[i].ID == "" {
				events[i].ID = "id"
			}
			want[i] = wantCloudEvent(&events[i])
		}
		wantJSON, err := json.Marshal(want)
		if err != nil {
			_, gotErr := AppendCloudEventBatch(nil, events)
			require.Error(t, gotErr, "a timestamp encoding/json refuses")
			continue
		}
		got, err := AppendCloudEventBatch([]byte("x"), events)
		require.NoError(t, err)
		require.Equal(t, string(wantJSON), string(got[1:]))
		one, err := AppendCloudEvent(nil, &events[0])
		require.NoError(t, err)
		wantOne, _ := json.Marshal(want[0])
		require.Equal(t, string(wantOne), string(one))
	}
	_, err := AppendCloudEvent(nil, &Event{})
	assert.ErrorIs(t, err, errNoID)
}

func TestCloudEventAttributes(t *testing.T) {
	manifest := func(e *Event) { e.Target.MediaType = "application/vnd.oci.image.manifest.v1+json" }
	tests := []struct {
		name                  string
		edit                  func(*Event)
		wantType, wantSubject string
		wantSource            string
		source                SourceRecord
	}{
		{"seed manifest", func(e *Event) { *e = goldenEvent() },
			"com.github.regnotify.registry.manifest.push", "library/test:latest", "//hostname.local:port/instance-id", SourceRecord{Addr: "hostname.local:port", InstanceID: "instance-id"}},
		{"released manifest", func(e *Event) {
			manifest(e)
			e.Action = "pull"
			e.Target.Repository = "r"
			e.Target.Digest = "sha256:1"
		},
			"com.github.regnotify.registry.manifest.pull", "r", "//reg:5000", SourceRecord{Addr: "reg:5000"}},
		{"released blob", func(e *Event) { e.Target.MediaType = "application/octet-stream"; e.Target.Repository = "r" },
			"com.github.regnotify.registry.blob.push", "r", "/i%20d", SourceRecord{InstanceID: "i d"}},
		{"blob by URL", func(e *Event) { e.Target.URL = "http://r/v2/a/blobs/sha256:1"; e.Target.Name = "a" },
			"com.github.regnotify.registry.blob.push", "a", "/", SourceRecord{}},
		{"mount", func(e *Event) { e.Action = EventActionMount; e.Target.MediaType = "x"; e.Target.FromRepository = "b" },
			"com.github.regnotify.registry.blob.mount", "", "/", SourceRecord{}},
		{"tag deleted", func(e *Event) { e.Action = "delete"; e.Target.Repository = "r"; e.Target.Tag = "v1" },
			"com.github.regnotify.registry.tag.delete", "r:v1", "/", SourceRecord{}},
		{"repository deleted", func(e *Event) { e.Action = "delete"; e.Target.Repository = "r" },
			"com.github.regnotify.registry.repository.delete", "r", "/", SourceRecord{}},
		{"deleted by digest", func(e *Event) { e.Action = "delete"; e.Target.Repository = "r"; e.Target.Digest = "sha256:1" },
			"com.github.regnotify.registry.content.delete", "r", "/", SourceRecord{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Event{Action: EventActionPush}
			tt.edit(&e)
			e.Source = tt.source
			assert.Equal(t, tt.wantType, CloudEventType(&e))
			assert.Equal(t, tt.wantSubject, CloudEventSubject(&e))
			assert.Equal(t, tt.wantSource, CloudEventSource(e.Source))
		})
	}
}

// formatReceiver decodes what an endpoint sends in either format, refuses
// (400) every batch holding an event with the ID "poison", and records the
// accepted events, the batch sizes, content types and signatures.
type formatReceiver struct {
	*httptest.Server
	t       *testing.T
	respond func(n int) int

	mu           sync.Mutex
	requests     int
	batches      []int
	contentTypes []string
	accepted     []Event
	bodies       [][]byte
	headers      []http.Header
}

func newFormatReceiver(t *testing.T, respond func(n int) int) *formatReceiver {
	fr := &formatReceiver{t: t, respond: respond}
	fr.Server = httptest.NewServer(http.HandlerFunc(fr.serve))
	t.Cleanup(fr.Close)
	return fr
}

// decodeAny returns the events of a body of any Format.
func decodeAny(contentType string, body []byte) ([]Event, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, err
	}
	switch mt {
	case EventsMediaType:
		var env Envelope
		err := json.Unmarshal(body, &env)
		return env.Events, err
	case CloudEventsMediaType:
		var ce struct{ Data Event }
		err := json.Unmarshal(body, &ce)
		return []Event{ce.Data}, err
	case CloudEventsBatchMediaType:
		var batch []struct{ Data Event }
		err := json.Unmarshal(body, &batch)
		events := make([]Event, len(batch))
		for i := range batch {
			events[i] = batch[i].Data
		}
		return events, err
	}
	return nil, fmt.Errorf("content type %q", contentType)
}

func (fr *formatReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil { // the sender gave up mid-request (Close ran out of time)
		return
	}
	events, err := decodeAny(r.Header.Get("Content-Type"), body)
	if err != nil {
		fr.t.Errorf("receiver: %v", err)
		w.WriteHeader(http.StatusUnsupportedMediaType)
		return
	}
	fr.mu.Lock()
	fr.requests++
	n := fr.requests
	fr.batches = append(fr.batches, len(events))
	fr.contentTypes = append(fr.contentTypes, r.Header.Get("Content-Type"))
	fr.bodies = append(fr.bodies, body)
	fr.headers = append(fr.headers, r.Header.Clone())
	fr.mu.Unlock()
	code := http.StatusOK
	if fr.respond != nil {
		code = fr.respond(n)
	}
	fr.mu.Lock()
	defer fr.mu.Unlock()
	for _, e := range events {
		if e.ID == "poison" {
			code = http.StatusBadRequest
		}
	}
	if code == http.StatusOK {
		fr.accepted = append(fr.accepted, events...)
	}
	w.WriteHeader(code)
}

func (fr *formatReceiver) acceptedIDs() []string {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return ids(fr.accepted)
}

var formats = []Format{"", FormatEnvelope, FormatCloudEvents}

// TestEndpointFormats runs signing, retries, batching, the bisection of a
// rejected batch, the spool and metrics in every Format.
func TestEndpointFormats(t *testing.T) {
	for _, format := range formats {
		t.Run(string(format)+"/signed batches", func(t *testing.T) {
			release := make(chan struct{})
			fr := newFormatReceiver(t, func(n int) int {
				if n == 1 {
					<-release // hold the first POST while more blocks queue
				}
				if n == 2 || n == 3 {
					return http.StatusServiceUnavailable
				}
				return http.StatusOK
			})
			secret := testSecret("formats")
			config := fastConfig()
			config.WireFormat = format
			config.SigningSecrets = []string{secret}
			e, err := OpenEndpoint("formats", fr.URL, config)
			require.NoError(t, err)
			require.NoError(t, e.Write(testEvents("first", 1)...))
			eventually(t, func() bool { fr.mu.Lock(); defer fr.mu.Unlock(); return fr.requests == 1 }, "first POST out")
			for i := range 3 {
				require.NoError(t, e.Write(testEvents(fmt.Sprint("b", i), 2)...))
			}
			close(release)
			require.NoError(t, e.Close())

			assert.Equal(t, []string{"first-0", "b0-0", "b0-1", "b1-0", "b1-1", "b2-0", "b2-1"}, fr.acceptedIDs())
			assert.Equal(t, []int{1, 6, 6, 6}, fr.batches, "the waiting blocks travel together, retried whole")
			single, batch := EventsMediaType, EventsMediaType
			if format == FormatCloudEvents {
				single, batch = CloudEventsMediaType, CloudEventsBatchMediaType
			}
			assert.Equal(t, []string{single, batch, batch, batch}, fr.contentTypes)
			for i, h := range fr.headers {
				assert.NoError(t, stdwebhooks.Verify(h, [][]byte{keyOf(t, secret)}, fr.bodies[i], time.Now(), time.Minute), "request %d", i)
			}
			assert.True(t, bytes.Equal(fr.bodies[1], fr.bodies[3]), "a retry sends the same bytes")
			var m EndpointMetrics
			e.ReadMetrics(&m)
			assert.Equal(t, 7, m.Events)
			assert.Equal(t, 7, m.Successes)
			assert.Equal(t, 12, m.Failures)
			assert.Equal(t, map[string]int{"200 OK": 7, "503 Service Unavailable": 12}, m.Statuses)
		})

		t.Run(string(format)+"/rejected event isolated", func(t *testing.T) {
			fr := newFormatReceiver(t, nil)
			dead := &fakeSink{}
			config := fastConfig()
			config.WireFormat = format
			config.DeadLetter = dead
			config.Logger = testLogger()
			e, err := OpenEndpoint("bisect", fr.URL, config)
			require.NoError(t, err)
			block := testEvents("ok", 8)
			block[5].ID = "poison"
			require.NoError(t, e.Write(block...))
			require.NoError(t, e.Close())
			assert.Equal(t, append(ids(block[:5]), ids(block[6:])...), fr.acceptedIDs())
			assert.Equal(t, []string{"poison"}, ids(dead.events()))
		})

		t.Run(string(format)+"/spool", func(t *testing.T) {
			config := fastConfig()
			config.WireFormat = format
			config.SpoolDir = t.TempDir()
			config.CloseTimeout = 20 * time.Millisecond
			config.Logger = testLogger()
			down := newFormatReceiver(t, func(int) int { return http.StatusServiceUnavailable })
			first, err := OpenEndpoint("spooled", down.URL, config)
			require.NoError(t, err)
			block := testEvents("spooled", 3)
			block[1].Target.Repository, block[1].Target.Size, block[1].Target.MediaType = "r", 42, "application/octet-stream"
			require.NoError(t, first.Write(block...))
			require.Error(t, first.Close(), "left in the spool")
			up := newFormatReceiver(t, nil)
			config.CloseTimeout = 10 * time.Second // an upper bound: Close returns once they are delivered
			second, err := OpenEndpoint("spooled", up.URL, config)
			require.NoError(t, err)
			require.NoError(t, second.Close())
			assert.Equal(t, ids(block), up.acceptedIDs())
			up.mu.Lock()
			defer up.mu.Unlock()
			require.Len(t, up.accepted, 3)
			assert.Equal(t, block[1].Target, up.accepted[1].Target, "released fields survive the spool")
		})
	}
}

func TestOpenEndpointRejectsUnknownFormat(t *testing.T) {
	config := fastConfig()
	config.WireFormat = "xml"
	_, err := OpenEndpoint("f", "http://127.0.0.1:1/", config)
	assert.ErrorIs(t, err, ErrInvalidConfig)
	assert.True(t, strings.Contains(err.Error(), `"xml"`))
}

func FuzzAppendCloudEvent(f *testing.F) {
	f.Add("id", "push", "library/hello", "latest", "application/vnd.oci.image.index.v1+json", "registry:5000", int64(12), int64(0))
	f.Add("\xff", "\u2028", "", "<&>", "", "", int64(-1), int64(1)<<40)
	f.Fuzz(func(t *testing.T, id, action, repo, tag, mediaType, addr string, size, nanos int64) {
		e := Event{ID: id, Action: action, Timestamp: time.Unix(0, nanos)}
		e.Target.Repository, e.Target.Tag, e.Target.MediaType, e.Target.Size = repo, tag, mediaType, size
		e.Target.References = []Descriptor{{MediaType: mediaType, Size: size, Annotations: map[string]string{tag: repo}}}
		e.Source.Addr = addr
		got, err := AppendCloudEvent([]byte("x"), &e)
		if id == "" {
			if err == nil {
				t.Fatal("an event without an ID became a CloudEvent")
			}
			return
		}
		want, wantErr := json.Marshal(wantCloudEvent(&e))
		if (err != nil) != (wantErr != nil) || err == nil && string(want) != string(got[1:]) {
			t.Fatalf("AppendCloudEvent %s (%v)\nencoding/json   %s (%v)", got, err, want, wantErr)
		}
	})
}
