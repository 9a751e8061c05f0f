package inmemory_test

import (
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	"github.com/regnotify/notifications/manifest"
	"github.com/regnotify/notifications/storage/inmemory"
)

// Push a layer in two chunks, the second after resuming the upload, then tag
// a manifest that refers to it.
func Example() {
	repo := inmemory.New().Repository("library/hello")

	content := []byte("hello, layer")
	dgst := digest.FromBytes(content)

	up, _ := repo.Layers().Upload()
	up.Write(content[:5])
	up.Close() // keeps the upload; resume it by UUID

	up, _ = repo.Layers().Resume(up.UUID())
	up.Write(content[5:])
	layer, err := up.Finish(dgst)
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := io.ReadAll(layer)
	layer.Close()
	fmt.Printf("%s: %q\n", layer.Digest(), b)

	m := &manifest.SignedManifest{
		Manifest: manifest.Manifest{
			Name:     repo.Name(),
			Tag:      "latest",
			FSLayers: []manifest.FSLayer{{BlobSum: dgst}},
		},
		Raw: []byte(`{"name":"library/hello","tag":"latest"}`),
	}
	repo.Manifests().Put("latest", m)
	tags, _ := repo.Manifests().Tags()
	fmt.Println(tags)
	// Output:
	// sha256:e4943350e8b6650afd257bd0f1e428f302d42f763d9df25e4501fba4710923cc: "hello, layer"
	// [latest]
}
