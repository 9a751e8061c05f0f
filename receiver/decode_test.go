package receiver

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regnotify/notifications"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// releasedEvent is an event as distribution v3 sends it.
func releasedEvent(id string) notifications.Event {
	var e notifications.Event
	e.ID = id
	e.Timestamp = time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("", 3600))
	e.Action = notifications.EventActionPush
	e.Target.MediaType = "application/vnd.oci.image.manifest.v1+json"
	e.Target.Digest = "sha256:0123"
	e.Target.Size, e.Target.Length = 528, 528
	e.Target.Repository = "acme/app"
	e.Target.URL = "http://registry/v2/acme/app/manifests/sha256:0123"
	e.Target.Tag = "v1"
	e.Target.References = []notifications.Descriptor{{MediaType: "application/vnd.oci.image.config.v1+json", Digest: "sha256:c", Size: 2},
		{MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Digest: "sha256:l", Size: 99, Annotations: map[string]string{"a": "b"},
			Platform: &notifications.Platform{Architecture: "arm64", OS: "linux", Variant: "v8"}}}
	e.Request = notifications.RequestRecord{ID: "r", Addr: "1.2.3.4:5", Host: "registry", Method: "PUT", UserAgent: "oras"}
	e.Actor.Name = "alice"
	e.Source = notifications.SourceRecord{Addr: "registry:5000", InstanceID: "i"}
	return e
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func cloudEvent(t *testing.T, e notifications.Event) string {
	t.Helper()
	b, err := notifications.AppendCloudEvent(nil, &e)
	require.NoError(t, err)
	return string(b)
}

// withoutAttribute returns the CloudEvent JSON ce without attribute name.
func withoutAttribute(t *testing.T, ce, name string) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(ce), &m))
	delete(m, name)
	return mustJSON(t, m)
}

