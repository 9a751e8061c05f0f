package notifications

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/regnotify/notifications/manifest"
	"github.com/regnotify/notifications/storage"
	"github.com/regnotify/notifications/storage/inmemory"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordingListener records every callback as "action type detail" and
// checks that it was handed the underlying repository.
type recordingListener struct {
	t    *testing.T
	repo storage.Repository
	err  error // returned by every callback

	mu    sync.Mutex
	calls []string
}

func (l *recordingListener) record(repo storage.Repository, call string) error {
	assert.Same(l.t, l.repo, repo, "the listener gets the wrapped repository")
	l.mu.Lock()
	l.calls = append(l.calls, call)
	l.mu.Unlock()
	return l.err
}

func (l *recordingListener) ManifestPushed(repo storage.Repository, sm *manifest.SignedManifest) error {
	return l.record(repo, "push manifest "+sm.Tag)
}

func (l *recordingListener) ManifestPulled(repo storage.Repository, sm *manifest.SignedManifest) error {
	return l.record(repo, "pull manifest "+sm.Tag)
}

func (l *recordingListener) ManifestDeleted(repo storage.Repository, sm *manifest.SignedManifest) error {
	return l.record(repo, "delete manifest "+sm.Tag)
}

func (l *recordingListener) LayerPushed(repo storage.Repository, layer storage.Layer) error {
	return l.record(repo, "push blob "+layer.Digest().String())
}

func (l *recordingListener) LayerPulled(repo storage.Repository, layer storage.Layer) error {
	return l.record(repo, "pull blob "+layer.Digest().String())
}

func (l *recordingListener) LayerDeleted(repo storage.Repository, layer storage.Layer) error {
	return l.record(repo, "delete blob "+layer.Digest().String())
}

func (l *recordingListener) recorded() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.calls...)
}

// loadManifest reads a signed manifest vector from testdata.
func loadManifest(t *testing.T, name string) *manifest.SignedManifest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	var sm manifest.SignedManifest
	require.NoError(t, sm.UnmarshalJSON(raw))
	return &sm
}

func newListened(t *testing.T, listenerErr error) (storage.Repository, *recordingListener) {
	underlying := inmemory.New().Repository("library/hello")
	l := &recordingListener{t: t, repo: underlying, err: listenerErr}
	return Listen(underlying, l), l
}

// Every successful operation reaches the listener; a listener's error is
// logged (to listenerLog, naming the repository), never returned.
func TestListenDispatchesEverySuccessfulOperation(t *testing.T) {
	for _, listenerErr := range []error{nil, errTest} {
		t.Run(fmt.Sprint("listener error ", listenerErr), func(t *testing.T) {
			logger, hook := logtest.NewNullLogger()
			saved := listenerLog
			listenerLog = logger
			t.Cleanup(func() { listenerLog = saved })
			repo, l := newListened(t, listenerErr)
			sm := loadManifest(t, "signed-manifest.json")
			content := []byte("layer content")
			dgst := digest.FromBytes(content)

			up, err := repo.Layers().Upload()
			require.NoError(t, err)
			_, err = up.Write(content)
			require.NoError(t, err)
			require.NoError(t, up.Close())
			up, err = repo.Layers().Resume(up.UUID())
			require.NoError(t, err)
			_, err = up.Finish(dgst)
			require.NoError(t, err, "listener errors never reach the caller")
			require.NoError(t, repo.Manifests().Put("latest", sm))
			_, err = repo.Manifests().Get("latest")
			require.NoError(t, err)
			layer, err := repo.Layers().Fetch(dgst)
			require.NoError(t, err)
			require.NoError(t, layer.Close())
			require.NoError(t, repo.Manifests().Delete("latest"))

			// Calls that only read do not notify.
			_, _ = repo.Manifests().Tags()
			_, _ = repo.Manifests().Exists("latest")
			_, _ = repo.Layers().Exists(dgst)

			assert.Equal(t, []string{
				"push blob " + dgst.String(),
				"push manifest latest",
				"pull manifest latest",
				"pull blob " + dgst.String(),
				"delete manifest latest",
			}, l.recorded())

			entries := hook.AllEntries()
			if listenerErr == nil {
				assert.Empty(t, entries, "nothing failed")
				return
			}
			require.Len(t, entries, 5, "one line per listener error")
			var messages []string
			for _, entry := range entries {
				messages = append(messages, entry.Message)
				assert.Equal(t, logrus.ErrorLevel, entry.Level)
				assert.Equal(t, errTest, entry.Data[logrus.ErrorKey])
				assert.Equal(t, "library/hello", entry.Data["repository"])
			}
			assert.Equal(t, []string{
				"notifications: listener failed on layer push",
				"notifications: listener failed on manifest push",
				"notifications: listener failed on manifest pull",
				"notifications: listener failed on layer pull",
				"notifications: listener failed on manifest delete",
			}, messages)
		})
	}
}

