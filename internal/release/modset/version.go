package modset

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// Requirement is a require, in one of the checkout's go.mod files, of a library module.
type Requirement struct {
	// Module is the requiring module.
	Module *Module
	// Path is the library module it requires.
	Path string
	// Version is the version it requires.
	Version string
}

// Requirements returns every require of a library module in the checkout's go.mod files.
func (r *Repo) Requirements() []Requirement {
	var reqs []Requirement
	for _, m := range r.Modules {
		for _, req := range m.file.Require {
			if lib := r.byPath(req.Mod.Path); lib != nil && lib.Library {
				reqs = append(reqs, Requirement{Module: m, Path: req.Mod.Path, Version: req.Mod.Version})
			}
		}
	}
	return reqs
}

// Version returns the one version at which the checkout's go.mod files require its library
// modules: the version a release of this checkout carries. They must all agree.
func (r *Repo) Version() (string, error) {
	reqs := r.Requirements()
	if len(reqs) == 0 {
		return "", errors.New("no go.mod requires a library module, so none says which version to release")
	}
	byVersion := map[string][]string{}
	for _, req := range reqs {
		byVersion[req.Version] = append(byVersion[req.Version], req.Module.Dir+" → "+req.Path)
	}
	if len(byVersion) == 1 {
		return reqs[0].Version, nil
	}
	var lines []string
	for v, where := range byVersion {
		lines = append(lines, fmt.Sprintf("  %s: %s", v, strings.Join(where, ", ")))
	}
	sort.Strings(lines)
	return "", fmt.Errorf("go.mod files require the library modules at different versions "+
		"(make them agree with the set command):\n%s", strings.Join(lines, "\n"))
}

// CheckVersion reports why version cannot be a release of every library module, or nil.
func (r *Repo) CheckVersion(version string) error {
	switch {
	case !semver.IsValid(version) || semver.Canonical(version) != version:
		return fmt.Errorf("%q is not a canonical semantic version such as v0.1.0", version)
	case module.IsPseudoVersion(version):
		return fmt.Errorf("%s is a pseudo-version, which no tag can carry", version)
	case version == "v0.0.0":
		return errors.New("v0.0.0 is the placeholder that no tag carries: " +
			"a module requiring it cannot be resolved outside the repository")
	}
	for _, m := range r.Libraries() {
		if err := module.Check(m.Path, version); err != nil {
			return err
		}
	}
	return nil
}

// SetVersion makes every go.mod of the checkout require the library modules at version and
// returns the directories of the modules whose go.mod it rewrote.
func (r *Repo) SetVersion(version string) ([]string, error) {
	if err := r.CheckVersion(version); err != nil {
		return nil, err
	}
	var changed []string
	for _, m := range r.Modules {
		edited := false
		for _, req := range append(m.file.Require[:0:0], m.file.Require...) {
			lib := r.byPath(req.Mod.Path)
			if lib == nil || !lib.Library || req.Mod.Version == version {
				continue
			}
			if err := m.file.AddRequire(req.Mod.Path, version); err != nil {
				return changed, fmt.Errorf("%s/go.mod: %w", m.Dir, err)
			}
			edited = true
		}
		if !edited {
			continue
		}
		m.file.Cleanup()
		data, err := m.file.Format()
		if err != nil {
			return changed, fmt.Errorf("%s/go.mod: %w", m.Dir, err)
		}
		if err := os.WriteFile(filepath.Join(r.Root, filepath.FromSlash(m.Dir), "go.mod"), data, 0o644); err != nil {
			return changed, err
		}
		changed = append(changed, m.Dir)
	}
	return changed, nil
}
