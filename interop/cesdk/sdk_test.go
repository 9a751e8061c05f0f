package cesdk

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/interop/harness"
	"github.com/regnotify/notifications/receiver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sampleEvents returns a 2015-format event and a released-format one.
func sampleEvents(prefix string) []notifications.Event {
	var seed notifications.Event
	seed.ID = prefix + "-seed"
	seed.Timestamp = time.Date(2026, 12, 1, 15, 4, 5, 123456789, time.UTC)
	seed.Action = notifications.EventActionPush
	seed.Target.Type, seed.Target.Name, seed.Target.Tag = notifications.EventTargetTypeManifest, "library/hello", "latest"
	seed.Target.Digest = "sha256:0123"
	seed.Target.URL = "http://registry/v2/library/hello/manifests/latest"
	seed.Request = notifications.RequestRecord{ID: "req", Method: "PUT", UserAgent: "docker/1.6 <&>"}
	seed.Actor.Name = "alice"
	seed.Source = notifications.SourceRecord{Addr: "registry-1:5000", InstanceID: "9f6c"}

	released := seed
	released.ID = prefix + "-released"
	released.Action = notifications.EventActionPull
	released.Target.Type, released.Target.Name = "", ""
	released.Target.Repository, released.Target.MediaType = "acme/app", harness.OCIIndex
	released.Target.Size, released.Target.Length = 312, 312
	released.Target.References = []notifications.Descriptor{{MediaType: harness.OCIManifest, Digest: "sha256:aa", Size: 618,
		Platform: &notifications.Platform{Architecture: "arm", OS: "linux", Variant: "v7"}}}
	return []notifications.Event{seed, released}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// TestSDKReceivesEndpointCloudEvents: the SDK parses what a CloudEvents
// endpoint sends, a batch of one with its HTTP receiver (structured mode),
// a larger batch with its batch reader.
func TestSDKReceivesEndpointCloudEvents(t *testing.T) {
	var mu sync.Mutex
	var got []cloudevents.Event
	var contentTypes []string
	p, err := cloudevents.NewHTTP()
	require.NoError(t, err)
	sdkReceiver, err := cloudevents.NewHTTPReceiveHandler(context.Background(), p, func(e cloudevents.Event) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, e)
	})
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		contentTypes = append(contentTypes, r.Header.Get("Content-Type"))
		mu.Unlock()
		if !cehttp.IsHTTPBatch(r.Header) {
			sdkReceiver.ServeHTTP(w, r)
			return
		}
		batch, err := cehttp.NewEventsFromHTTPRequest(r)
		if err != nil {
			t.Errorf("SDK batch reader: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, batch...)
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)

	e, err := notifications.OpenEndpoint("sdk", srv.URL, notifications.EndpointConfig{WireFormat: notifications.FormatCloudEvents, Timeout: 5 * time.Second})
	require.NoError(t, err)
	single, batch := sampleEvents("single")[:1], sampleEvents("batch")
	require.NoError(t, e.Write(single...))
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 }, 10*time.Second, time.Millisecond)
	require.NoError(t, e.Write(batch...))
	require.NoError(t, e.Close())

	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{notifications.CloudEventsMediaType, notifications.CloudEventsBatchMediaType}, contentTypes)
	sent := append(single, batch...)
	require.Len(t, got, len(sent))
	for i, ce := range got {
		want := sent[i]
		require.NoError(t, ce.Validate())
		assert.Equal(t, "1.0", ce.SpecVersion())
		assert.Equal(t, want.ID, ce.ID())
		assert.Equal(t, notifications.CloudEventSource(want.Source), ce.Source())
		assert.Equal(t, notifications.CloudEventType(&want), ce.Type())
		assert.Equal(t, notifications.CloudEventSubject(&want), ce.Subject())
		assert.True(t, want.Timestamp.Equal(ce.Time()), "time %v", ce.Time())
		assert.Equal(t, "application/json", ce.DataContentType())
		var data notifications.Event
		require.NoError(t, ce.DataAs(&data))
		assert.Equal(t, jsonOf(t, want), jsonOf(t, data), "the data is the event")
	}
	assert.Equal(t, "com.github.regnotify.registry.manifest.push", got[0].Type())
	assert.Equal(t, "library/hello:latest", got[0].Subject())
	assert.Equal(t, "//registry-1:5000/9f6c", got[0].Source())
	assert.Equal(t, "com.github.regnotify.registry.manifest.pull", got[2].Type(), "an index is a manifest")
}

// sdkEvent makes the CloudEvent the SDK would for e.
func sdkEvent(t *testing.T, e notifications.Event) cloudevents.Event {
	ce := cloudevents.NewEvent()
	ce.SetID(e.ID)
	ce.SetSource(notifications.CloudEventSource(e.Source))
	ce.SetType(notifications.CloudEventType(&e))
	ce.SetSubject(notifications.CloudEventSubject(&e))
	ce.SetTime(e.Timestamp)
	require.NoError(t, ce.SetData(cloudevents.ApplicationJSON, e))
	return ce
}

// TestReceiverDecodesSDKCloudEvents: the receiver decodes what the SDK
// sends in binary, structured and batched mode; a data event without an ID
// takes the CloudEvent's.
func TestReceiverDecodesSDKCloudEvents(t *testing.T) {
	c := harness.NewCollector(t, receiver.Config{})
	client, err := cloudevents.NewClientHTTP()
	require.NoError(t, err)
	ctx := cloudevents.ContextWithTarget(context.Background(), c.URL)

	binary, structured, batch := sampleEvents("binary"), sampleEvents("structured"), sampleEvents("batch")
	for _, e := range binary {
		require.True(t, cloudevents.IsACK(client.Send(ctx, sdkEvent(t, e))))
	}
	for _, e := range structured {
		require.True(t, cloudevents.IsACK(client.Send(cloudevents.WithEncodingStructured(ctx), sdkEvent(t, e))))
	}
	req, err := cehttp.NewHTTPRequestFromEvents(ctx, c.URL, []cloudevents.Event{sdkEvent(t, batch[0]), sdkEvent(t, batch[1])})
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	anonymous := sampleEvents("anonymous")[0]
	ce := sdkEvent(t, anonymous)
	anonymous.ID = ""
	require.NoError(t, ce.SetData(cloudevents.ApplicationJSON, anonymous))
	require.True(t, cloudevents.IsACK(client.Send(ctx, ce)))
	anonymous.ID = ce.ID()

	want := append(append(append(binary, structured...), batch...), anonymous)
	got := c.Events()
	require.Len(t, got, len(want))
	for i := range want {
		assert.Equal(t, jsonOf(t, want[i]), jsonOf(t, got[i]))
	}
	cts := c.ContentTypes()
	assert.Contains(t, cts[0], "application/json", "binary mode")
	assert.Contains(t, cts[2], notifications.CloudEventsMediaType, "structured mode")
	assert.Equal(t, notifications.CloudEventsBatchMediaType, cts[4])
}
