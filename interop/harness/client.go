// Package harness drives a registry through its HTTP API (distribution
// spec) and records what its notifications deliver, for the interop tests.
package harness

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Media types of the images the client pushes.
const (
	OCIManifest     = "application/vnd.oci.image.manifest.v1+json"
	OCIIndex        = "application/vnd.oci.image.index.v1+json"
	OCIConfig       = "application/vnd.oci.image.config.v1+json"
	OCILayer        = "application/vnd.oci.image.layer.v1.tar+gzip"
	DockerManifest  = "application/vnd.docker.distribution.manifest.v2+json"
	DockerConfig    = "application/vnd.docker.container.image.v1+json"
	DockerLayer     = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	OctetStream     = "application/octet-stream"
	acceptManifests = OCIManifest + ", " + OCIIndex + ", " + DockerManifest
)

// Client talks to one registry at BaseURL (such as http://127.0.0.1:5000).
// Every method fails the test on an unexpected answer.
type Client struct {
	T       testing.TB
	BaseURL string
	HTTP    *http.Client
}

// Descriptor is a pushed piece of content.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *Platform         `json:"platform,omitempty"`
}

// Platform is an index entry's platform.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// Image is a pushed image: its manifest and the blobs it refers to.
type Image struct {
	Repository string
	Tag        string
	Manifest   Descriptor
	Config     Descriptor
	Layers     []Descriptor
}

// Digest returns the sha256 digest of b.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (c *Client) do(method, path string, header http.Header, body []byte, want ...int) *http.Response {
	c.T.Helper()
	u := path
	if !strings.HasPrefix(path, "http") {
		u = c.BaseURL + path
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	client := c.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	for _, code := range want {
		if resp.StatusCode == code {
			return resp
		}
	}
	msg, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	c.T.Fatalf("%s %s: answered %s: %s", method, path, resp.Status, msg)
	return nil
}

// PushBlob uploads content to repo in one PUT and returns its descriptor.
func (c *Client) PushBlob(repo, mediaType string, content []byte) Descriptor {
	c.T.Helper()
	resp := c.do(http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil, nil, http.StatusAccepted)
	_ = resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		c.T.Fatalf("upload of %s: no Location: %v", repo, err)
	}
	q := loc.Query()
	q.Set("digest", Digest(content))
	loc.RawQuery = q.Encode()
	resp = c.do(http.MethodPut, loc.String(), http.Header{"Content-Type": {OctetStream}}, content, http.StatusCreated)
	_ = resp.Body.Close()
	return Descriptor{MediaType: mediaType, Digest: Digest(content), Size: int64(len(content))}
}

// MountBlob mounts the blob d of from into repo.
func (c *Client) MountBlob(repo, from string, d Descriptor) {
	c.T.Helper()
	q := url.Values{"mount": {d.Digest}, "from": {from}}
	resp := c.do(http.MethodPost, "/v2/"+repo+"/blobs/uploads/?"+q.Encode(), nil, nil, http.StatusCreated)
	_ = resp.Body.Close()
}

// PushManifest puts manifest under reference (a tag or a digest) and
// returns its descriptor.
func (c *Client) PushManifest(repo, reference, mediaType string, manifest []byte) Descriptor {
	c.T.Helper()
	resp := c.do(http.MethodPut, "/v2/"+repo+"/manifests/"+reference, http.Header{"Content-Type": {mediaType}}, manifest, http.StatusCreated)
	_ = resp.Body.Close()
	return Descriptor{MediaType: mediaType, Digest: Digest(manifest), Size: int64(len(manifest))}
}

// PushImage pushes a config, two layers (one annotated) and a manifest of
// mediaType (OCIManifest or DockerManifest) tagged tag into repo.
func (c *Client) PushImage(repo, tag, mediaType string) Image {
	c.T.Helper()
	configType, layerType := OCIConfig, OCILayer
	if mediaType == DockerManifest {
		configType, layerType = DockerConfig, DockerLayer
	}
	img := Image{Repository: repo, Tag: tag}
	img.Config = c.PushBlob(repo, configType, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"tag":"`+tag+`"}`))
	for i := range 2 {
		l := c.PushBlob(repo, layerType, []byte(fmt.Sprintf("layer %d of %s:%s", i, repo, tag)))
		if i == 1 && mediaType == OCIManifest {
			l.Annotations = map[string]string{"org.opencontainers.image.title": "layer-1.tar.gz"}
		}
		img.Layers = append(img.Layers, l)
	}
	manifest, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": mediaType, "config": img.Config, "layers": img.Layers})
	if err != nil {
		c.T.Fatal(err)
	}
	img.Manifest = c.PushManifest(repo, tag, mediaType, manifest)
	return img
}

// PushIndex pushes an OCI index of the manifests, each for a platform, tagged
// tag, and returns its descriptor.
func (c *Client) PushIndex(repo, tag string, manifests ...Descriptor) Descriptor {
	c.T.Helper()
	for i := range manifests {
		manifests[i].Platform = &Platform{Architecture: "arm", OS: "linux", Variant: fmt.Sprint("v", 6+i)}
	}
	index, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": OCIIndex, "manifests": manifests})
	if err != nil {
		c.T.Fatal(err)
	}
	return c.PushManifest(repo, tag, OCIIndex, index)
}

// Pull fetches the manifest tagged tag, then every blob of img.
func (c *Client) Pull(img Image) {
	c.T.Helper()
	resp := c.do(http.MethodGet, "/v2/"+img.Repository+"/manifests/"+img.Tag, http.Header{"Accept": {acceptManifests}}, nil, http.StatusOK)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	for _, d := range append([]Descriptor{img.Config}, img.Layers...) {
		resp := c.do(http.MethodGet, "/v2/"+img.Repository+"/blobs/"+d.Digest, nil, nil, http.StatusOK)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
}

// DeleteManifest deletes the manifest reference (a digest, or a tag where the
// registry allows it) of repo.
func (c *Client) DeleteManifest(repo, reference string) {
	c.T.Helper()
	resp := c.do(http.MethodDelete, "/v2/"+repo+"/manifests/"+reference, nil, nil, http.StatusAccepted)
	_ = resp.Body.Close()
}

// DeleteBlob deletes the blob dgst of repo.
func (c *Client) DeleteBlob(repo, dgst string) {
	c.T.Helper()
	resp := c.do(http.MethodDelete, "/v2/"+repo+"/blobs/"+dgst, nil, nil, http.StatusAccepted)
	_ = resp.Body.Close()
}