func TestDecodeDialects(t *testing.T) {
	a, b := releasedEvent("a"), releasedEvent("b")
	b.Target.Type, b.Target.Name = notifications.EventTargetTypeBlob, "acme/app"
	binary := func(extra map[string]string) http.Header {
		h := http.Header{"Content-Type": {"application/json; charset=utf-8"}, "Ce-Specversion": {"1.0"}, "Ce-Id": {"a"},
			"Ce-Source": {"%2F%2Fregistry"}, "Ce-Type": {"com.github.regnotify.registry.manifest.push"}}
		for k, v := range extra {
			if v == "" {
				h.Del(k)
			} else {
				h.Set(k, v)
			}
		}
		return h
	}
	ct := func(v string) http.Header { return http.Header{"Content-Type": {v}} }
	noID := a
	noID.ID, noID.Timestamp = "", time.Time{}
	tests := []struct {
		name    string
		header  http.Header
		body    string
		want    []notifications.Event
		wantErr string // in the error, which is a 400 unless it says "unsupported media type"
	}{
		{"v1 envelope", ct(notifications.EventsMediaType), mustJSON(t, notifications.Envelope{Events: []notifications.Event{a, b}}), []notifications.Event{a, b}, ""},
		{"v2 envelope with charset", ct(notifications.EventsMediaTypeV2 + "; charset=utf-8"), mustJSON(t, notifications.Envelope{Events: []notifications.Event{a}}), []notifications.Event{a}, ""},
		{"structured", ct(notifications.CloudEventsMediaType), cloudEvent(t, a), []notifications.Event{a}, ""},
		{"batched", ct(notifications.CloudEventsBatchMediaType + "; charset=UTF-8"), "[" + cloudEvent(t, a) + "," + cloudEvent(t, b) + "]", []notifications.Event{a, b}, ""},
		{"binary", binary(nil), mustJSON(t, a), []notifications.Event{a}, ""},
		{"envelope with Ce- headers", binary(map[string]string{"Content-Type": notifications.EventsMediaType}), mustJSON(t, notifications.Envelope{Events: []notifications.Event{a, b}}), []notifications.Event{a, b}, ""},
		{"structured with Ce- headers", binary(map[string]string{"Content-Type": notifications.CloudEventsMediaType, "Ce-Id": "other"}), cloudEvent(t, b), []notifications.Event{b}, ""},
		{"batched with Ce- headers", binary(map[string]string{"Content-Type": notifications.CloudEventsBatchMediaType}), "[" + cloudEvent(t, a) + "," + cloudEvent(t, b) + "]", []notifications.Event{a, b}, ""},
		{"binary, ID and time from the attributes", binary(map[string]string{"Ce-Time": "2026-01-02T03:04:05.000000006%2B01:00"}), mustJSON(t, noID), []notifications.Event{a}, ""},
		{"data_base64", ct(notifications.CloudEventsMediaType),
			`{"specversion":"1.0","id":"a","source":"/","type":"t","data_base64":"` + base64.StdEncoding.EncodeToString([]byte(mustJSON(t, a))) + `"}`,
			[]notifications.Event{a}, ""},

		{"plain JSON", ct("application/json"), mustJSON(t, a), nil, "unsupported media type"},
		{"binary data not JSON", binary(map[string]string{"Content-Type": "text/plain"}), "x", nil, "unsupported media type"},
		{"v3 media type", ct("application/vnd.docker.distribution.events.v3+json"), "{}", nil, "unsupported media type"},
		{"no id", ct(notifications.CloudEventsMediaType), withoutAttribute(t, cloudEvent(t, a), "id"), nil, "without the required attribute id"},
		{"no source", ct(notifications.CloudEventsMediaType), withoutAttribute(t, cloudEvent(t, a), "source"), nil, "without the required attribute source"},
		{"no type", ct(notifications.CloudEventsMediaType), withoutAttribute(t, cloudEvent(t, a), "type"), nil, "without the required attribute type"},
		{"no specversion", ct(notifications.CloudEventsMediaType), withoutAttribute(t, cloudEvent(t, a), "specversion"), nil, "without the required attribute specversion"},
		{"binary without type", binary(map[string]string{"Ce-Type": ""}), mustJSON(t, a), nil, "without the required attribute type"},
		{"specversion 0.3", ct(notifications.CloudEventsMediaType), strings.Replace(cloudEvent(t, a), `"1.0"`, `"0.3"`, 1), nil, "specversion is not 1.0"},
		{"data not JSON", ct(notifications.CloudEventsMediaType), strings.Replace(cloudEvent(t, a), `"application/json"`, `"text/plain"`, 1), nil, "datacontenttype is not JSON"},
		{"no data", ct(notifications.CloudEventsMediaType), withoutAttribute(t, cloudEvent(t, a), "data"), nil, "without data"},
		{"data not an event", ct(notifications.CloudEventsMediaType), `{"specversion":"1.0","id":"a","source":"/","type":"t","data":[1]}`, nil, "not a registry event"},
		{"data an object of no event's fields", ct(notifications.CloudEventsMediaType), `{"specversion":"1.0","id":"a","source":"/","type":"t","data":{"hello":"world"}}`, nil, "not a registry event"},
		{"data empty object", ct(notifications.CloudEventsMediaType), `{"specversion":"1.0","id":"a","source":"/","type":"t","data":{}}`, nil, "not a registry event"},
		{"binary, an envelope as data", binary(nil), mustJSON(t, notifications.Envelope{Events: []notifications.Event{a, b}}), nil, "not a registry event"},
		{"attribute not a string", ct(notifications.CloudEventsMediaType), `{"specversion":"1.0","id":7,"source":"/","type":"t","data":{}}`, nil, "not a JSON CloudEvent"},
		{"bad time", binary(map[string]string{"Ce-Time": "yesterday"}), mustJSON(t, noID), nil, "time is not RFC 3339"},
		{"time in a zone JSON cannot hold", binary(map[string]string{"Ce-Time": "2024-01-01T00:00:00%2B24:00"}), mustJSON(t, noID), nil, "timestamp JSON cannot hold"},
		{"envelope, timestamp in a zone JSON cannot hold", ct(notifications.EventsMediaType), `{"events":[{"id":"a","timestamp":"2024-01-01T00:00:00+24:00"}]}`, nil, "timestamp JSON cannot hold"},
		{"empty batch", ct(notifications.CloudEventsBatchMediaType), "[]", nil, "no events"},
		{"batch not an array", ct(notifications.CloudEventsBatchMediaType), cloudEvent(t, a), nil, "not a JSON array"},
		{"bad second in batch", ct(notifications.CloudEventsBatchMediaType), "[" + cloudEvent(t, a) + "," + withoutAttribute(t, cloudEvent(t, b), "source") + "]", nil, "events[1]: CloudEvent without the required attribute source"},
		{"envelope event without id", ct(notifications.EventsMediaTypeV2), `{"events":[{"action":"push"}]}`, nil, "event without an id"},
		{"not UTF-8", ct(notifications.CloudEventsMediaType), "{\"id\":\"\xff\"}", nil, "not UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.header, []byte(tt.body))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Equal(t, strings.Contains(tt.wantErr, "unsupported"), errorsIsUnsupported(err))

				// The handler answers the same reason.
				r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
				r.Header = tt.header.Clone()
				resp := serve(New(Config{}, (&recorder{}).handle), r)
				body, _ := io.ReadAll(resp.Body)
				want := http.StatusBadRequest
				if errorsIsUnsupported(err) {
					want = http.StatusUnsupportedMediaType
				}
				assert.Equal(t, want, resp.StatusCode)
				assert.Contains(t, string(body), tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Len(t, got, len(tt.want))
			for i := range got {
				assert.Equal(t, mustJSON(t, tt.want[i]), mustJSON(t, got[i]), "every field decoded")
				assert.True(t, tt.want[i].Timestamp.Equal(got[i].Timestamp))
			}
		})
	}
}

