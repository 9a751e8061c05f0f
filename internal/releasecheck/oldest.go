package main

import (
	"context"
	"fmt"
	"go/version"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// checkGoDirectives proves that each published module's go directive states
// the oldest Go it works with, given oldest, the oldest toolchain the project
// supports (e.g. go1.25.14):
//
//   - a module that claims a Go older than oldest's release fails: nothing
//     proves that it works there;
//   - a module that claims oldest's release (or older) is vetted under oldest,
//     and the root module's tests run under it, on the files its zip holds;
//     vet reports both language features and standard library names newer
//     than the go directive, so a directive older than the code needs fails;
//   - a module that claims a newer release must have a dependency that
//     requires it; the returned notes name it.
func checkGoDirectives(ctx context.Context, s *sandbox, proxyDir string, mods []goModule, v, oldest string) ([]string, error) {
	if !version.IsValid(oldest) {
		return nil, fmt.Errorf("-oldest %q: not a Go toolchain version", oldest)
	}
	oldestLang := version.Lang(oldest)
	var notes []string
	for _, m := range published(mods) {
		claim := "go" + m.GoVersion()
		if version.Compare(version.Lang(claim), oldestLang) < 0 {
			return notes, fmt.Errorf("%s: go %s is older than the oldest Go this project tests (%s): raise the directive to %s", goModPath(m), m.GoVersion(), oldest, strings.TrimPrefix(oldestLang, "go")+".0")
		}
		dir, err := extract(proxyDir, filepath.Join(s.dir, "src", strings.ReplaceAll(m.Path(), "/", "_")), module.Version{Path: m.Path(), Version: v})
		if err != nil {
			return notes, err
		}
		if version.Compare(version.Lang(claim), oldestLang) > 0 {
			why, err := newGoDeps(ctx, s, dir, version.Lang(claim))
			if err != nil {
				return notes, err
			}
			if len(why) == 0 {
				return notes, fmt.Errorf("%s: go %s, but no dependency needs more than %s: lower the directive to %s.0 (this check then proves it under %s), or raise -oldest if our own code needs %s", goModPath(m), m.GoVersion(), oldestLang, strings.TrimPrefix(oldestLang, "go"), oldest, version.Lang(claim))
			}
			notes = append(notes, fmt.Sprintf("%s needs go %s for %s", m.Path(), m.GoVersion(), strings.Join(why, ", ")))
			continue
		}
		tc := []string{"GOTOOLCHAIN=" + oldest}
		if _, err := s.run(ctx, dir, tc, 10*time.Minute, "go", "vet", "./..."); err != nil {
			return notes, err
		}
		what := "vet"
		if m.Dir == "." {
			if _, err := s.run(ctx, dir, tc, 10*time.Minute, "go", "test", "-count=1", "./..."); err != nil {
				return notes, err
			}
			what = "vet and tests"
		}
		notes = append(notes, fmt.Sprintf("%s (go %s): %s pass under %s", m.Path(), m.GoVersion(), what, oldest))
	}
	return notes, nil
}

// newGoDeps lists the modules in the build list of the module in dir whose
// go directive is at least lang.
func newGoDeps(ctx context.Context, s *sandbox, dir, lang string) ([]string, error) {
	out, err := s.run(ctx, dir, nil, 5*time.Minute, "go", "list", "-m", "-f", "{{if not .Main}}{{.Path}}@{{.Version}} {{.GoVersion}}{{end}}", "all")
	if err != nil {
		return nil, err
	}
	var why []string
	for _, line := range strings.Split(out, "\n") {
		mod, goV, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		if version.IsValid("go"+goV) && version.Compare(version.Lang("go"+goV), lang) >= 0 {
			why = append(why, mod+" (go "+goV+")")
		}
	}
	sort.Strings(why)
	return why, nil
}

// extract unzips mv from the proxy at proxyDir into dst and returns dst.
func extract(proxyDir, dst string, mv module.Version) (string, error) {
	base, err := proxyBase(proxyDir, mv)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	if err := modzip.Unzip(dst, mv, base+".zip"); err != nil {
		return "", fmt.Errorf("unzip %s: %w", mv, err)
	}
	return dst, nil
}

func goModPath(m goModule) string { return filepath.ToSlash(filepath.Join(m.Dir, "go.mod")) }
