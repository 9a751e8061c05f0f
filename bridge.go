package notifications

import (
	"fmt"
	"io"
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
	ub       URLBuilder
	request  RequestRecord
	actor    ActorRecord
	source   SourceRecord
	sink     Sink
	released bool // also fill the released formats' target fields
}

// Media types the bridge writes in Target.MediaType with
// WithReleasedFields.
const (
	// SignedManifestMediaType is the media type of the schema-1 signed
	// manifests this package handles.
	SignedManifestMediaType = "application/vnd.docker.distribution.manifest.v1+prettyjws"

	// LayerMediaType is the media type written for layers, whose own type
	// the 2015 storage does not know.
	LayerMediaType = "application/octet-stream"
)

// A BridgeOption changes what the events of NewBridgeWithOptions carry.
type BridgeOption func(*bridge)

// WithReleasedFields makes the bridge fill, beside the 2015 fields, the
// target fields of the format registries have sent since April 2015, which
// most webhook consumers read: Repository (the repository name, as Name),
// MediaType (SignedManifestMediaType for manifests, LayerMediaType for
// layers), and Size and Length (the bytes of the manifest's signed payload,
// whose digest is Digest, or of the layer). Without it the bridge writes
// exactly the 2015 events.
func WithReleasedFields() BridgeOption {
	return func(b *bridge) { b.released = true }
}

var _ Listener = (*bridge)(nil)

// NewBridge returns a notification listener that writes records to sink,
// using the actor and source. Any urls populated in the events created by
// this bridge will be created using the URLBuilder.
//
// Each callback writes one event, with a new random ID and the current time,
// and returns the sink's error, or the error met building the event (a
// manifest whose payload cannot be read, a URL that cannot be built). The
// events are exactly the 2015 ones; NewBridgeWithOptions can add to them.
func NewBridge(ub URLBuilder, source SourceRecord, actor ActorRecord, request RequestRecord, sink Sink) Listener {
	return NewBridgeWithOptions(ub, source, actor, request, sink)
}

// NewBridgeWithOptions is NewBridge with options, such as
// WithReleasedFields, that add to its events. Without options it is
// NewBridge. With WithReleasedFields a callback also fails when the size of
// a layer cannot be read.
func NewBridgeWithOptions(ub URLBuilder, source SourceRecord, actor ActorRecord, request RequestRecord, sink Sink, opts ...BridgeOption) Listener {
	b := &bridge{ub: ub, request: request, actor: actor, source: source, sink: sink}
	for _, opt := range opts {
		opt(b)
	}
	return b
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
	if b.released {
		fillReleased(&event, SignedManifestMediaType, int64(len(payload)))
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
	if b.released {
		size, err := layerSize(layer)
		if err != nil {
			return fmt.Errorf("notifications: size of %s@%s: %w", repo.Name(), layer.Digest(), err)
		}
		fillReleased(&event, LayerMediaType, size)
	}
	return b.sink.Write(event)
}

// fillReleased sets the released formats' target fields of e.
func fillReleased(e *Event, mediaType string, size int64) {
	e.Target.Repository = e.Target.Name
	e.Target.MediaType = mediaType
	e.Target.Size = size
	e.Target.Length = size
}

// layerSize returns the length of layer, leaving its read offset where it
// was.
func layerSize(layer storage.Layer) (int64, error) {
	offset, err := layer.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	size, err := layer.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	if _, err := layer.Seek(offset, io.SeekStart); err != nil {
		return 0, err
	}
	return size, nil
}

func (b *bridge) newEvent(action string) Event {
	return Event{
		ID:        uuid.NewString(),
		Timestamp: time.Now(), // in the local zone, as the original wrote it
		Action:    action,
		Request:   b.request,
		Actor:     b.actor,
		Source:    b.source,
	}
}
