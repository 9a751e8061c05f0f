package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/manifest"
	"github.com/regnotify/notifications/receiver"
	"github.com/regnotify/notifications/storage"
	"github.com/regnotify/notifications/storage/inmemory"
)

func init() {
	commands["demo"] = command{
		summary: "push and pull through a listened in-memory registry and show the webhooks it sends",
		run:     runDemo,
	}
}

// runDemo wires the whole pipeline on loopback: an in-memory repository,
// Listen + NewBridge, a Broadcaster with one Endpoint, and a webhook
// receiver; it pushes and pulls a layer and a signed manifest, then prints
// what the receiver got (with the released formats' fields the bridge fills
// with WithReleasedFields) and the endpoint's metrics.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: regnotify demo\n\nRuns the library end to end on loopback and prints the events a webhook receiver got.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}

	rec := newDemoReceiver()
	srv := httptest.NewServer(rec)
	defer srv.Close()

	endpoint, err := notifications.OpenEndpoint("demo", srv.URL+"/events", notifications.EndpointConfig{
		Headers:   http.Header{"Authorization": {"Bearer demo-token"}},
		Timeout:   time.Second,
		Threshold: 3,
		Backoff:   50 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	broadcaster := notifications.NewBroadcaster(endpoint)
	request := notifications.RequestRecord{ID: "demo-request", Addr: "127.0.0.1:40000", Host: "registry.local", Method: "PUT", UserAgent: "regnotify-demo"}
	bridge := notifications.NewBridgeWithOptions(demoURLs{base: "http://registry.local"},
		notifications.SourceRecord{Addr: "registry.local:5000", InstanceID: "demo-instance"},
		notifications.ActorRecord{Name: "demo-user"}, request, broadcaster, notifications.WithReleasedFields())
	repo := notifications.Listen(inmemory.New().Repository("library/hello"), bridge)

	if err := demoTraffic(repo); err != nil {
		_ = broadcaster.Close()
		return err
	}
	if err := broadcaster.Close(); err != nil { // flushes every endpoint
		return fmt.Errorf("closing: %w", err)
	}

	requests := "requests"
	if rec.requestCount() == 1 {
		requests = "request"
	}
	fmt.Fprintf(stdout, "The receiver at %s got %d events in %d %s:\n", srv.URL, len(rec.events()), rec.requestCount(), requests)
	for _, e := range rec.events() {
		fmt.Fprintf(stdout, "  %-6s %-8s %-14s %-57s %4d B  %.19s…\n", e.Action, e.Target.Type, e.Target.Repository,
			e.Target.MediaType, e.Target.Size, e.Target.Digest)
	}
	var m notifications.EndpointMetrics
	endpoint.ReadMetrics(&m)
	fmt.Fprintf(stdout, "Endpoint %q metrics: events=%d successes=%d failures=%d errors=%d pending=%d statuses=%v\n",
		endpoint.Name(), m.Events, m.Successes, m.Failures, m.Errors, m.Pending, m.Statuses)
	return nil
}

// demoTraffic pushes a layer and a signed manifest, pulls both, and deletes
// the manifest.
func demoTraffic(repo storage.Repository) error {
	content := []byte("a layer of the demo image")
	dgst := digest.FromBytes(content)
	upload, err := repo.Layers().Upload()
	if err != nil {
		return err
	}
	if _, err := upload.Write(content); err != nil {
		return err
	}
	if _, err := upload.Finish(dgst); err != nil {
		return fmt.Errorf("pushing layer: %w", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	sm, err := manifest.Sign(&manifest.Manifest{
		Versioned:    manifest.Versioned{SchemaVersion: 1},
		Name:         repo.Name(),
		Tag:          "latest",
		Architecture: "amd64",
		FSLayers:     []manifest.FSLayer{{BlobSum: dgst}},
		History:      []manifest.History{{V1Compatibility: `{"id":"demo"}`}},
	}, key)
	if err != nil {
		return err
	}
	if err := repo.Manifests().Put("latest", sm); err != nil {
		return fmt.Errorf("pushing manifest: %w", err)
	}
	if _, err := repo.Manifests().Get("latest"); err != nil {
		return fmt.Errorf("pulling manifest: %w", err)
	}
	layer, err := repo.Layers().Fetch(dgst)
	if err != nil {
		return fmt.Errorf("pulling layer: %w", err)
	}
	_ = layer.Close()
	return repo.Manifests().Delete("latest")
}

// demoURLs builds the URLs events link to.
type demoURLs struct{ base string }

func (u demoURLs) BuildManifestURL(name, tag string) (string, error) {
	return fmt.Sprintf("%s/v2/%s/manifests/%s", u.base, name, tag), nil
}

func (u demoURLs) BuildBlobURL(name string, dgst digest.Digest) (string, error) {
	return fmt.Sprintf("%s/v2/%s/blobs/%s", u.base, name, dgst), nil
}

// demoReceiver is a webhook receiver that keeps every event it accepts.
type demoReceiver struct {
	mu       sync.Mutex
	received []notifications.Event
	requests int
}

func newDemoReceiver() *demoReceiver { return &demoReceiver{} }

func (d *demoReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body bytes.Buffer
	if _, err := io.Copy(&body, io.LimitReader(r.Body, 10<<20)); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	events, err := receiver.Decode(r.Header, body.Bytes())
	if err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, receiver.ErrUnsupportedMediaType) {
			code = http.StatusUnsupportedMediaType
		}
		http.Error(w, err.Error(), code)
		return
	}
	d.mu.Lock()
	d.received = append(d.received, events...)
	d.requests++
	d.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (d *demoReceiver) events() []notifications.Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]notifications.Event(nil), d.received...)
}

func (d *demoReceiver) requestCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.requests
}
