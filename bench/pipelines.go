package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	v3 "github.com/distribution/distribution/v3/notifications"
	"github.com/distribution/reference"
	events "github.com/docker/go-events"
	"github.com/google/uuid"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	notifications "github.com/regnotify/notifications"
	"github.com/sirupsen/logrus"
)

// pipeline is one notification implementation under test, wired as a
// registry wires it: a broadcaster in front of one endpoint.
type pipeline interface {
	// name labels the pipeline in the table.
	name() string
	// open starts a broadcaster and endpoint posting to url.
	open(url string, timeout time.Duration, log io.Writer) sender
}

// sender is an opened pipeline.
type sender interface {
	// prepare builds n events, as the pipeline's bridge builds blob events,
	// ahead of the writes so that building is not measured.
	prepare(n int)
	// write writes the i-th prepared event, as the bridge does.
	write(i int) error
	// buildAndWrite builds the i-th event and writes it, keeping nothing.
	buildAndWrite(i int) error
	// close closes the broadcaster, flushing the endpoint.
	close() error
}

// What the events describe: the same registry, request shape and blob URLs
// for both pipelines.
const (
	registryHost = "registry.example.com"
	repoName     = "library/bench"
	userAgent    = "docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.8.0 os/linux arch/amd64 UpstreamClient(Docker-Client/27.3.1 \\(linux\\))"
	sourceAddr   = "registry-0.registry.svc:5000"
	layerMedia   = "application/vnd.docker.container.image.rootfs.diff+x-gtar"
)

// instanceID is the source record's instance, one per process as in a registry.
var instanceID = uuid.NewString()

// blobDigest returns a distinct digest for the i-th event.
func blobDigest(i int) digest.Digest { return digest.FromString("layer-" + strconv.Itoa(i)) }

func blobURL(name string, d digest.Digest) string {
	return "https://" + registryHost + "/v2/" + name + "/blobs/" + d.String()
}

// benchHeaders are sent with every POST by both pipelines, as a registry
// configured with a bearer token does.
func benchHeaders() http.Header {
	return http.Header{"Authorization": {"Bearer bench-token"}}
}

// --- this library ---

// ours is this library: a broadcaster in front of endpoints endpoints (0
// counts as 1), each with its events in memory or, with spool, in a spool
// directory of its own that close removes. burst, when set, fixes the
// events of every round (no calibration): a short burst on a fresh
// pipeline.
type ours struct {
	spool     bool
	endpoints int
	burst     int
}

func (p ours) name() string {
	name := "regnotify"
	if p.spool {
		name += " spool"
	} else {
		name += " memory"
	}
	if p.endpoints > 1 {
		name += fmt.Sprintf(" ×%d", p.endpoints)
	}
	if p.burst > 0 {
		name += " " + countLabel(p.burst) + " burst"
	}
	return name
}

type oursSender struct {
	b      *notifications.Broadcaster
	events []notifications.Event
	dir    string // the spool directory, removed by close
}

func (p ours) open(url string, timeout time.Duration, log io.Writer) sender {
	logger := logrus.New()
	logger.SetOutput(log)
	config := notifications.EndpointConfig{
		Headers: benchHeaders(),
		Timeout: timeout,
		Logger:  logger,
	}
	s := &oursSender{}
	if p.spool {
		dir, err := os.MkdirTemp("", "regnotify-bench-spool-")
		if err != nil {
			panic(err)
		}
		s.dir, config.SpoolDir = dir, dir
	}
	var sinks []notifications.Sink
	for i := range max(p.endpoints, 1) {
		ep, err := notifications.OpenEndpoint(fmt.Sprint("bench-", i), url, config)
		if err != nil {
			panic(err)
		}
		sinks = append(sinks, ep)
	}
	s.b = notifications.NewBroadcaster(sinks...)
	return s
}

// build mirrors the bridge's newEvent and layerEvent: a new random ID, the
// current time in UTC, the request, actor and source records, the blob
// target and its URL. Each event comes from its own registry request.
func (s *oursSender) prepare(n int) {
	s.events = make([]notifications.Event, n)
	for i := range s.events {
		s.events[i] = s.build(i)
	}
}

