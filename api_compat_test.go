package notifications_test

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/manifest"
	"github.com/regnotify/notifications/storage"
)

// The API of the 2015 package (shared/spec/notifications-godoc.txt), name by
// name with its exact signature: a change that breaks code written against
// it fails to compile here. Names and fields we added are allowed.

// Functions, each assigned to a variable of its declared type (assignment
// requires identical types, so a changed parameter or result fails).
var (
	_ func(repo storage.Repository, listener notifications.Listener) storage.Repository   = notifications.Listen
	_ func(sinks ...notifications.Sink) *notifications.Broadcaster                        = notifications.NewBroadcaster
	_ func(name, url string, config notifications.EndpointConfig) *notifications.Endpoint = notifications.NewEndpoint
	_ func(ub notifications.URLBuilder, source notifications.SourceRecord, actor notifications.ActorRecord,
		request notifications.RequestRecord, sink notifications.Sink) notifications.Listener = notifications.NewBridge
	_ func(id string, r *http.Request) notifications.RequestRecord = notifications.NewRequestRecord
)

// Methods, each through a method expression.
var (
	_ func(*notifications.Broadcaster) error                                = (*notifications.Broadcaster).Close
	_ func(*notifications.Broadcaster, ...notifications.Event) error        = (*notifications.Broadcaster).Write
	_ func(*notifications.Endpoint, *notifications.EndpointMetrics)         = (*notifications.Endpoint).ReadMetrics
	_ func(*notifications.Endpoint, ...notifications.Event) error           = (*notifications.Endpoint).Write // promoted from Sink
	_ func(*notifications.Endpoint) error                                   = (*notifications.Endpoint).Close // promoted from Sink
	_ func(notifications.Sink, ...notifications.Event) error                = notifications.Sink.Write
	_ func(notifications.Sink) error                                        = notifications.Sink.Close
	_ func(notifications.URLBuilder, string, string) (string, error)        = notifications.URLBuilder.BuildManifestURL
	_ func(notifications.URLBuilder, string, digest.Digest) (string, error) = notifications.URLBuilder.BuildBlobURL

	_ func(notifications.ManifestListener, storage.Repository, *manifest.SignedManifest) error = notifications.ManifestListener.ManifestPushed
	_ func(notifications.ManifestListener, storage.Repository, *manifest.SignedManifest) error = notifications.ManifestListener.ManifestPulled
	_ func(notifications.ManifestListener, storage.Repository, *manifest.SignedManifest) error = notifications.ManifestListener.ManifestDeleted
	_ func(notifications.LayerListener, storage.Repository, storage.Layer) error               = notifications.LayerListener.LayerPushed
	_ func(notifications.LayerListener, storage.Repository, storage.Layer) error               = notifications.LayerListener.LayerPulled
	_ func(notifications.LayerListener, storage.Repository, storage.Layer) error               = notifications.LayerListener.LayerDeleted
)

// Interfaces: a type with exactly the 2015 methods still implements each
// (a method added to an interface would break every implementation outside),
// and Listener is still both listeners.
type (
	seedSink             struct{}
	seedManifestListener struct{}
	seedLayerListener    struct{}
	seedListener         struct {
		seedManifestListener
		seedLayerListener
	}
	seedURLBuilder struct{}
)

func (seedSink) Write(...notifications.Event) error { return nil }
func (seedSink) Close() error                       { return nil }

func (seedManifestListener) ManifestPushed(storage.Repository, *manifest.SignedManifest) error {
	return nil
}

func (seedManifestListener) ManifestPulled(storage.Repository, *manifest.SignedManifest) error {
	return nil
}

func (seedManifestListener) ManifestDeleted(storage.Repository, *manifest.SignedManifest) error {
	return nil
}

func (seedLayerListener) LayerPushed(storage.Repository, storage.Layer) error  { return nil }
func (seedLayerListener) LayerPulled(storage.Repository, storage.Layer) error  { return nil }
func (seedLayerListener) LayerDeleted(storage.Repository, storage.Layer) error { return nil }

func (seedURLBuilder) BuildManifestURL(string, string) (string, error)    { return "", nil }
func (seedURLBuilder) BuildBlobURL(string, digest.Digest) (string, error) { return "", nil }

var (
	_ notifications.Sink             = seedSink{}
	_ notifications.ManifestListener = seedManifestListener{}
	_ notifications.LayerListener    = seedLayerListener{}
	_ notifications.Listener         = seedListener{}
	_ notifications.ManifestListener = notifications.Listener(nil)
	_ notifications.LayerListener    = notifications.Listener(nil)
	_ notifications.URLBuilder       = seedURLBuilder{}
	_ notifications.Sink             = (*notifications.Broadcaster)(nil)
	_ notifications.Sink             = (*notifications.Endpoint)(nil)
)

// Constants stay untyped (assignable to a named string type) with their
// values checked in TestSeedAPI; ErrSinkClosed stays a variable of type error.
type seedString string

var (
	_ seedString = notifications.EventActionPull
	_ seedString = notifications.EventActionPush
	_ seedString = notifications.EventActionDelete
	_ seedString = notifications.EventTargetTypeManifest
	_ seedString = notifications.EventTargetTypeBlob
	_ seedString = notifications.EventsMediaType
	_ *error     = &notifications.ErrSinkClosed
)

// seedField is one struct field of the 2015 API: its name, type and JSON tag
// ("" when it had none).
type seedField struct {
	name string
	typ  reflect.Type
	tag  string
}

