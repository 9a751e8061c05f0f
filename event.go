package notifications

import (
	"errors"
	"time"

	"github.com/opencontainers/go-digest"
)

// EventAction constants used in action field of Event.
const (
	EventActionPull   = "pull"
	EventActionPush   = "push"
	EventActionDelete = "delete"

	// EventActionMount is sent by released registries when a blob is
	// mounted from another repository (Target.FromRepository).
	EventActionMount = "mount"
)

// EventTargetType constants used in Target section of Event.
const (
	EventTargetTypeManifest = "manifest"
	EventTargetTypeBlob     = "blob"
)

// EventsMediaType is the mediatype for the json event envelope. If the Event,
// ActorRecord, SourceRecord or Envelope structs change, the version number
// should be incremented.
const EventsMediaType = "application/vnd.docker.distribution.events.v1+json"

// EventsMediaTypeV2 is the media type distribution v3 sends the same
// envelope under. Its events carry the released target fields (Repository,
// MediaType, Size, Length) rather than Type and Name; this library decodes
// both media types into Event.
const EventsMediaTypeV2 = "application/vnd.docker.distribution.events.v2+json"

// ErrSinkClosed is returned if a write is issued to a sink that has been
// closed. If encountered, the error should be considered terminal and retries
// will not be successful.
var ErrSinkClosed = errors.New("sink: closed")

// Envelope defines the fields of a json event envelope message that can hold
// one or more events.
type Envelope struct {
	// Events make up the contents of the envelope. Events present in a single
	// envelope are not necessarily related.
	Events []Event `json:"events,omitempty"`
}

// Event provides the fields required to describe a registry event.
type Event struct {
	// ID provides a unique identifier for the event.
	ID string `json:"id,omitempty"`

	// Timestamp is the time at which the event occurred.
	Timestamp time.Time `json:"timestamp,omitempty"`

	// Action indicates what action encompasses the provided event.
	Action string `json:"action,omitempty"`

	// Target uniquely describes the target of the event.
	//
	// Type and Name are the 2015 format's; registries released since
	// (docker/distribution v2.x, distribution v3) send Repository, MediaType,
	// Size and Length instead, and the descriptor fields between them. Every
	// field is omitted from the JSON when empty, so an event carries the
	// fields of the format it was made in, and nothing else.
	Target struct {
		// Type should be "manifest" or "blob"
		Type string `json:"type,omitempty"`

		// Name identifies the named repository.
		Name string `json:"name,omitempty"`

		// MediaType is the media type of the content: the manifest's media
		// type, or that of the blob (often application/octet-stream).
		MediaType string `json:"mediaType,omitempty"`

		// Size is the length of the content in bytes.
		Size int64 `json:"size,omitempty"`

		// Digest should identify the object in the repository.
		Digest digest.Digest `json:"digest,omitempty"`

		// URLs lists other locations the content may be fetched from.
		URLs []string `json:"urls,omitempty"`

		// Annotations holds arbitrary metadata of the content.
		Annotations map[string]string `json:"annotations,omitempty"`

		// Data embeds the content itself (base64 in JSON).
		Data []byte `json:"data,omitempty"`

		// Platform describes the platform a manifest's image runs on.
		Platform *Platform `json:"platform,omitempty"`

		// ArtifactType is the media type of an artifact manifest's artifact.
		ArtifactType string `json:"artifactType,omitempty"`

		// Length is the same as Size; released registries send both.
		Length int64 `json:"length,omitempty"`

		// Repository identifies the named repository: the released
		// formats' name for Name.
		Repository string `json:"repository,omitempty"`

		// FromRepository names the repository a blob was mounted from, for
		// the "mount" action.
		FromRepository string `json:"fromRepository,omitempty"`

		// Tag is present if the operation involved a tagged manifest.
		Tag string `json:"tag,omitempty"`

		// URL provides a link to the content on the relevant repository
		// instance.
		URL string `json:"url,omitempty"`

		// References lists the descriptors a manifest refers to (its config
		// and layers, or an index's manifests), when the registry is
		// configured to send them.
		References []Descriptor `json:"references,omitempty"`
	} `json:"target,omitempty"`

	// Request covers the request that generated the event.
	Request RequestRecord `json:"request,omitempty"`

	// Actor specifies the agent that initiated the event. For most
	// situations, this could be from the authorizaton context of the request.
	Actor ActorRecord `json:"actor,omitempty"`

	// Source identifies the registry node that generated the event. Put
	// differently, while the actor "initiates" the event, the source
	// "generates" it.
	Source SourceRecord `json:"source,omitempty"`
}

