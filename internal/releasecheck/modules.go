package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// unpublishedMarker starts a line of a go.mod whose module is not published:
// the release check neither zips nor installs it, and allows it a replace.
// Every other go.mod in the repository is a published module.
const unpublishedMarker = "// Unpublished:"

// goModule is one go.mod of the repository.
type goModule struct {
	// Dir is the module's directory relative to the repository root,
	// slash-separated; "." for the root module.
	Dir string
	// Published is false when the go.mod carries unpublishedMarker.
	Published bool
	File      *modfile.File
}

// Path is the module path.
func (m goModule) Path() string { return m.File.Module.Mod.Path }

// GoVersion is the module's go directive ("" when it has none).
func (m goModule) GoVersion() string {
	if m.File.Go == nil {
		return ""
	}
	return m.File.Go.Version
}

// findModules returns every module of the repository at repo, the root
// module first, then by directory. It skips what the go command skips:
// directories named testdata or vendor, and those starting with "." or "_".
func findModules(repo string) ([]goModule, error) {
	var mods []goModule
	err := filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != repo && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if name != "go.mod" {
			return nil
		}
		rel, err := filepath.Rel(repo, filepath.Dir(p))
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := modfile.Parse(p, data, nil)
		if err != nil {
			return err
		}
		if f.Module == nil {
			return fmt.Errorf("%s: no module directive", p)
		}
		mods = append(mods, goModule{Dir: filepath.ToSlash(rel), Published: !hasMarker(data), File: f})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(mods, func(i, j int) bool {
		if (mods[i].Dir == ".") != (mods[j].Dir == ".") {
			return mods[i].Dir == "."
		}
		return mods[i].Dir < mods[j].Dir
	})
	if len(mods) == 0 || mods[0].Dir != "." {
		return nil, fmt.Errorf("%s: no go.mod at the repository root", repo)
	}
	return mods, nil
}

func hasMarker(gomod []byte) bool {
	for line := range bytes.Lines(gomod) {
		if bytes.HasPrefix(bytes.TrimSpace(line), []byte(unpublishedMarker)) {
			return true
		}
	}
	return false
}

// published returns the published modules of mods, the root first.
func published(mods []goModule) []goModule {
	var out []goModule
	for _, m := range mods {
		if m.Published {
			out = append(out, m)
		}
	}
	return out
}

// checkModules checks the go.mod files of the published modules and the
// go.work at repo, and returns the version at which the published modules
// require one another: the version their first release will have.
//
// A published module must have the path its directory implies and a go
// directive; it must not replace or exclude anything (a user's build ignores
// both, and `go install module@version` refuses them); it must require the
// other published modules it uses at one real (not pseudo-) version, and no
// unpublished module. The go.work must replace each module required that
// way at that version, so that local development resolves it.
func checkModules(repo string, mods []goModule) (string, error) {
	if len(mods) == 0 || mods[0].Dir != "." {
		return "", errors.New("no root module")
	}
	if !mods[0].Published {
		return "", errors.New("go.mod: the root module is marked unpublished")
	}
	rootPath := mods[0].Path()
	paths := map[string]goModule{}
	for _, m := range mods {
		paths[m.Path()] = m
	}

	var errs []error
	fail := func(m goModule, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path.Join(m.Dir, "go.mod"), fmt.Sprintf(format, args...)))
	}
	versions := map[string][]string{} // required version → "module requires path"
	required := map[string]string{}   // published module path required by another → its directory
	for _, m := range published(mods) {
		want := rootPath
		if m.Dir != "." {
			want = rootPath + "/" + m.Dir
		}
		if m.Path() != want {
			fail(m, "module path %s, want %s (its directory)", m.Path(), want)
		}
		if m.GoVersion() == "" {
			fail(m, "no go directive")
		}
		for _, r := range m.File.Replace {
			fail(m, "replace %s => %s: a published module must not replace (users' builds ignore it and `go install` refuses it); tie local development in go.work, or mark the module %q", r.Old.Path, r.New.Path, unpublishedMarker)
		}
		for _, x := range m.File.Exclude {
			fail(m, "exclude %s %s: a published module must not exclude (`go install` refuses it)", x.Mod.Path, x.Mod.Version)
		}
		for _, r := range m.File.Require {
			dep, ours := paths[r.Mod.Path]
			if !ours {
				continue
			}
			if !dep.Published {
				fail(m, "requires %s, which is not published", r.Mod.Path)
				continue
			}
			if !semver.IsValid(r.Mod.Version) || module.IsPseudoVersion(r.Mod.Version) || r.Mod.Version == "v0.0.0" {
				fail(m, "requires %s %s: require a version the release will have (e.g. v0.1.0)", r.Mod.Path, r.Mod.Version)
				continue
			}
			versions[r.Mod.Version] = append(versions[r.Mod.Version], m.Path()+" requires "+r.Mod.Path)
			required[r.Mod.Path] = dep.Dir
		}
	}
	if len(versions) > 1 {
		var all []string
		for v, who := range versions {
			all = append(all, v+" ("+strings.Join(who, ", ")+")")
		}
		sort.Strings(all)
		errs = append(errs, fmt.Errorf("published modules require one another at different versions: %s", strings.Join(all, "; ")))
	}
	var version string
	for v := range versions {
		version = v
	}
	if version == "" && len(errs) == 0 {
		errs = append(errs, errors.New("no published module requires another: cannot tell the release version"))
	}
	if len(errs) == 0 {
		errs = append(errs, checkWork(repo, version, required)...)
	}
	return version, errors.Join(errs...)
}

// checkWork checks that go.work replaces each required published module at
// version, with its own directory.
func checkWork(repo, version string, required map[string]string) []error {
	name := filepath.Join(repo, "go.work")
	data, err := os.ReadFile(name)
	if err != nil {
		return []error{err}
	}
	wf, err := modfile.ParseWork(name, data, nil)
	if err != nil {
		return []error{err}
	}
	var errs []error
	replaced := map[string]bool{}
	for _, r := range wf.Replace {
		dir, ok := required[r.Old.Path]
		if !ok {
			continue
		}
		if r.Old.Version != version {
			errs = append(errs, fmt.Errorf("go.work: replace %s %s: want version %s, the one the go.mod files require", r.Old.Path, r.Old.Version, version))
			continue
		}
		if r.New.Version != "" || path.Clean(r.New.Path) != dir {
			errs = append(errs, fmt.Errorf("go.work: replace %s %s => %s: want => ./%s", r.Old.Path, r.Old.Version, r.New.Path, dir))
			continue
		}
		replaced[r.Old.Path] = true
	}
	var missing []string
	for p := range required {
		if !replaced[p] {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	for _, p := range missing {
		errs = append(errs, fmt.Errorf("go.work: no replace for %s %s (the workspace must resolve that requirement to the working tree)", p, version))
	}
	return errs
}