func errorsIsUnsupported(err error) bool { return errors.Is(err, ErrUnsupportedMediaType) }

// TestCloudEventsEndpointToReceiver: a signed CloudEvents endpoint and the
// receiver agree, in structured and batched mode, retries included.
func TestCloudEventsEndpointToReceiver(t *testing.T) {
	secret := testSecret("cloudevents")
	var mu sync.Mutex
	var contentTypes []string
	rec := &recorder{fail: func(call int) error {
		if call == 2 {
			return fmt.Errorf("once")
		}
		return nil
	}}
	h := New(Config{Secrets: []string{secret}}, rec.handle)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		contentTypes = append(contentTypes, r.Header.Get("Content-Type"))
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e, err := notifications.OpenEndpoint(t.Name(), srv.URL, notifications.EndpointConfig{
		SigningSecrets: []string{secret}, WireFormat: notifications.FormatCloudEvents, MaxBatch: 1000,
		Timeout: 2 * time.Second, Threshold: 3, Backoff: time.Millisecond,
	})
	require.NoError(t, err)
	one := testEvents("one", 1)
	require.NoError(t, e.Write(one...))
	require.Eventually(t, func() bool { return len(rec.ids()) == 1 }, 5*time.Second, time.Millisecond)
	three := testEvents("three", 3)
	require.NoError(t, e.Write(three...))
	require.NoError(t, e.Close())
	assert.Equal(t, []string{"one-0", "three-0", "three-1", "three-2", "three-0", "three-1", "three-2"}, rec.ids(),
		"the batch failed once in handle and came again")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, notifications.CloudEventsMediaType, contentTypes[0])
	assert.Equal(t, notifications.CloudEventsBatchMediaType, contentTypes[len(contentTypes)-1])
	var m notifications.EndpointMetrics
	e.ReadMetrics(&m)
	assert.Equal(t, 4, m.Successes)
	assert.Equal(t, 3, m.Failures, "the batch answered 503 once")
}

// FuzzDecodeDialects: whatever the body, Decode in any dialect returns
// events that all have an ID within MaxEventIDBytes, or an error, never
// both, and never panics.
func FuzzDecodeDialects(f *testing.F) {
	a := releasedEvent("a")
	ce, _ := notifications.AppendCloudEvent(nil, &a)
	env, _ := json.Marshal(notifications.Envelope{Events: []notifications.Event{a}})
	event, _ := json.Marshal(a)
	for i, body := range [][]byte{env, ce, append(append([]byte("["), ce...), ']'), event} {
		f.Add(body, uint8(i))
	}
	headers := []http.Header{
		{"Content-Type": {notifications.EventsMediaTypeV2}},
		{"Content-Type": {notifications.CloudEventsMediaType}},
		{"Content-Type": {notifications.CloudEventsBatchMediaType}},
		{"Content-Type": {"application/json"}, "Ce-Specversion": {"1.0"}, "Ce-Id": {"x"}, "Ce-Source": {"/"}, "Ce-Type": {"t"}, "Ce-Time": {"2026-01-01T00:00:00Z"}},
	}
	f.Fuzz(func(t *testing.T, body []byte, dialect uint8) {
		events, err := Decode(headers[int(dialect)%len(headers)], body)
		if (err == nil) == (len(events) == 0) {
			t.Fatalf("events %d, error %v", len(events), err)
		}
		for _, e := range events {
			if e.ID == "" || len(e.ID) > MaxEventIDBytes {
				t.Fatalf("event ID %q accepted", e.ID)
			}
		}
	})
}
