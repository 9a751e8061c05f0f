package notifications_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/storage/inmemory"
)

// urls builds the links events carry; a registry has its own.
type urls struct{}

func (urls) BuildManifestURL(name, tag string) (string, error) {
	return "https://registry.example/v2/" + name + "/manifests/" + tag, nil
}

func (urls) BuildBlobURL(name string, dgst digest.Digest) (string, error) {
	return "https://registry.example/v2/" + name + "/blobs/" + dgst.String(), nil
}

// Example wires a repository to a webhook: every layer and manifest pushed,
// pulled or deleted through repo becomes an event POSTed to the endpoint.
func Example() {
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("received", r.Header.Get("Content-Type"))
	}))
	defer receiver.Close()

	endpoint, err := notifications.OpenEndpoint("ci", receiver.URL, notifications.EndpointConfig{
		Headers:   http.Header{"Authorization": {"Bearer <token>"}},
		Timeout:   time.Second,
		Threshold: 5,
		Backoff:   time.Second,
	})
	if err != nil {
		panic(err)
	}
	sink := notifications.NewBroadcaster(endpoint)

	listener := notifications.NewBridge(urls{},
		notifications.SourceRecord{Addr: "registry-1:5000", InstanceID: "a1b2"},
		notifications.ActorRecord{Name: "alice"},
		notifications.RequestRecord{ID: "req-1", Method: "PUT", UserAgent: "docker/1.6"},
		sink)
	repo := notifications.Listen(inmemory.New().Repository("library/hello"), listener)

	// Registry code uses repo as before; pushing a layer sends one event.
	upload, _ := repo.Layers().Upload()
	_, _ = upload.Write([]byte("layer"))
	if _, err := upload.Finish(digest.FromString("layer")); err != nil {
		panic(err)
	}
	_ = sink.Close() // delivers what is queued, then stops
	// Output: received application/vnd.docker.distribution.events.v1+json
}

// ExampleEndpoint_ReadMetrics shows the counters an endpoint keeps, by event.
func ExampleEndpoint_ReadMetrics() {
	receiver := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer receiver.Close()
	endpoint := notifications.NewEndpoint("metrics", receiver.URL, notifications.EndpointConfig{})

	var events [3]notifications.Event
	_ = endpoint.Write(events[:]...)
	_ = endpoint.Close()

	var m notifications.EndpointMetrics
	endpoint.ReadMetrics(&m)
	fmt.Println(m.Events, m.Successes, m.Statuses)
	// Output: 3 3 map[200 OK:3]
}
