package modset_test

import (
	"context"
	"reflect"
	"testing"
)

func TestTagsRootFirstThenNestedModules(t *testing.T) {
	r := newRepo(t, layout())
	ctx := context.Background()
	want := []string{"v0.1.0", "adapter/v0.1.0", "adapter/nested/v0.1.0", "cmd/hello/v0.1.0"}

	tags, err := r.Tags(ctx, "v0.1.0")
	if err != nil || !reflect.DeepEqual(tags, want) {
		t.Fatalf("Tags = %v, %v; want %v", tags, err, want)
	}
	if got := gitIn(t, r.Root, "tag", "--list"); got != "" {
		t.Fatalf("Tags made tags: %q", got)
	}

	tags, err = r.CreateTags(ctx, "v0.1.0")
	if err != nil || !reflect.DeepEqual(tags, want) {
		t.Fatalf("CreateTags = %v, %v; want %v", tags, err, want)
	}
	head := gitIn(t, r.Root, "rev-parse", "HEAD")
	for _, tag := range want {
		if kind := gitIn(t, r.Root, "cat-file", "-t", "refs/tags/"+tag); kind != "tag" {
			t.Errorf("%s is a %s, want an annotated tag", tag, kind)
		}
		if got := gitIn(t, r.Root, "rev-parse", tag+"^{commit}"); got != head {
			t.Errorf("%s tags %s, want HEAD %s", tag, got, head)
		}
	}
	if msg := gitIn(t, r.Root, "tag", "--list", "--format=%(contents:subject)", "adapter/nested/v0.1.0"); msg != "example.com/lib/adapter/nested v0.1.0" {
		t.Errorf("tag message %q", msg)
	}
}

func TestTagsRefuse(t *testing.T) {
	ctx := context.Background()
	t.Run("a version made already", func(t *testing.T) {
		r := newRepo(t, layout())
		if _, err := r.CreateTags(ctx, "v0.1.0"); err != nil {
			t.Fatal(err)
		}
		_, err := r.CreateTags(ctx, "v0.1.0")
		wantError(t, err, "v0.1.0 is already tagged")
	})
	t.Run("a version below the last release", func(t *testing.T) {
		r := newRepo(t, layout())
		gitIn(t, r.Root, "tag", "v0.3.0")
		_, err := r.Tags(ctx, "v0.2.0")
		wantError(t, err, "v0.3.0 is already tagged: a new release must be above it")
	})
	t.Run("a nested module's tag that exists", func(t *testing.T) {
		r := newRepo(t, layout())
		gitIn(t, r.Root, "tag", "adapter/nested/v0.2.0")
		_, err := r.CreateTags(ctx, "v0.2.0")
		wantError(t, err, "tag adapter/nested/v0.2.0 exists already")
		if got := gitIn(t, r.Root, "tag", "--list", "v*"); got != "" {
			t.Errorf("a refused release made tags: %q", got)
		}
	})
	t.Run("a version that cannot be released", func(t *testing.T) {
		r := newRepo(t, layout())
		_, err := r.Tags(ctx, "v0.0.0")
		wantError(t, err, "placeholder")
	})
}