func TestListenFailedOperationsNotifyNothing(t *testing.T) {
	repo, l := newListened(t, nil)
	content := []byte("layer content")
	missing := digest.FromString("missing")

	_, err := repo.Manifests().Get("nope")
	assert.ErrorIs(t, err, inmemory.ErrUnknownManifest, "the wrapped error comes back unchanged")
	assert.ErrorIs(t, repo.Manifests().Delete("nope"), inmemory.ErrUnknownManifest)
	assert.Error(t, repo.Manifests().Put("latest", nil))
	_, err = repo.Layers().Fetch(missing)
	assert.ErrorIs(t, err, inmemory.ErrUnknownLayer)

	up, err := repo.Layers().Upload()
	require.NoError(t, err)
	_, err = up.Write(content)
	require.NoError(t, err)
	_, err = up.Finish(missing)
	assert.ErrorIs(t, err, inmemory.ErrDigestMismatch)

	resumed, err := repo.Layers().Resume("no-such-upload")
	assert.ErrorIs(t, err, inmemory.ErrUnknownUpload)
	assert.Nil(t, resumed, "a failed Resume returns a nil upload, not a wrapper around nil")

	assert.Empty(t, l.recorded())
}

func TestListenFailedUploadReturnsNil(t *testing.T) {
	l := &recordingListener{t: t}
	repo := Listen(failingUploads{Repository: inmemory.New().Repository("r")}, l)
	l.repo = repo.(*repositoryListener).Repository
	up, err := repo.Layers().Upload()
	assert.ErrorIs(t, err, errTest)
	assert.Nil(t, up)
}

// failingUploads is a repository whose uploads cannot start.
type failingUploads struct{ storage.Repository }

func (f failingUploads) Layers() storage.LayerService { return failingLayers{f.Repository.Layers()} }

type failingLayers struct{ storage.LayerService }

func (failingLayers) Upload() (storage.LayerUpload, error) { return nil, errTest }

// unreadableManifests is a repository whose manifests cannot be read back.
type unreadableManifests struct{ storage.Repository }

func (u unreadableManifests) Manifests() storage.ManifestService {
	return unreadableService{u.Repository.Manifests()}
}

type unreadableService struct{ storage.ManifestService }

func (unreadableService) Get(string) (*manifest.SignedManifest, error) { return nil, errTest }

func TestListenDeleteOfUnreadableManifest(t *testing.T) {
	underlying := inmemory.New().Repository("library/hello")
	require.NoError(t, underlying.Manifests().Put("latest", loadManifest(t, "signed-manifest.json")))
	wrapped := unreadableManifests{underlying}
	l := &recordingListener{t: t, repo: wrapped}
	repo := Listen(wrapped, l)

	require.NoError(t, repo.Manifests().Delete("latest"), "the delete still happens")
	exists, err := underlying.Manifests().Exists("latest")
	require.NoError(t, err)
	assert.False(t, exists)
	assert.Empty(t, l.recorded(), "no event without the manifest")
}

// testURLs builds predictable URLs, or fails when err is set.
type testURLs struct{ err error }

func (u testURLs) BuildManifestURL(name, tag string) (string, error) {
	return "http://registry.test/v2/" + name + "/manifests/" + tag, u.err
}

func (u testURLs) BuildBlobURL(name string, dgst digest.Digest) (string, error) {
	return "http://registry.test/v2/" + name + "/blobs/" + dgst.String(), u.err
}