func (s *oursSender) build(i int) notifications.Event {
	d := blobDigest(i)
	ev := notifications.Event{
		ID:        uuid.NewString(),
		Timestamp: time.Now().UTC(),
		Action:    notifications.EventActionPush,
		Request: notifications.RequestRecord{
			ID: uuid.NewString(), Addr: "10.1.2.3:53422", Host: registryHost,
			Method: http.MethodPut, UserAgent: userAgent,
		},
		Actor:  notifications.ActorRecord{Name: "ci-bot"},
		Source: notifications.SourceRecord{Addr: sourceAddr, InstanceID: instanceID},
	}
	ev.Target.Type = notifications.EventTargetTypeBlob
	ev.Target.Name = repoName
	ev.Target.Digest = d
	ev.Target.URL = blobURL(repoName, d)
	return ev
}

// write passes one event per Write, as the bridge does: b.sink.Write(event).
func (s *oursSender) write(i int) error { return s.b.Write(s.events[i]) }

func (s *oursSender) buildAndWrite(i int) error { return s.b.Write(s.build(i)) }

func (s *oursSender) close() error {
	err := s.b.Close()
	if s.dir != "" {
		err = errors.Join(err, os.RemoveAll(s.dir))
	}
	return err
}

// --- distribution v3.1.2 ---

type upstream struct{}

func (upstream) name() string { return "distribution v3.1.2" }

type upstreamSender struct {
	b      *events.Broadcaster
	repo   reference.Named
	events []v3.Event
}

// open wires the endpoint as v3's registry/handlers/app.go configureEvents
// does: notifications.NewEndpoint with the configured timeout, threshold,
// backoff and headers, and go-events' broadcaster over the endpoints.
func (upstream) open(url string, timeout time.Duration, log io.Writer) sender {
	logrus.SetOutput(log) // v3 and go-events log through the standard logger
	ep := v3.NewEndpoint("bench", url, v3.EndpointConfig{
		Headers: benchHeaders(),
		Timeout: timeout,
	})
	repo, err := reference.WithName(repoName)
	if err != nil {
		panic(err)
	}
	return &upstreamSender{b: events.NewBroadcaster(ep), repo: repo}
}

// build mirrors v3's bridge createEvent and createBlobEvent: a V7 UUID, the
// current time, the descriptor, length, repository and the blob URL built
// from a canonical reference.
func (s *upstreamSender) prepare(n int) {
	s.events = make([]v3.Event, n)
	for i := range s.events {
		s.events[i] = s.build(i)
	}
}

func (s *upstreamSender) build(i int) v3.Event {
	d := blobDigest(i)
	desc := v1.Descriptor{MediaType: layerMedia, Digest: d, Size: 1 << 20}
	ev := &v3.Event{
		ID:        uuid.Must(uuid.NewV7()).String(),
		Timestamp: time.Now(),
		Action:    v3.EventActionPush,
	}
	ev.Source = v3.SourceRecord{Addr: sourceAddr, InstanceID: instanceID}
	ev.Actor = v3.ActorRecord{Name: "ci-bot"}
	ev.Request = v3.RequestRecord{
		ID: uuid.NewString(), Addr: "10.1.2.3:53422", Host: registryHost,
		Method: http.MethodPut, UserAgent: userAgent,
	}
	ev.Target.Descriptor = desc
	ev.Target.Length = desc.Size
	ev.Target.Repository = s.repo.Name()
	ref, err := reference.WithDigest(s.repo, desc.Digest)
	if err != nil {
		panic(err)
	}
	ev.Target.URL = blobURL(reference.Path(ref), ref.Digest())
	return *ev
}

// write passes the event as v3's bridge does, b.sink.Write(*event): the
// event is boxed into an events.Event by the call.
func (s *upstreamSender) write(i int) error { return s.b.Write(s.events[i]) }

func (s *upstreamSender) buildAndWrite(i int) error { return s.b.Write(s.build(i)) }

func (s *upstreamSender) close() error {
	err := s.b.Close()
	if errors.Is(err, events.ErrSinkClosed) {
		return nil
	}
	return err
}
