package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// tidy runs `go mod tidy` in every module of the repository that requires a
// published module, which the go command cannot do in the workspace: tidy
// ignores go.work, and the required version is not tagged yet. It resolves
// our modules from a proxy built from the working tree, in the sandbox s,
// then drops the go.sum lines of our modules: they hold the checksums of
// that test build, not of the release (see the README's release steps).
func tidy(ctx context.Context, s *sandbox, repo, proxyDir string, mods []goModule, version string) error {
	if err := buildProxy(repo, proxyDir, mods, version); err != nil {
		return err
	}
	for _, m := range mods {
		if !requiresOurs(m) {
			continue
		}
		dir := filepath.Join(repo, filepath.FromSlash(m.Dir))
		fmt.Printf("== go mod tidy in %s\n", m.Dir)
		if _, err := s.run(ctx, dir, nil, 5*time.Minute, "go", "mod", "tidy"); err != nil {
			return err
		}
		sum := filepath.Join(dir, "go.sum")
		data, err := os.ReadFile(sum)
		if err != nil {
			return err
		}
		if err := os.WriteFile(sum, dropOurSums(data, version), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// requiresOurs reports whether m requires another module of this repository.
func requiresOurs(m goModule) bool {
	for _, r := range m.File.Require {
		if r.Mod.Path == modulePrefix || strings.HasPrefix(r.Mod.Path, modulePrefix+"/") {
			return true
		}
	}
	return false
}

// dropOurSums removes from a go.sum the lines of our modules at version.
func dropOurSums(gosum []byte, version string) []byte {
	var out bytes.Buffer
	for line := range bytes.Lines(gosum) {
		f := strings.Fields(string(line))
		if len(f) >= 2 && (f[0] == modulePrefix || strings.HasPrefix(f[0], modulePrefix+"/")) &&
			strings.TrimSuffix(f[1], "/go.mod") == version {
			continue
		}
		out.Write(line)
	}
	return out.Bytes()
}
