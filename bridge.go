package notifications

import (
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/opencontainers/go-digest"
	"github.com/regnotify/notifications/manifest"
	"github.com/regnotify/notifications/storage"
)

// URLBuilder builds the URLs that events link to on this registry instance.
type URLBuilder interface {
	// BuildManifestURL returns the URL of the manifest tagged tag in the
	// repository name.
	BuildManifestURL(name, tag string) (string, error)

	// BuildBlobURL returns the URL of the blob dgst in the repository name.
	BuildBlobURL(name string, dgst digest.Digest) (string, error)
}

// bridge turns listener callbacks into events written to a sink.
type bridge struct {
	ub      URLBuilder
	request RequestRecord
	actor   ActorRecord
	source  SourceRecord
	sink    Sink
}

var _ Listener = (*bridge)(nil)

// NewBridge returns a notification listener that writes records to sink,
// using the actor and source. Any urls populated in the events created by
// this bridge will be created using the URLBuilder.
//
// Each callback writes one event, with a new random ID and the current time,
// and returns the sink's error, or the error met building the event (a
// manifest whose payload cannot be read, a URL that cannot be built).
func NewBridge(ub URLBuilder, source SourceRecord, actor ActorRecord, request RequestRecord, sink Sink) Listener {
	return &bridge{ub: ub, request: request, actor: actor, source: source, sink: sink}
}

// NewRequestRecord builds a RequestRecord for use in NewBridge from an
// http.Request, associating it with a request id.
func NewRequestRecord(id string, r *http.Request) RequestRecord {
	return RequestRecord{
		ID:        id,
		Addr:      r.RemoteAddr,
		Host:      r.Host,
		Method:    r.Method,
		UserAgent: r.UserAgent(),
	}
}

func (b *bridge) ManifestPushed(repo storage.Repository, sm *manifest.SignedManifest) error {
	return b.manifestEvent(EventActionPush, repo, sm)
}

func (b *bridge) ManifestPulled(repo storage.Repository, sm *manifest.SignedManifest) error {
	return b.manifestEvent(EventActionPull, repo, sm)
}

func (b *bridge) ManifestDeleted(repo storage.Repository, sm *manifest.SignedManifest) error {
	return b.manifestEvent(EventActionDelete, repo, sm)
}

func (b *bridge) LayerPushed(repo storage.Repository, layer storage.Layer) error {
	return b.layerEvent(EventActionPush, repo, layer)
}

func (b *bridge) LayerPulled(repo storage.Repository, layer storage.Layer) error {
	return b.layerEvent(EventActionPull, repo, layer)
}

func (b *bridge) LayerDeleted(repo storage.Repository, layer storage.Layer) error {
	return b.layerEvent(EventActionDelete, repo, layer)
}

// manifestEvent writes an event for sm. Its digest is that of the signed
// payload, and its URL the tag URL in repo.
func (b *bridge) manifestEvent(action string, repo storage.Repository, sm *manifest.SignedManifest) error {
	payload, err := sm.Payload()
	if err != nil {
		return fmt.Errorf("notifications: manifest %s:%s: %w", repo.Name(), sm.Tag, err)
	}
	event := b.newEvent(action)
	event.Target.Type = EventTargetTypeManifest
	event.Target.Name = repo.Name()
	event.Target.Tag = sm.Tag
	event.Target.Digest = digest.FromBytes(payload)
	if event.Target.URL, err = b.ub.BuildManifestURL(repo.Name(), sm.Tag); err != nil {
		return fmt.Errorf("notifications: manifest URL for %s:%s: %w", repo.Name(), sm.Tag, err)
	}
	return b.sink.Write(event)
}

// layerEvent writes an event for layer, linking to its blob URL in repo.
func (b *bridge) layerEvent(action string, repo storage.Repository, layer storage.Layer) error {
	event := b.newEvent(action)
	event.Target.Type = EventTargetTypeBlob
	event.Target.Name = repo.Name()
	event.Target.Digest = layer.Digest()
	var err error
	if event.Target.URL, err = b.ub.BuildBlobURL(repo.Name(), layer.Digest()); err != nil {
		return fmt.Errorf("notifications: blob URL for %s@%s: %w", repo.Name(), layer.Digest(), err)
	}
	return b.sink.Write(event)
}

func (b *bridge) newEvent(action string) Event {
	return Event{
		ID:        uuid.NewString(),
		Timestamp: time.Now().UTC(),
		Action:    action,
		Request:   b.request,
		Actor:     b.actor,
		Source:    b.source,
	}
}
