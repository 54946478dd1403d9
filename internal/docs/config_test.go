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
// core.Config, in the struct's order, and nothing else.
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
	for _, m := range regexp.MustCompile("(?m)^\\| `(\\w+)` \\|").FindAllSubmatch(table, -1) {
		listed = append(listed, string(m[1]))
	}
	var fields []string
	typ := reflect.TypeFor[core.Config]()
	for i := range typ.NumField() {
		if f := typ.Field(i); f.IsExported() {
			fields = append(fields, f.Name)
		}
	}
	if !slices.Equal(listed, fields) {
		t.Errorf("README's configuration table lists\n  %q\ncore.Config has\n  %q", listed, fields)
	}
}
