package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// heavyDeps are the module path prefixes only the jetstream and prometheus
// modules may bring.
var heavyDeps = []string{"github.com/nats-io/", "github.com/prometheus/"}

func isHeavy(modulePath string) bool {
	for _, p := range heavyDeps {
		if strings.HasPrefix(modulePath, p) {
			return true
		}
	}
	return false
}

// README: "The JetStream endpoint, the Prometheus collector and the CLI are
// modules of their own, so importing the library never downloads NATS or
// the Prometheus client": the root module requires neither, directly or
// indirectly, and its module graph, as a user's build loads it, holds no
// module of theirs.
func TestLibraryNeverPullsNATSOrPrometheus(t *testing.T) {
	mods, err := findModules(repoRoot)
	require.NoError(t, err)
	require.Equal(t, ".", mods[0].Dir)
	require.NotEmpty(t, mods[0].File.Require)
	for _, r := range mods[0].File.Require {
		assert.False(t, isHeavy(r.Mod.Path), "go.mod requires %s %s", r.Mod.Path, r.Mod.Version)
	}

	// The module graph depends on go.mod files alone: the root's, copied
	// out of the workspace (with its go.sum, to verify the others), then
	// those of its requirements.
	dir := t.TempDir()
	for _, name := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(repoRoot, name))
		require.NoError(t, err)
		writeFile(t, filepath.Join(dir, name), string(data))
	}
	cmd := exec.CommandContext(t.Context(), "go", "mod", "graph")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go mod graph: %s", stderr.String())
	modules := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		for _, node := range strings.Fields(line) {
			path, _, _ := strings.Cut(node, "@")
			modules[path] = true
		}
	}
	require.True(t, modules["github.com/sirupsen/logrus"], "the graph holds the requirements: %s", out)
	for m := range modules {
		assert.False(t, isHeavy(m), "the module graph holds %s", m)
	}
}
