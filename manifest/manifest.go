// Package manifest holds the schema-1 image manifest of 2015 in its signed
// form: the manifest JSON with a JWS "pretty signature" block spliced in.
//
// SignedManifest keeps the exact bytes it was parsed from (Raw), since the
// signatures cover them; Payload recovers the signed payload from those bytes
// and the protected header of a signature, as the reference JWS library of the
// era (libtrust) did, without depending on it.
package manifest

import (
	"github.com/opencontainers/go-digest"
)

// Versioned carries the schema version of a manifest.
type Versioned struct {
	// SchemaVersion is the manifest schema version; 1 for this package.
	SchemaVersion int `json:"schemaVersion"`
}

// Manifest is an unsigned schema-1 image manifest.
type Manifest struct {
	Versioned

	// Name is the name of the image's repository.
	Name string `json:"name"`

	// Tag is the tag of the image.
	Tag string `json:"tag"`

	// Architecture is the host architecture the image runs on.
	Architecture string `json:"architecture"`

	// FSLayers lists the image's layers by digest, newest first.
	FSLayers []FSLayer `json:"fsLayers"`

	// History holds the v1 compatibility data of each layer, in the order
	// of FSLayers.
	History []History `json:"history"`
}

// SignedManifest is a Manifest together with the exact signed bytes it was
// parsed from.
type SignedManifest struct {
	Manifest

	// Raw is the signed manifest exactly as received, signatures included.
	Raw []byte `json:"-"`
}

// FSLayer names one layer of an image by its content digest.
type FSLayer struct {
	// BlobSum is the digest of the layer's content.
	BlobSum digest.Digest `json:"blobSum"`
}

// History holds the v1 compatibility data of one layer.
type History struct {
	// V1Compatibility is the layer's v1 JSON configuration, as a string.
	V1Compatibility string `json:"v1Compatibility"`
}
