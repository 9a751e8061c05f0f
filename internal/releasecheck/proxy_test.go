package main

import (
	"archive/zip"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/module"
)

func TestBuildProxy(t *testing.T) {
	mods, err := findModules(repoRoot)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, buildProxy(repoRoot, dir, mods, "v0.1.0"))

	for _, m := range mods {
		vdir := filepath.Join(dir, filepath.FromSlash(m.Path()), "@v")
		_, err := os.Stat(vdir)
		if !m.Published {
			assert.True(t, os.IsNotExist(err), "%s is not in the proxy", m.Path())
			continue
		}
		require.NoError(t, err, m.Path())
		list, err := os.ReadFile(filepath.Join(vdir, "list"))
		require.NoError(t, err)
		assert.Equal(t, "v0.1.0\n", string(list))
		gomod, err := os.ReadFile(filepath.Join(vdir, "v0.1.0.mod"))
		require.NoError(t, err)
		want, err := os.ReadFile(filepath.Join(repoRoot, m.Dir, "go.mod"))
		require.NoError(t, err)
		assert.Equal(t, string(want), string(gomod))
	}

	// The root zip holds the root module alone: no file of a nested module.
	zr, err := zip.OpenReader(filepath.Join(dir, "github.com", "regnotify", "notifications", "@v", "v0.1.0.zip"))
	require.NoError(t, err)
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	const prefix = "github.com/regnotify/notifications@v0.1.0/"
	assert.Contains(t, names, prefix+"go.mod")
	assert.Contains(t, names, prefix+"api_compat_test.go")
	for _, n := range names {
		require.True(t, strings.HasPrefix(n, prefix), n)
		for _, nested := range []string{"jetstream/", "prometheus/", "cmd/", "bench/", "internal/releasecheck/"} {
			assert.False(t, strings.HasPrefix(strings.TrimPrefix(n, prefix), nested), "root zip holds %s", n)
		}
	}
}

// rootCopy returns a copy of the root module's files (what its zip holds),
// outside the repository and so outside its workspace.
func rootCopy(t *testing.T) string {
	t.Helper()
	mods, err := findModules(repoRoot)
	require.NoError(t, err)
	proxyDir := t.TempDir()
	mv := module.Version{Path: mods[0].Path(), Version: "v0.1.0"}
	require.NoError(t, addToProxy(proxyDir, mv, repoRoot))
	dir, err := extract(proxyDir, filepath.Join(t.TempDir(), "root"), mv)
	require.NoError(t, err)
	return dir
}

// goVet runs `go vet` with args in dir, as its own module, and returns its
// output and error.
func goVet(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(context.Background(), "go", append([]string{"vet"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestRemovedSeedNameFails renames a name of the 2015 API throughout the
// root package except in api_compat_test.go: the package still builds, and
// only the compatibility test notices, failing vet (and so the release
// check, which vets and tests the root module).
func TestRemovedSeedNameFails(t *testing.T) {
	dir := rootCopy(t)
	word := regexp.MustCompile(`\bNewRequestRecord\b`)
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	renamed := 0
	for _, f := range files {
		if filepath.Base(f) == "api_compat_test.go" {
			continue
		}
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		if word.Match(data) {
			renamed++
			require.NoError(t, os.WriteFile(f, word.ReplaceAll(data, []byte("MakeRequestRecord")), 0o644))
		}
	}
	require.NotZero(t, renamed)

	out, err := goVet(t, dir, ".")
	require.Error(t, err, out)
	assert.Contains(t, out, "api_compat_test.go")
	assert.Contains(t, out, "NewRequestRecord")
}

// TestGoDirectiveOlderThanNeededFails lowers the root module's go directive
// to 1.24: vet reports the standard library names the code uses that 1.24
// lacks, and the release check refuses a directive older than the oldest
// Go it tests.
func TestGoDirectiveOlderThanNeededFails(t *testing.T) {
	dir := rootCopy(t)
	edit(t, filepath.Join(dir, "go.mod"), "\ngo 1.25.0\n", "\ngo 1.24.0\n")

	out, err := goVet(t, dir, "./...")
	require.Error(t, err, out)
	assert.Regexp(t, `requires go1\.25 or later`, out)

	mods, err := findModules(dir)
	require.NoError(t, err)
	_, err = checkGoDirectives(context.Background(), nil, "", mods[:1], "v0.1.0", "go1.25.14")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "go.mod: go 1.24.0 is older than the oldest Go this project tests (go1.25.14)")
}
