// Package storage declares the registry storage interfaces of 2015 that the
// notifications listener wraps: a Repository with its ManifestService and
// LayerService, the Layer it serves and the LayerUpload it accepts.
//
// The interfaces are kept exactly as the registry of that era declared them,
// so that code written against it can use this package unchanged. Package
// storage/inmemory provides an implementation for tests, examples and demos.
package storage

import (
	"io"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/regnotify/notifications/manifest"
)

// Repository is a named collection of manifests and layers.
type Repository interface {
	// Name returns the name of the repository, such as "library/ubuntu".
	Name() string

	// Manifests returns the service for the repository's manifests.
	Manifests() ManifestService

	// Layers returns the service for the repository's layers.
	Layers() LayerService
}

// ManifestService stores and serves the signed manifests of a repository,
// addressed by tag.
type ManifestService interface {
	// Tags lists the tags under which manifests are stored.
	Tags() ([]string, error)

	// Exists reports whether a manifest is stored under tag.
	Exists(tag string) (bool, error)

	// Get returns the manifest stored under tag.
	Get(tag string) (*manifest.SignedManifest, error)

	// Put stores manifest under tag, replacing any manifest there.
	Put(tag string, manifest *manifest.SignedManifest) error

	// Delete removes the manifest stored under tag.
	Delete(tag string) error
}

// LayerService stores and serves the layers of a repository, addressed by
// digest.
type LayerService interface {
	// Exists reports whether the layer with the digest is stored.
	Exists(digest digest.Digest) (bool, error)

	// Fetch returns the layer with the digest, ready to be read.
	Fetch(digest digest.Digest) (Layer, error)

	// Upload starts a new layer upload.
	Upload() (LayerUpload, error)

	// Resume continues the upload with the given UUID.
	Resume(uuid string) (LayerUpload, error)
}

// Layer is a stored layer, readable and seekable. The caller must Close it.
type Layer interface {
	io.ReadSeeker
	io.Closer

	// Name returns the name of the repository the layer belongs to.
	Name() string

	// Digest returns the content digest of the layer.
	Digest() digest.Digest

	// CreatedAt returns when the layer was stored.
	CreatedAt() time.Time
}

// LayerUpload is a layer being written. Finish stores it when the written
// content matches the digest; Cancel abandons it.
type LayerUpload interface {
	io.WriteSeeker
	io.Closer

	// Name returns the name of the repository the upload belongs to.
	Name() string

	// UUID identifies the upload so that it can be resumed.
	UUID() string

	// StartedAt returns when the upload began.
	StartedAt() time.Time

	// Finish checks the written content against digest and, when it matches,
	// stores it as a layer and returns that layer.
	Finish(digest digest.Digest) (Layer, error)

	// Cancel abandons the upload and releases what it held.
	Cancel() error
}
