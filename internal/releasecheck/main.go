// Command releasecheck checks that the modules of this repository install
// the way Go users install things, as `make release-check` runs it:
//
//  1. every go.mod: published modules have no replace or exclude, require one
//     another at the version of the coming release, and go.work ties them
//     locally (see checkModules); a go.mod with a line starting
//     "// Unpublished:" is not published and is skipped;
//  2. a file:// module proxy is built in a temporary directory from the
//     working tree, each published module zipped at that version;
//  3. in a sandbox (empty GOPATH and module cache, GOWORK=off, GOPROXY the
//     proxy first, GOFLAGS=-mod=mod) a scratch module `go get`s the root,
//     jetstream and prometheus modules and builds and runs a program using
//     each; `go install .../cmd/regnotify@<version>` works, and the
//     installed binary's demo delivers its events; the sandbox's module
//     cache holds our modules with the checksums of the zips built in 2;
//  4. each go directive is the real minimum: modules that claim the oldest
//     supported Go (-oldest) are vetted under that toolchain, the root
//     module's tests run under it, and modules that claim a newer Go name
//     the dependency that needs it.
//
// It exits 1, saying why, at the first failure.
//
// With -tidy it runs `go mod tidy` instead, in each module that requires
// another of ours, resolving them from the proxy of step 2 (`make tidy`).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"
)

func main() {
	repo := flag.String("repo", "../..", "the repository's root directory")
	oldest := flag.String("oldest", "go1.25.14", "the oldest Go toolchain the published modules support (a toolchain module on the module proxy)")
	keep := flag.Bool("keep", false, "keep the temporary directory (proxy, sandbox) and print its path")
	tidyMode := flag.Bool("tidy", false, "instead of checking, run `go mod tidy` in each module that requires another of ours (`make tidy`)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *repo, *oldest, *keep, *tidyMode); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("ok")
}

func run(ctx context.Context, repo, oldest string, keep, tidyMode bool) (err error) {
	repo, err = filepath.Abs(repo)
	if err != nil {
		return err
	}
	var (
		mods    []goModule
		version string
	)
	if err := step("go.mod files", func() error {
		if mods, err = findModules(repo); err != nil {
			return err
		}
		version, err = checkModules(repo, mods)
		for _, m := range mods {
			state := "published"
			if !m.Published {
				state = "unpublished, skipped"
			}
			fmt.Printf("    %-50s go %-7s %s\n", m.Path(), m.GoVersion(), state)
		}
		return err
	}); err != nil {
		return err
	}
	fmt.Printf("    release version: %s\n", version)

	tmp, err := os.MkdirTemp("", "releasecheck-")
	if err != nil {
		return err
	}
	proxyDir := filepath.Join(tmp, "proxy")
	s, err := newSandbox(ctx, filepath.Join(tmp, "sandbox"), proxyDir)
	if err != nil {
		return err
	}
	defer func() {
		if keep {
			fmt.Println("    kept", tmp)
			return
		}
		if cerr := s.clean(context.WithoutCancel(ctx)); cerr != nil && err == nil {
			err = cerr
		}
		os.RemoveAll(tmp)
	}()

	if tidyMode {
		return tidy(ctx, s, repo, proxyDir, mods, version)
	}
	if err := step("module proxy from the working tree", func() error {
		return buildProxy(repo, proxyDir, mods, version)
	}); err != nil {
		return err
	}
	if err := step("go get the libraries, build a program using each", func() error {
		return checkConsumer(ctx, s, version)
	}); err != nil {
		return err
	}
	var bin string
	if err := step("go install "+cli+"@"+version, func() error {
		bin, err = checkInstall(ctx, s, version)
		return err
	}); err != nil {
		return err
	}
	if err := step("regnotify demo", func() error {
		return checkDemo(ctx, s, bin)
	}); err != nil {
		return err
	}
	if err := step("our modules came from the proxy built from the tree", func() error {
		return checkServedFromProxy(s, proxyDir, mods, version)
	}); err != nil {
		return err
	}
	return step("go directives (oldest supported: "+oldest+")", func() error {
		notes, err := checkGoDirectives(ctx, s, proxyDir, mods, version, oldest)
		for _, n := range notes {
			fmt.Println("    " + n)
		}
		return err
	})
}

// step runs f and reports its outcome and duration.
func step(name string, f func() error) error {
	fmt.Printf("== %s\n", name)
	start := time.Now()
	err := f()
	status := "ok"
	if err != nil {
		status = "FAILED"
	}
	fmt.Printf("   %s (%.1fs)\n", status, time.Since(start).Seconds())
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
