// Package inmemory implements the storage interfaces in memory, for tests,
// examples and demos.
//
// A Registry holds named repositories; each repository keeps its manifests by
// tag, its layers by digest and its unfinished uploads by UUID. Everything is
// lost when the Registry is dropped. All types are safe for concurrent use.
//
// Uploads behave like a registry's chunked HTTP upload: Close releases the
// handle but keeps the upload, so Resume can pick it up again, with writing
// continuing at the end of the content written so far. Only Finish (with a
// matching digest) and Cancel end an upload.
package inmemory

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	// Register the hashes go-digest validates and computes digests with.
	_ "crypto/sha256"
	_ "crypto/sha512"

	"github.com/opencontainers/go-digest"
	"github.com/regnotify/notifications/manifest"
	"github.com/regnotify/notifications/storage"
)

var (
	// ErrUnknownManifest is returned, wrapped with the repository name and
	// tag, when no manifest is stored under a tag.
	ErrUnknownManifest = errors.New("inmemory: unknown manifest")

	// ErrUnknownLayer is returned, wrapped with the repository name and
	// digest, when no layer with a digest is stored.
	ErrUnknownLayer = errors.New("inmemory: unknown layer")

	// ErrUnknownUpload is returned, wrapped with the repository name and
	// UUID, by Resume when no upload with the UUID is in progress: it was
	// never started, or it was finished or cancelled.
	ErrUnknownUpload = errors.New("inmemory: unknown upload")

	// ErrUploadClosed is returned, wrapped with the UUID, by the methods of
	// a LayerUpload whose handle was closed or whose upload was finished or
	// cancelled, through that handle or another one.
	ErrUploadClosed = errors.New("inmemory: upload closed")

	// ErrDigestMismatch is returned, wrapped with the expected and actual
	// digests, by Finish when the written content does not match the digest
	// given. The upload stays open.
	ErrDigestMismatch = errors.New("inmemory: digest mismatch")
)

// Registry is an in-memory collection of repositories. The zero value is not
// usable; create one with New.
type Registry struct {
	now func() time.Time // clock for CreatedAt and StartedAt

	mu    sync.Mutex
	repos map[string]*repository
}

// New returns an empty Registry.
func New() *Registry {
	return newRegistry(time.Now)
}

// newRegistry returns an empty Registry that reads the time from now.
func newRegistry(now func() time.Time) *Registry {
	return &Registry{now: now, repos: make(map[string]*repository)}
}

// Repository returns the repository called name, creating it empty on first
// use. Every call with the same name returns a view of the same data.
func (r *Registry) Repository(name string) storage.Repository {
	r.mu.Lock()
	defer r.mu.Unlock()
	repo, ok := r.repos[name]
	if !ok {
		repo = &repository{
			name:      name,
			now:       r.now,
			manifests: make(map[string]*manifest.SignedManifest),
			layers:    make(map[digest.Digest]*storedLayer),
			uploads:   make(map[string]*uploadState),
		}
		r.repos[name] = repo
	}
	return repo
}

// Repositories returns the names of the repositories created so far, sorted.
func (r *Registry) Repositories() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.repos))
	for name := range r.repos {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// repository holds the manifests, layers and uploads of one repository. Its
// mutex guards the maps and the state of every upload handle.
type repository struct {
	name string
	now  func() time.Time

	mu        sync.Mutex
	manifests map[string]*manifest.SignedManifest // by tag
	layers    map[digest.Digest]*storedLayer
	uploads   map[string]*uploadState // by UUID
}

var _ storage.Repository = (*repository)(nil)

// Name returns the name of the repository.
func (r *repository) Name() string { return r.name }

// Manifests returns the repository's manifest service.
func (r *repository) Manifests() storage.ManifestService { return &manifestService{repo: r} }

// Layers returns the repository's layer service.
func (r *repository) Layers() storage.LayerService { return &layerService{repo: r} }

// manifestService implements storage.ManifestService over a repository.
type manifestService struct {
	repo *repository
}

var _ storage.ManifestService = (*manifestService)(nil)

// Tags returns the tags that have a manifest, sorted.
func (s *manifestService) Tags() ([]string, error) {
	s.repo.mu.Lock()
	defer s.repo.mu.Unlock()
	tags := make([]string, 0, len(s.repo.manifests))
	for tag := range s.repo.manifests {
		tags = append(tags, tag)
	}
	slices.Sort(tags)
	return tags, nil
}

// Exists reports whether a manifest is stored under tag.
func (s *manifestService) Exists(tag string) (bool, error) {
	s.repo.mu.Lock()
	defer s.repo.mu.Unlock()
	_, ok := s.repo.manifests[tag]
	return ok, nil
}

// Get returns a copy of the manifest stored under tag, or ErrUnknownManifest.
// The caller may modify the copy freely.
func (s *manifestService) Get(tag string) (*manifest.SignedManifest, error) {
	s.repo.mu.Lock()
	defer s.repo.mu.Unlock()
	m, ok := s.repo.manifests[tag]
	if !ok {
		return nil, fmt.Errorf("%w %s:%s", ErrUnknownManifest, s.repo.name, tag)
	}
	return cloneManifest(m), nil
}

// Put stores a copy of m under tag, replacing any manifest there, so later
// changes to m do not reach the store. It does not check m.Tag or m.Name
// against tag and the repository. Put fails for an empty tag or a nil m.
func (s *manifestService) Put(tag string, m *manifest.SignedManifest) error {
	if tag == "" {
		return fmt.Errorf("inmemory: put manifest in %s: empty tag", s.repo.name)
	}
	if m == nil {
		return fmt.Errorf("inmemory: put manifest %s:%s: nil manifest", s.repo.name, tag)
	}
	c := cloneManifest(m)
	s.repo.mu.Lock()
	defer s.repo.mu.Unlock()
	s.repo.manifests[tag] = c
	return nil
}

// Delete removes the manifest stored under tag, or returns
// ErrUnknownManifest.
func (s *manifestService) Delete(tag string) error {
	s.repo.mu.Lock()
	defer s.repo.mu.Unlock()
	if _, ok := s.repo.manifests[tag]; !ok {
		return fmt.Errorf("%w %s:%s", ErrUnknownManifest, s.repo.name, tag)
	}
	delete(s.repo.manifests, tag)
	return nil
}

// cloneManifest returns a copy of m that shares no slice with it.
func cloneManifest(m *manifest.SignedManifest) *manifest.SignedManifest {
	c := *m
	c.FSLayers = slices.Clone(m.FSLayers)
	c.History = slices.Clone(m.History)
	c.Raw = slices.Clone(m.Raw)
	return &c
}
