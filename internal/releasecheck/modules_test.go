package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const repoRoot = "../.."

// copyModFiles copies every go.mod and the go.work of the repository into a
// new directory, keeping their relative paths, and returns it.
func copyModFiles(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	mods, err := findModules(repoRoot)
	require.NoError(t, err)
	for _, m := range mods {
		data, err := os.ReadFile(filepath.Join(repoRoot, m.Dir, "go.mod"))
		require.NoError(t, err)
		writeFile(t, filepath.Join(dst, m.Dir, "go.mod"), string(data))
	}
	data, err := os.ReadFile(filepath.Join(repoRoot, "go.work"))
	require.NoError(t, err)
	writeFile(t, filepath.Join(dst, "go.work"), string(data))
	return dst
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(name), 0o755))
	require.NoError(t, os.WriteFile(name, []byte(content), 0o644))
}

// edit replaces old by new in the file name, which must contain old.
func edit(t *testing.T, name, old, new string) {
	t.Helper()
	data, err := os.ReadFile(name)
	require.NoError(t, err)
	require.Contains(t, string(data), old, name)
	require.NoError(t, os.WriteFile(name, []byte(strings.Replace(string(data), old, new, 1)), 0o644))
}

func TestCheckModules(t *testing.T) {
	const (
		rootReq = "github.com/regnotify/notifications v0.1.0"
		jsReq   = "github.com/regnotify/notifications/jetstream v0.1.0"
	)
	tests := []struct {
		name    string
		plant   func(t *testing.T, dir string)
		wantErr []string // substrings of the error; none: no error
	}{
		{name: "repository as is", plant: func(*testing.T, string) {}},
		{
			name: "replace in a published module",
			plant: func(t *testing.T, dir string) {
				edit(t, filepath.Join(dir, "jetstream", "go.mod"), "\nrequire", "\nreplace github.com/regnotify/notifications => ../\n\nrequire")
			},
			wantErr: []string{"jetstream/go.mod: replace github.com/regnotify/notifications => ../"},
		},
		{
			name: "exclude in the root module",
			plant: func(t *testing.T, dir string) {
				edit(t, filepath.Join(dir, "go.mod"), "\nrequire", "\nexclude github.com/google/uuid v1.5.0\n\nrequire")
			},
			wantErr: []string{"go.mod: exclude github.com/google/uuid v1.5.0"},
		},
		{
			name: "replace in an unpublished module",
			plant: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "interop", "go.mod"), "// Unpublished: tests against real registries.\nmodule github.com/regnotify/notifications/interop\n\ngo 1.26.0\n\nrequire github.com/regnotify/notifications v0.1.0\n\nreplace github.com/regnotify/notifications => ../\n")
			},
		},
		{
			name: "new module without the marker is published",
			plant: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "interop", "go.mod"), "module github.com/regnotify/notifications/interop\n\ngo 1.26.0\n\nreplace github.com/regnotify/notifications => ../\n")
			},
			wantErr: []string{"interop/go.mod: replace"},
		},
		{
			name: "module path does not match its directory",
			plant: func(t *testing.T, dir string) {
				edit(t, filepath.Join(dir, "prometheus", "go.mod"), "module github.com/regnotify/notifications/prometheus", "module github.com/regnotify/notifications/metrics")
			},
			wantErr: []string{"prometheus/go.mod: module path github.com/regnotify/notifications/metrics, want github.com/regnotify/notifications/prometheus"},
		},
		{
			name: "requirement on a version that will never exist",
			plant: func(t *testing.T, dir string) {
				edit(t, filepath.Join(dir, "prometheus", "go.mod"), rootReq, "github.com/regnotify/notifications v0.0.0")
			},
			wantErr: []string{"prometheus/go.mod: requires github.com/regnotify/notifications v0.0.0"},
		},
		{
			name: "requirements at two versions",
			plant: func(t *testing.T, dir string) {
				edit(t, filepath.Join(dir, "cmd", "regnotify", "go.mod"), jsReq, "github.com/regnotify/notifications/jetstream v0.2.0")
			},
			wantErr: []string{"require one another at different versions", "v0.2.0 (github.com/regnotify/notifications/cmd/regnotify requires github.com/regnotify/notifications/jetstream)"},
		},
		{
			name: "requirement on an unpublished module",
			plant: func(t *testing.T, dir string) {
				edit(t, filepath.Join(dir, "prometheus", "go.mod"), rootReq, rootReq+"\n\tgithub.com/regnotify/notifications/bench v0.1.0")
			},
			wantErr: []string{"prometheus/go.mod: requires github.com/regnotify/notifications/bench, which is not published"},
		},
		{
			name: "go.work replaces another version",
			plant: func(t *testing.T, dir string) {
				edit(t, filepath.Join(dir, "go.work"), "notifications/jetstream v0.1.0 =>", "notifications/jetstream v0.0.1 =>")
			},
			wantErr: []string{"go.work: replace github.com/regnotify/notifications/jetstream v0.0.1: want version v0.1.0", "go.work: no replace for github.com/regnotify/notifications/jetstream v0.1.0"},
		},
		{
			name: "go.work replaces with another directory",
			plant: func(t *testing.T, dir string) {
				edit(t, filepath.Join(dir, "go.work"), "=> ./jetstream", "=> ./prometheus")
			},
			wantErr: []string{"go.work: replace github.com/regnotify/notifications/jetstream v0.1.0 => ./prometheus: want => ./jetstream"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyModFiles(t)
			tt.plant(t, dir)
			mods, err := findModules(dir)
			require.NoError(t, err)
			version, err := checkModules(dir, mods)
			if len(tt.wantErr) == 0 {
				require.NoError(t, err)
				assert.Equal(t, "v0.1.0", version)
				return
			}
			require.Error(t, err)
			for _, want := range tt.wantErr {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestFindModulesMarksUnpublished(t *testing.T) {
	mods, err := findModules(repoRoot)
	require.NoError(t, err)
	state := map[string]bool{}
	for _, m := range mods {
		state[m.Dir] = m.Published
	}
	assert.Equal(t, ".", mods[0].Dir, "the root module comes first")
	for _, dir := range []string{".", "jetstream", "prometheus", "cmd/regnotify"} {
		assert.True(t, state[dir], "%s is published", dir)
	}
	for _, dir := range []string{"bench", "internal/releasecheck"} {
		published, ok := state[dir]
		assert.True(t, ok, "%s found", dir)
		assert.False(t, published, "%s is unpublished", dir)
	}
}

func TestDropOurSums(t *testing.T) {
	in := `github.com/google/uuid v1.6.0 h1:abc=
github.com/google/uuid v1.6.0/go.mod h1:def=
github.com/regnotify/notifications v0.1.0 h1:ghi=
github.com/regnotify/notifications v0.1.0/go.mod h1:jkl=
github.com/regnotify/notifications/jetstream v0.1.0/go.mod h1:mno=
github.com/regnotify/notifications v0.0.9/go.mod h1:pqr=
github.com/regnotify/notifications-other v0.1.0/go.mod h1:stu=
`
	want := `github.com/google/uuid v1.6.0 h1:abc=
github.com/google/uuid v1.6.0/go.mod h1:def=
github.com/regnotify/notifications v0.0.9/go.mod h1:pqr=
github.com/regnotify/notifications-other v0.1.0/go.mod h1:stu=
`
	assert.Equal(t, want, string(dropOurSums([]byte(in), "v0.1.0")))
}
