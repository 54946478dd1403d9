package modset

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

// Published is a library module as Publish wrote it.
type Published struct {
	module.Version
	// Sum and GoModSum are what go.sum records for the module's zip and its go.mod.
	Sum, GoModSum string
}

// Publish writes every library module, as committed at HEAD, at version into dir, laid out
// as a module proxy that GOPROXY=file://<dir> serves: <module>/@v/list, and <version>.info,
// .mod and .zip. The zips hold what the go command would make from the tags: the files git
// archives (so nothing ignored or untracked), nested modules left out, vendor directories
// and file names under the rules of golang.org/x/mod/zip, and the root's LICENSE copied
// into a nested module that has none. A version once published never changes, so Publish
// refuses one that dir holds already.
func (r *Repo) Publish(ctx context.Context, dir, version string) ([]Published, error) {
	if err := r.CheckVersion(version); err != nil {
		return nil, err
	}
	if err := r.CheckClean(ctx); err != nil {
		return nil, fmt.Errorf("publishing serves what is committed: %w", err)
	}
	rev, err := git(ctx, r.Root, "rev-parse", "HEAD")
	if err != nil {
		return nil, err
	}
	rev = strings.TrimSpace(rev)
	committed, err := git(ctx, r.Root, "show", "--no-patch", "--format=%cI", rev)
	if err != nil {
		return nil, err
	}
	when, err := time.Parse(time.RFC3339, strings.TrimSpace(committed))
	if err != nil {
		return nil, fmt.Errorf("commit time of %s: %w", rev, err)
	}
	var published []Published
	for _, m := range r.Libraries() {
		p, err := r.publish(ctx, dir, m, version, rev, when.UTC())
		if err != nil {
			return published, fmt.Errorf("publishing %s: %w", m.Path, err)
		}
		published = append(published, p)
	}
	return published, nil
}

func (r *Repo) publish(ctx context.Context, dir string, m *Module, version, rev string, when time.Time) (Published, error) {
	mv := module.Version{Path: m.Path, Version: version}
	p := Published{Version: mv}
	escPath, err := module.EscapePath(m.Path)
	if err != nil {
		return p, err
	}
	escVersion, err := module.EscapeVersion(version)
	if err != nil {
		return p, err
	}
	vdir := filepath.Join(dir, filepath.FromSlash(escPath), "@v")
	base := filepath.Join(vdir, escVersion)
	for _, ext := range []string{".info", ".mod", ".zip"} {
		if _, err := os.Stat(base + ext); !errors.Is(err, fs.ErrNotExist) {
			return p, fmt.Errorf("%s is published in %s already, and a published version never changes", version, dir)
		}
	}

	goMod, err := run(ctx, r.Root, nil, "git", "show", rev+":"+path.Join(m.Dir, "go.mod"))
	if err != nil {
		return p, err
	}
	if got := modfile.ModulePath(goMod); got != m.Path {
		return p, fmt.Errorf("%s/go.mod at %s declares module %q", m.Dir, rev, got)
	}
	files, err := archived(ctx, r.Root, rev, m.Dir)
	if err != nil {
		return p, err
	}
	var zipped bytes.Buffer
	if err := modzip.Create(&zipped, mv, files); err != nil {
		return p, err
	}
	subdir := m.Dir
	if subdir == "." {
		subdir = ""
	}
	info, err := json.Marshal(revInfo{
		Version: version,
		Time:    when,
		Origin:  &origin{VCS: "git", Subdir: subdir, Hash: rev},
	})
	if err != nil {
		return p, err
	}

	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return p, err
	}
	for ext, data := range map[string][]byte{".mod": goMod, ".zip": zipped.Bytes(), ".info": info} {
		if err := os.WriteFile(base+ext, data, 0o644); err != nil {
			return p, err
		}
	}
	// The list last: it names only versions whose files are all there.
	if err := addToList(filepath.Join(vdir, "list"), version); err != nil {
		return p, err
	}

	if p.Sum, err = dirhash.HashZip(base+".zip", dirhash.Hash1); err != nil {
		return p, err
	}
	p.GoModSum, err = dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(goMod)), nil
	})
	return p, err
}

// revInfo is the .info document of a module proxy, as the go command reads it.
type revInfo struct {
	Version string
	Time    time.Time
	Origin  *origin `json:",omitempty"`
}

// origin says where a version comes from, as the go command records it.
type origin struct {
	VCS    string `json:",omitempty"`
	Subdir string `json:",omitempty"`
	Hash   string `json:",omitempty"`
}

func addToList(name, version string) error {
	data, err := os.ReadFile(name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	versions := append(strings.Fields(string(data)), version)
	semver.Sort(versions)
	return os.WriteFile(name, []byte(strings.Join(versions, "\n")+"\n"), 0o644)
}

// archived returns the files of the module in dir at rev, as the go command gathers them
// from git for a module zip: git archive of the module's directory (with line endings as
// committed), and the repository's LICENSE when a nested module has none.
func archived(ctx context.Context, root, rev, dir string) ([]modzip.File, error) {
	args := []string{"-c", "core.autocrlf=input", "-c", "core.eol=lf", "archive", "--format=zip", rev}
	prefix := ""
	if dir != "." {
		args = append(args, "--", dir)
		prefix = dir + "/"
	}
	data, err := run(ctx, root, nil, "git", args...)
	if err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	var files []modzip.File
	haveLicense := false
	for _, zf := range zr.File {
		name, ok := strings.CutPrefix(zf.Name, prefix)
		if !ok || name == "" || strings.HasSuffix(name, "/") {
			continue
		}
		files = append(files, archivedFile{name, zf})
		haveLicense = haveLicense || name == "LICENSE"
	}
	if !haveLicense && dir != "." {
		if license, err := run(ctx, root, nil, "git", "cat-file", "blob", rev+":LICENSE"); err == nil {
			files = append(files, licenseFile(license))
		}
	}
	return files, nil
}

// archivedFile is a file of a git archive.
type archivedFile struct {
	name string
	f    *zip.File
}

func (a archivedFile) Path() string                 { return a.name }
func (a archivedFile) Lstat() (os.FileInfo, error)  { return a.f.FileInfo(), nil }
func (a archivedFile) Open() (io.ReadCloser, error) { return a.f.Open() }

// licenseFile is the repository's LICENSE, copied into a nested module.
type licenseFile []byte

func (l licenseFile) Path() string                 { return "LICENSE" }
func (l licenseFile) Lstat() (os.FileInfo, error)  { return l, nil }
func (l licenseFile) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(l)), nil }

// licenseFile is its own os.FileInfo: a regular file.
func (l licenseFile) Name() string       { return "LICENSE" }
func (l licenseFile) Size() int64        { return int64(len(l)) }
func (l licenseFile) Mode() fs.FileMode  { return 0o644 }
func (l licenseFile) ModTime() time.Time { return time.Time{} }
func (l licenseFile) IsDir() bool        { return false }
func (l licenseFile) Sys() any           { return nil }
