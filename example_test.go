package notifications_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
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

// ExampleFinished acknowledges each event once every endpoint is done with
// it, as a relay acknowledges the message an event came from: delivered,
// ignored, or given up (then it went to the dead letter, and Err says why).
// The relay counts the endpoints before it writes the event, since an
// endpoint may finish it before Write returns.
func ExampleFinished() {
	ok := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer ok.Close()
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnprocessableEntity)
	}))
	defer refusing.Close()

	var mu sync.Mutex
	waiting := map[string]int{} // event ID → endpoints not done with it
	var acked []string
	onFinished := func(f notifications.Finished) { // must not block
		mu.Lock()
		defer mu.Unlock()
		for _, e := range f.Events {
			switch {
			case f.Delivered():
				fmt.Printf("%s: %s delivered after %d attempt(s)\n", f.Endpoint, e.ID, f.Attempts)
			case f.Ignored:
				fmt.Printf("%s: %s ignored\n", f.Endpoint, e.ID)
			case errors.Is(f.Err, notifications.ErrRejected):
				fmt.Printf("%s: %s refused\n", f.Endpoint, e.ID)
			}
			if waiting[e.ID]--; waiting[e.ID] == 0 {
				acked = append(acked, e.ID) // here a relay would ack the message
			}
		}
	}

	a, _ := notifications.OpenEndpoint("a", ok.URL, notifications.EndpointConfig{OnFinished: onFinished})
	b, _ := notifications.OpenEndpoint("b", refusing.URL, notifications.EndpointConfig{
		Threshold:  1,
		Ignore:     notifications.IgnoreConfig{Actions: []string{notifications.EventActionPull}},
		OnFinished: onFinished,
	})
	sink := notifications.NewBroadcaster(a, b)

	events := []notifications.Event{
		{ID: "pull-1", Action: notifications.EventActionPull},
		{ID: "push-1", Action: notifications.EventActionPush},
	}
	mu.Lock()
	for _, e := range events {
		waiting[e.ID] = 2 // two endpoints
	}
	mu.Unlock()
	_ = sink.Write(events...)
	_ = sink.Close()

	slices.Sort(acked)
	fmt.Println("acked:", acked)
	// Unordered output:
	// a: pull-1 delivered after 1 attempt(s)
	// a: push-1 delivered after 1 attempt(s)
	// b: pull-1 ignored
	// b: push-1 refused
	// acked: [pull-1 push-1]
}