// TestSeedAPI checks what the compiler cannot: constant values, and each
// 2015 struct field with its type and JSON tag (the wire format).
func TestSeedAPI(t *testing.T) {
	t.Run("constants", func(t *testing.T) {
		assert.Equal(t, "pull", notifications.EventActionPull)
		assert.Equal(t, "push", notifications.EventActionPush)
		assert.Equal(t, "delete", notifications.EventActionDelete)
		assert.Equal(t, "manifest", notifications.EventTargetTypeManifest)
		assert.Equal(t, "blob", notifications.EventTargetTypeBlob)
		assert.Equal(t, "application/vnd.docker.distribution.events.v1+json", notifications.EventsMediaType)
		require.Error(t, notifications.ErrSinkClosed)
		assert.Equal(t, "sink: closed", notifications.ErrSinkClosed.Error())
	})

	str, integer, duration := reflect.TypeFor[string](), reflect.TypeFor[int](), reflect.TypeFor[time.Duration]()
	eventType := reflect.TypeFor[notifications.Event]()
	target, ok := eventType.FieldByName("Target")
	require.True(t, ok, "Event.Target")

	structs := []struct {
		typ    reflect.Type
		fields []seedField
	}{
		{reflect.TypeFor[notifications.ActorRecord](), []seedField{
			{"Name", str, "name,omitempty"},
		}},
		{reflect.TypeFor[notifications.SourceRecord](), []seedField{
			{"Addr", str, "addr,omitempty"},
			{"InstanceID", str, "instanceID,omitempty"},
		}},
		{reflect.TypeFor[notifications.RequestRecord](), []seedField{
			{"ID", str, "id"},
			{"Addr", str, "addr,omitempty"},
			{"Host", str, "host,omitempty"},
			{"Method", str, "method"},
			{"UserAgent", str, "useragent"},
		}},
		{reflect.TypeFor[notifications.Envelope](), []seedField{
			{"Events", reflect.TypeFor[[]notifications.Event](), "events,omitempty"},
		}},
		{eventType, []seedField{
			{"ID", str, "id,omitempty"},
			{"Timestamp", reflect.TypeFor[time.Time](), "timestamp,omitempty"},
			{"Action", str, "action,omitempty"},
			{"Target", target.Type, "target,omitempty"}, // an unnamed struct: its fields below
			{"Request", reflect.TypeFor[notifications.RequestRecord](), "request,omitempty"},
			{"Actor", reflect.TypeFor[notifications.ActorRecord](), "actor,omitempty"},
			{"Source", reflect.TypeFor[notifications.SourceRecord](), "source,omitempty"},
		}},
		// Event.Target: only the 2015 fields are checked; fields may be added.
		{target.Type, []seedField{
			{"Type", str, "type,omitempty"},
			{"Name", str, "name,omitempty"},
			{"Digest", reflect.TypeFor[digest.Digest](), "digest,omitempty"},
			{"Tag", str, "tag,omitempty"},
			{"URL", str, "url,omitempty"},
		}},
		{reflect.TypeFor[notifications.EndpointConfig](), []seedField{
			{"Headers", reflect.TypeFor[http.Header](), ""},
			{"Timeout", duration, ""},
			{"Threshold", integer, ""},
			{"Backoff", duration, ""},
		}},
		{reflect.TypeFor[notifications.EndpointMetrics](), []seedField{
			{"Pending", integer, ""},
			{"Events", integer, ""},
			{"Successes", integer, ""},
			{"Failures", integer, ""},
			{"Errors", integer, ""},
			{"Statuses", reflect.TypeFor[map[string]int](), ""},
		}},
		// Endpoint embeds Sink and EndpointConfig, so their methods and
		// fields are the endpoint's.
		{reflect.TypeFor[notifications.Endpoint](), []seedField{
			{"Sink", reflect.TypeFor[notifications.Sink](), ""},
			{"EndpointConfig", reflect.TypeFor[notifications.EndpointConfig](), ""},
		}},
	}
	for _, s := range structs {
		name := s.typ.Name()
		if name == "" {
			name = "Event.Target"
		}
		t.Run(name, func(t *testing.T) {
			require.Equal(t, reflect.Struct, s.typ.Kind())
			for _, want := range s.fields {
				f, ok := s.typ.FieldByName(want.name)
				if !assert.True(t, ok, "field %s.%s is gone", name, want.name) {
					continue
				}
				assert.Len(t, f.Index, 1, "%s.%s is a field of its own, not promoted", name, want.name)
				assert.Equal(t, want.typ, f.Type, "type of %s.%s", name, want.name)
				assert.Equal(t, want.tag, f.Tag.Get("json"), "JSON tag of %s.%s", name, want.name)
				if name == "Endpoint" {
					assert.True(t, f.Anonymous, "Endpoint embeds %s", want.name)
				}
			}
		})
	}

	t.Run("Broadcaster", func(t *testing.T) {
		assert.Equal(t, reflect.Struct, reflect.TypeFor[notifications.Broadcaster]().Kind())
	})
	for _, iface := range []reflect.Type{
		reflect.TypeFor[notifications.Sink](),
		reflect.TypeFor[notifications.Listener](),
		reflect.TypeFor[notifications.ManifestListener](),
		reflect.TypeFor[notifications.LayerListener](),
		reflect.TypeFor[notifications.URLBuilder](),
	} {
		assert.Equal(t, reflect.Interface, iface.Kind(), "%s is an interface", iface.Name())
	}
}
