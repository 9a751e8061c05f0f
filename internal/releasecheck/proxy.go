package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

// buildProxy writes, under dir, a module proxy in the layout the go command
// reads through GOPROXY=file://dir: each published module of mods, zipped
// from the working tree at repo (what a tag at this commit would publish),
// at version.
func buildProxy(repo, dir string, mods []goModule, version string) error {
	for _, m := range published(mods) {
		if err := addToProxy(dir, module.Version{Path: m.Path(), Version: version}, filepath.Join(repo, filepath.FromSlash(m.Dir))); err != nil {
			return err
		}
	}
	return nil
}

// addToProxy adds the module in srcDir to the proxy at dir as mv: its zip
// (made by golang.org/x/mod/zip, which leaves out nested modules, vendor
// directories and files a module zip may not hold, and enforces the size
// limits), its go.mod, its .info and a version list.
func addToProxy(dir string, mv module.Version, srcDir string) error {
	base, err := proxyBase(dir, mv)
	if err != nil {
		return err
	}
	vdir := filepath.Dir(base)
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return err
	}

	zf, err := os.Create(base + ".zip")
	if err != nil {
		return err
	}
	if err := modzip.CreateFromDir(zf, mv, srcDir); err != nil {
		zf.Close()
		return fmt.Errorf("zip %s: %w", mv, err)
	}
	if err := zf.Close(); err != nil {
		return err
	}

	gomod, err := os.ReadFile(filepath.Join(srcDir, "go.mod"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".mod", gomod, 0o644); err != nil {
		return err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{mv.Version, time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".info", info, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(vdir, "list"), []byte(mv.Version+"\n"), 0o644)
}

// checkServedFromProxy checks that the sandbox's module cache holds each
// published module at version with the checksum of the zip built from the
// working tree: the go command took our modules from that proxy and from
// nowhere else.
func checkServedFromProxy(s *sandbox, proxyDir string, mods []goModule, version string) error {
	for _, m := range published(mods) {
		mv := module.Version{Path: m.Path(), Version: version}
		ours, err := proxyBase(proxyDir, mv)
		if err != nil {
			return err
		}
		want, err := dirhash.HashZip(ours+".zip", dirhash.DefaultHash)
		if err != nil {
			return err
		}
		// The download cache has the layout of a proxy, plus .ziphash files.
		downloaded, err := proxyBase(filepath.Join(s.modCache(), "cache", "download"), mv)
		if err != nil {
			return err
		}
		got, err := os.ReadFile(downloaded + ".ziphash")
		if err != nil {
			return fmt.Errorf("%s@%s was not downloaded: %w", m.Path(), version, err)
		}
		if strings.TrimSpace(string(got)) != want {
			return fmt.Errorf("%s@%s: downloaded %s, but the zip built from the working tree is %s", m.Path(), version, strings.TrimSpace(string(got)), want)
		}
	}
	return nil
}

// proxyBase returns where the files of mv lie in the proxy at dir, less
// their extension (.zip, .mod, .info): dir/<escaped path>/@v/<escaped version>.
func proxyBase(dir string, mv module.Version) (string, error) {
	escPath, err := module.EscapePath(mv.Path)
	if err != nil {
		return "", err
	}
	escVersion, err := module.EscapeVersion(mv.Version)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.FromSlash(escPath), "@v", escVersion), nil
}