func TestBridgeManifestEvents(t *testing.T) {
	tests := []struct {
		file, tag string
		digest    digest.Digest
	}{
		{"signed-manifest.json", "latest", "sha256:3c45d32f87c28530a034b79571ba3fc2ad7b0bc9b3a191289b002d02973de354"},
		{"signed-manifest-2sig.json", "v1.2.3", "sha256:f956b74dfd82f59b7ee542404586f1ff1c4662b9835b5431daf7855dd21fb87b"},
	}
	source := SourceRecord{Addr: "registry:5000", InstanceID: "instance"}
	actor := ActorRecord{Name: "alice"}
	request := RequestRecord{ID: "req", Addr: "10.0.0.1:1234", Host: "registry", Method: "PUT", UserAgent: "docker/1.6"}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			sink := &fakeSink{}
			b := NewBridge(testURLs{}, source, actor, request, sink)
			repo := inmemory.New().Repository("acme/app")
			sm := loadManifest(t, tt.file)
			require.NotEqual(t, tt.digest, digest.FromBytes(sm.Raw), "the vector's raw digest differs from its payload digest")

			require.NoError(t, b.ManifestPushed(repo, sm))
			require.NoError(t, b.ManifestPulled(repo, sm))
			require.NoError(t, b.ManifestDeleted(repo, sm))
			events := sink.events()
			require.Len(t, events, 3)
			for i, action := range []string{EventActionPush, EventActionPull, EventActionDelete} {
				e := events[i]
				assert.Equal(t, action, e.Action)
				assert.Equal(t, EventTargetTypeManifest, e.Target.Type)
				assert.Equal(t, "acme/app", e.Target.Name)
				assert.Equal(t, tt.tag, e.Target.Tag)
				assert.Equal(t, tt.digest, e.Target.Digest, "digest of the payload")
				assert.Equal(t, "http://registry.test/v2/acme/app/manifests/"+tt.tag, e.Target.URL)
				assert.Equal(t, source, e.Source)
				assert.Equal(t, actor, e.Actor)
				assert.Equal(t, request, e.Request)
				assert.NotEmpty(t, e.ID)
				assert.False(t, e.Timestamp.IsZero())
			}
			assert.NotEqual(t, events[0].ID, events[1].ID, "IDs are unique per event")
		})
	}
}

func TestBridgeLayerEvents(t *testing.T) {
	sink := &fakeSink{}
	b := NewBridge(testURLs{}, SourceRecord{}, ActorRecord{}, RequestRecord{}, sink)
	repo := inmemory.New().Repository("acme/app")
	content := []byte("blob")
	layer := uploadLayer(t, repo, content)

	require.NoError(t, b.LayerPushed(repo, layer))
	require.NoError(t, b.LayerPulled(repo, layer))
	require.NoError(t, b.LayerDeleted(repo, layer))
	events := sink.events()
	require.Len(t, events, 3)
	for i, action := range []string{EventActionPush, EventActionPull, EventActionDelete} {
		assert.Equal(t, action, events[i].Action)
		assert.Equal(t, EventTargetTypeBlob, events[i].Target.Type)
		assert.Equal(t, digest.FromBytes(content), events[i].Target.Digest)
		assert.Equal(t, "http://registry.test/v2/acme/app/blobs/"+digest.FromBytes(content).String(), events[i].Target.URL)
		assert.Empty(t, events[i].Target.Tag)
	}
}

func TestBridgeErrors(t *testing.T) {
	repo := inmemory.New().Repository("acme/app")
	unsigned := &manifest.SignedManifest{Raw: []byte(`{"schemaVersion":1}`)}
	sink := &fakeSink{}
	assert.ErrorIs(t, NewBridge(testURLs{}, SourceRecord{}, ActorRecord{}, RequestRecord{}, sink).ManifestPushed(repo, unsigned), manifest.ErrNoSignatures)
	assert.ErrorIs(t, NewBridge(testURLs{err: errTest}, SourceRecord{}, ActorRecord{}, RequestRecord{}, sink).ManifestPushed(repo, loadManifest(t, "signed-manifest.json")), errTest)
	closed := &fakeSink{}
	require.NoError(t, closed.Close())
	assert.ErrorIs(t, NewBridge(testURLs{}, SourceRecord{}, ActorRecord{}, RequestRecord{}, closed).ManifestPushed(repo, loadManifest(t, "signed-manifest.json")), ErrSinkClosed)
	assert.Empty(t, sink.events())
}

func TestBridgeSignedManifestRoundTrip(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	sm, err := manifest.Sign(&manifest.Manifest{Versioned: manifest.Versioned{SchemaVersion: 1}, Name: "acme/app", Tag: "v1"}, key)
	require.NoError(t, err)
	payload, err := sm.Payload()
	require.NoError(t, err)
	require.False(t, bytes.Equal(payload, sm.Raw))
	sink := &fakeSink{}
	require.NoError(t, NewBridge(testURLs{}, SourceRecord{}, ActorRecord{}, RequestRecord{}, sink).ManifestPushed(inmemory.New().Repository("acme/app"), sm))
	assert.Equal(t, digest.FromBytes(payload), sink.events()[0].Target.Digest)
}

func TestNewRequestRecord(t *testing.T) {
	r, err := httpNewRequest("PUT", "http://registry.example/v2/acme/app/manifests/v1")
	require.NoError(t, err)
	r.RemoteAddr = "192.0.2.1:5555"
	r.Header.Set("User-Agent", "docker/1.6")
	assert.Equal(t, RequestRecord{ID: "id-1", Addr: "192.0.2.1:5555", Host: "registry.example", Method: "PUT", UserAgent: "docker/1.6"},
		NewRequestRecord("id-1", r))
}

func httpNewRequest(method, target string) (*http.Request, error) {
	return http.NewRequest(method, target, nil)
}
