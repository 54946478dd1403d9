package docs

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"testing"

	"github.com/cfaccess/cfaccess/core"
)

// TestREADMEConfigTable: the configuration table of README.md lists every field of
// core.Config, in the struct's order, and nothing else; the fields of its groups (Tokens,
// Keys, Identities, and the SharedStore of Identities.Shared) by their path, after the group
// itself where the group has a row of its own.
func TestREADMEConfigTable(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	table := regexp.MustCompile("(?s)\\| `core.Config` field \\|.*?\n\n").Find(readme)
	if table == nil {
		t.Fatal("README.md has no table headed | `core.Config` field |")
	}
	var listed []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([\\w.]+)` \\|").FindAllSubmatch(table, -1) {
		listed = append(listed, string(m[1]))
	}
	fields := configFields(reflect.TypeFor[core.Config](), "", listed)
	if !slices.Equal(listed, fields) {
		t.Errorf("README's configuration table lists\n  %q\ncore.Config has\n  %q", listed, fields)
	}
}

// configFields lists the exported fields of the struct typ, prefixed, descending into the
// structs of package core that have exported fields (the groups). A group is listed itself
// only when the README gives it a row of its own (Identities.Shared does: it is optional).
func configFields(typ reflect.Type, prefix string, listed []string) []string {
	var out []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		name := prefix + f.Name
		t := f.Type
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t.PkgPath() != typ.PkgPath() || !hasExported(t) {
			out = append(out, name)
			continue
		}
		if slices.Contains(listed, name) {
			out = append(out, name)
		}
		out = append(out, configFields(t, name+".", listed)...)
	}
	return out
}

func hasExported(t reflect.Type) bool {
	for i := range t.NumField() {
		if t.Field(i).IsExported() {
			return true
		}
	}
	return false
}
