package modset

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/mod/semver"
)

// Tags returns the tags that release every library module at version, in the order they
// are made: the root module's first, then the nested modules' by directory. It refuses a
// version that cannot be released, that is not above every version the root module was
// released at already, or whose tags exist.
func (r *Repo) Tags(ctx context.Context, version string) ([]string, error) {
	if err := r.CheckVersion(version); err != nil {
		return nil, err
	}
	existing, err := git(ctx, r.Root, "tag", "--list", "v*")
	if err != nil {
		return nil, err
	}
	for _, t := range strings.Fields(existing) {
		if semver.IsValid(t) && semver.Compare(t, version) >= 0 {
			return nil, fmt.Errorf("%s is already tagged: a new release must be above it", t)
		}
	}
	var tags []string
	for _, m := range r.Libraries() {
		tag := m.Tag(version)
		if _, err := git(ctx, r.Root, "rev-parse", "--quiet", "--verify", "refs/tags/"+tag); err == nil {
			return nil, fmt.Errorf("tag %s exists already", tag)
		}
		tags = append(tags, tag)
	}
	return tags, nil
}

// CreateTags makes the annotated tags of Tags on the commit checked out and returns them.
// When one fails, the error says which were made already.
func (r *Repo) CreateTags(ctx context.Context, version string) ([]string, error) {
	tags, err := r.Tags(ctx, version)
	if err != nil {
		return nil, err
	}
	libs := r.Libraries()
	for i, tag := range tags {
		msg := libs[i].Path + " " + version
		if _, err := git(ctx, r.Root, "tag", "--annotate", "--message", msg, tag, "HEAD"); err != nil {
			return tags[:i], fmt.Errorf("made %d of %d tags (%s): %w", i, len(tags), strings.Join(tags[:i], " "), err)
		}
	}
	return tags, nil
}
