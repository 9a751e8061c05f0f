package notifications

import (
	"github.com/opencontainers/go-digest"
	"github.com/regnotify/notifications/manifest"
	"github.com/regnotify/notifications/storage"
	"github.com/sirupsen/logrus"
)

// ManifestListener describes a set of methods for listening to events related
// to manifests.
type ManifestListener interface {
	// ManifestPushed is called after sm was stored in repo.
	ManifestPushed(repo storage.Repository, sm *manifest.SignedManifest) error

	// ManifestPulled is called after sm was read from repo.
	ManifestPulled(repo storage.Repository, sm *manifest.SignedManifest) error

	// ManifestDeleted is called after sm, as it was, was deleted from repo.
	ManifestDeleted(repo storage.Repository, sm *manifest.SignedManifest) error
}

// LayerListener describes a listener that can respond to layer related
// events.
type LayerListener interface {
	// LayerPushed is called after an upload of layer to repo finished.
	LayerPushed(repo storage.Repository, layer storage.Layer) error

	// LayerPulled is called after layer was fetched from repo.
	LayerPulled(repo storage.Repository, layer storage.Layer) error

	// LayerDeleted is part of the original interface; the storage
	// interfaces of that era have no layer delete, so Listen never calls it.
	LayerDeleted(repo storage.Repository, layer storage.Layer) error
}

// Listener combines all repository events into a single interface.
type Listener interface {
	ManifestListener
	LayerListener
}

// listenerLog is where the wrappers report listener errors; they never
// return them to the caller of the wrapped operation.
var listenerLog logrus.FieldLogger = logrus.StandardLogger()

// Listen dispatches events on the repository to the listener.
//
// The returned repository behaves as repo does and returns its errors
// unchanged. After each successful operation it calls the listener, passing
// repo itself: manifest Get is a pull, Put a push and Delete a delete; layer
// Fetch is a pull and an upload's Finish a push. A failed operation calls
// nothing. Errors returned by the listener are logged, never returned.
func Listen(repo storage.Repository, listener Listener) storage.Repository {
	return &repositoryListener{Repository: repo, listener: listener}
}

type repositoryListener struct {
	storage.Repository
	listener Listener
}

var _ storage.Repository = (*repositoryListener)(nil)

func (rl *repositoryListener) Manifests() storage.ManifestService {
	return &manifestServiceListener{ManifestService: rl.Repository.Manifests(), parent: rl}
}

func (rl *repositoryListener) Layers() storage.LayerService {
	return &layerServiceListener{LayerService: rl.Repository.Layers(), parent: rl}
}

// notify logs err, the listener's answer to an event, if it is not nil.
func (rl *repositoryListener) notify(what string, err error) {
	if err != nil {
		listenerLog.WithError(err).WithField("repository", rl.Repository.Name()).Errorf("notifications: listener failed on %s", what)
	}
}

type manifestServiceListener struct {
	storage.ManifestService
	parent *repositoryListener
}

var _ storage.ManifestService = (*manifestServiceListener)(nil)

func (msl *manifestServiceListener) Get(tag string) (*manifest.SignedManifest, error) {
	sm, err := msl.ManifestService.Get(tag)
	if err == nil {
		msl.parent.notify("manifest pull", msl.parent.listener.ManifestPulled(msl.parent.Repository, sm))
	}
	return sm, err
}

func (msl *manifestServiceListener) Put(tag string, sm *manifest.SignedManifest) error {
	err := msl.ManifestService.Put(tag, sm)
	if err == nil {
		msl.parent.notify("manifest push", msl.parent.listener.ManifestPushed(msl.parent.Repository, sm))
	}
	return err
}

// Delete reads the manifest from the wrapped service (so that no pull is
// reported), deletes it, and reports the delete with the manifest as it was.
// When the manifest cannot be read the delete still happens, unreported, and
// the reason is logged.
func (msl *manifestServiceListener) Delete(tag string) error {
	sm, readErr := msl.ManifestService.Get(tag)
	err := msl.ManifestService.Delete(tag)
	if err != nil {
		return err
	}
	if readErr != nil {
		listenerLog.WithError(readErr).WithField("repository", msl.parent.Repository.Name()).
			WithField("tag", tag).Warn("notifications: manifest deleted unreported: could not read it first")
		return nil
	}
	msl.parent.notify("manifest delete", msl.parent.listener.ManifestDeleted(msl.parent.Repository, sm))
	return nil
}

type layerServiceListener struct {
	storage.LayerService
	parent *repositoryListener
}

var _ storage.LayerService = (*layerServiceListener)(nil)

func (lsl *layerServiceListener) Fetch(dgst digest.Digest) (storage.Layer, error) {
	layer, err := lsl.LayerService.Fetch(dgst)
	if err == nil {
		lsl.parent.notify("layer pull", lsl.parent.listener.LayerPulled(lsl.parent.Repository, layer))
	}
	return layer, err
}

func (lsl *layerServiceListener) Upload() (storage.LayerUpload, error) {
	lu, err := lsl.LayerService.Upload()
	if err != nil {
		return nil, err
	}
	return &layerUploadListener{LayerUpload: lu, parent: lsl.parent}, nil
}

func (lsl *layerServiceListener) Resume(uuid string) (storage.LayerUpload, error) {
	lu, err := lsl.LayerService.Resume(uuid)
	if err != nil {
		return nil, err
	}
	return &layerUploadListener{LayerUpload: lu, parent: lsl.parent}, nil
}

type layerUploadListener struct {
	storage.LayerUpload
	parent *repositoryListener
}

var _ storage.LayerUpload = (*layerUploadListener)(nil)

func (lul *layerUploadListener) Finish(dgst digest.Digest) (storage.Layer, error) {
	layer, err := lul.LayerUpload.Finish(dgst)
	if err == nil {
		lul.parent.notify("layer push", lul.parent.listener.LayerPushed(lul.parent.Repository, layer))
	}
	return layer, err
}