// Descriptor describes a piece of content a manifest refers to, as the
// released registries write it in Target.References. Every field is omitted
// from the JSON when empty.
type Descriptor struct {
	// MediaType is the media type of the content.
	MediaType string `json:"mediaType,omitempty"`

	// Size is the length of the content in bytes.
	Size int64 `json:"size,omitempty"`

	// Digest identifies the content.
	Digest digest.Digest `json:"digest,omitempty"`

	// URLs lists other locations the content may be fetched from.
	URLs []string `json:"urls,omitempty"`

	// Annotations holds arbitrary metadata of the content.
	Annotations map[string]string `json:"annotations,omitempty"`

	// Data embeds the content itself (base64 in JSON).
	Data []byte `json:"data,omitempty"`

	// Platform describes the platform the image of a manifest runs on.
	Platform *Platform `json:"platform,omitempty"`

	// ArtifactType is the media type of an artifact manifest's artifact.
	ArtifactType string `json:"artifactType,omitempty"`
}

// Platform describes the platform an image runs on, as in the OCI image
// specification. Architecture and OS are always written.
type Platform struct {
	// Architecture is the CPU architecture, such as "amd64" or "arm64".
	Architecture string `json:"architecture"`

	// OS is the operating system, such as "linux".
	OS string `json:"os"`

	// OSVersion is the version of the operating system.
	OSVersion string `json:"os.version,omitempty"`

	// OSFeatures lists features the image requires of the OS.
	OSFeatures []string `json:"os.features,omitempty"`

	// Variant is the variant of the CPU, such as "v7" for arm.
	Variant string `json:"variant,omitempty"`
}

// ActorRecord specifies the agent that initiated the event. For most
// situations, this could be from the authorization context of the request.
// Data in this record can refer to both the initiating client and the
// generating request.
type ActorRecord struct {
	// Name corresponds to the subject or username associated with the
	// request context that generated the event.
	Name string `json:"name,omitempty"`
}

// RequestRecord covers the request that generated the event.
type RequestRecord struct {
	// ID uniquely identifies the request that initiated the event.
	ID string `json:"id"`

	// Addr contains the ip or hostname and possibly port of the client
	// connection that initiated the event. This is the RemoteAddr from
	// the standard http request.
	Addr string `json:"addr,omitempty"`

	// Host is the externally accessible host name of the registry instance,
	// as specified by the http host header on incoming requests.
	Host string `json:"host,omitempty"`

	// Method has the request method that generated the event.
	Method string `json:"method"`

	// UserAgent contains the user agent header of the request.
	UserAgent string `json:"useragent"`
}

// SourceRecord identifies the registry node that generated the event. Put
// differently, while the actor "initiates" the event, the source "generates"
// it.
type SourceRecord struct {
	// Addr contains the ip or hostname and the port of the registry node
	// that generated the event. Generally, this will be resolved by
	// os.Hostname() along with the running port.
	Addr string `json:"addr,omitempty"`

	// InstanceID identifies a running instance of an application. Changes
	// after each restart.
	InstanceID string `json:"instanceID,omitempty"`
}

// Sink accepts and sends events.
//
// Every sink in this package is safe for concurrent use; Close may race with
// Write, a Write after Close returns ErrSinkClosed and a second Close returns
// an error without doing anything.
type Sink interface {
	// Write writes one or more events to the sink. If no error is returned,
	// the caller will assume that all events have been committed and will not
	// try to send them again. If an error is received, the caller may retry
	// sending the event. The caller should cede the slice of memory to the
	// sink and not modify it after calling this method.
	Write(events ...Event) error

	// Close the sink, possibly waiting for pending events to flush.
	Close() error
}
