package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// sandbox runs the go command as a user of the published modules would:
// outside any workspace, with a module cache and GOPATH of its own, and a
// GOPROXY that serves our modules from the proxy built from the working tree.
type sandbox struct {
	dir string   // holds gopath/, bin/ and whatever the steps create
	env []string // the environment of every command
}

// newSandbox prepares a sandbox in dir whose GOPROXY lists, in order:
//   - file://proxyDir, the only source of our modules at the test version;
//   - the download cache of the machine's own module cache, as a read-only
//     file:// proxy: third-party modules are the same bytes there as on the
//     network (go.sum and the checksum database still verify them), and
//     reading them locally keeps the check fast on a cold sandbox;
//   - the machine's usual GOPROXY, for whatever that cache lacks.
//
// GOMODCACHE is empty at the start, so every module, ours included, is
// downloaded, verified and extracted as on a user's machine. The build cache
// is shared: it is keyed by content, and -trimpath keeps the sandbox's paths
// out of the keys.
func newSandbox(ctx context.Context, dir, proxyDir string) (*sandbox, error) {
	usual, err := goEnv(ctx, "GOPROXY")
	if err != nil {
		return nil, err
	}
	cache, err := goEnv(ctx, "GOMODCACHE")
	if err != nil {
		return nil, err
	}
	gopath := filepath.Join(dir, "gopath")
	proxies := []string{fileURL(proxyDir)}
	if cache != "" {
		proxies = append(proxies, fileURL(filepath.Join(cache, "cache", "download")))
	}
	if usual != "" && usual != "off" {
		proxies = append(proxies, usual)
	}
	set := map[string]string{
		"GOPATH":     gopath,
		"GOMODCACHE": filepath.Join(gopath, "pkg", "mod"), // = modCache()
		"GOBIN":      filepath.Join(dir, "bin"),
		"GOWORK":     "off",
		"GOPROXY":    strings.Join(proxies, ","),
		"GOFLAGS":    "-mod=mod -trimpath",
		// Our test versions are not in the checksum database (and must
		// never be looked up there); everything else is checked as usual.
		"GONOSUMDB":   modulePrefix,
		"GOTOOLCHAIN": "local",
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; ok {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return &sandbox{dir: dir, env: env}, nil
}

// modCache is the sandbox's module cache.
func (s *sandbox) modCache() string { return filepath.Join(s.dir, "gopath", "pkg", "mod") }

// modulePrefix is the path prefix of every module of this repository.
const modulePrefix = "github.com/regnotify/notifications"

func fileURL(dir string) string {
	return "file://" + filepath.ToSlash(dir)
}

// run runs name with args in dir under the sandbox's environment plus
// extra, and returns its combined output; the error quotes that output.
func (s *sandbox) run(ctx context.Context, dir string, extra []string, timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(append([]string(nil), s.env...), extra...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s (in %s): %w\n%s", name, strings.Join(args, " "), dir, err, indent(out.String()))
	}
	return out.String(), nil
}

// clean empties the sandbox's module cache (its files are read-only) and
// removes the sandbox.
func (s *sandbox) clean(ctx context.Context) error {
	_, err := s.run(ctx, s.dir, nil, time.Minute, "go", "clean", "-modcache")
	return errors.Join(err, os.RemoveAll(s.dir))
}

func goEnv(ctx context.Context, name string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "\t" + strings.ReplaceAll(s, "\n", "\n\t")
}
