package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the repository's top directory, seen from this package's.
const repoRoot = "../.."

// libraryDirs returns the directories of the packages users import: every directory of the
// repository with non-test Go files, but for internal packages, the example servers and
// test data.
func libraryDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		switch name := d.Name(); {
		case path == repoRoot:
		case name == "internal" || name == "examples" || name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_"):
			return filepath.SkipDir
		}
		files, _ := filepath.Glob(filepath.Join(path, "*.go"))
		for _, f := range files {
			if !strings.HasSuffix(f, "_test.go") {
				dirs = append(dirs, path)
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

// TestExportedNamesAreDocumented fails for every exported name of a library package that
// go doc would show without a comment: functions, methods of exported types, types, fields
// of exported structs, methods of exported interfaces, constants and variables. A name in a
// parenthesized const or var block is documented by a comment of its own or by the block's.
func TestExportedNamesAreDocumented(t *testing.T) {
	dirs := libraryDirs(t)
	for _, want := range []string{"core", "ginaccess", "echoaccess", "echoaccess/echo5access", "chiaccess", "fiberaccess", "fiberaccess/fiber2access"} {
		if !hasDir(dirs, filepath.Join(repoRoot, want)) {
			t.Fatalf("library package %s not found among %q", want, dirs)
		}
	}
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range undocumented(f) {
				t.Errorf("%s: %s.%s has no doc comment", fset.Position(m.pos), f.Name.Name, m.name)
			}
		}
	}
}

func hasDir(dirs []string, dir string) bool {
	for _, d := range dirs {
		if filepath.Clean(d) == filepath.Clean(dir) {
			return true
		}
	}
	return false
}

// missing is an exported name without a doc comment: "Type", "Type.Field", "Type.Method".
type missing struct {
	pos  token.Pos
	name string
}

// undocumented returns the exported names of f that lack a doc comment.
func undocumented(f *ast.File) []missing {
	var out []missing
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() || d.Doc != nil {
				continue
			}
			if d.Recv == nil {
				out = append(out, missing{d.Name.Pos(), d.Name.Name})
			} else if recv, ok := exportedReceiver(d.Recv); ok {
				out = append(out, missing{d.Name.Pos(), recv + "." + d.Name.Name})
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if !s.Name.IsExported() {
						continue
					}
					if s.Doc == nil && (d.Lparen.IsValid() || d.Doc == nil) {
						out = append(out, missing{s.Name.Pos(), s.Name.Name})
					}
					out = append(out, undocumentedMembers(s.Name.Name, s.Type)...)
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() && s.Doc == nil && s.Comment == nil && d.Doc == nil {
							out = append(out, missing{n.Pos(), n.Name})
						}
					}
				}
			}
		}
	}
	return out
}

// undocumentedMembers returns the exported fields of a struct type, or methods of an
// interface type, that have neither a doc comment nor a line comment.
func undocumentedMembers(typeName string, typ ast.Expr) []missing {
	var fields *ast.FieldList
	switch t := typ.(type) {
	case *ast.StructType:
		fields = t.Fields
	case *ast.InterfaceType:
		fields = t.Methods
	default:
		return nil
	}
	var out []missing
	for _, field := range fields.List {
		for _, n := range field.Names {
			if n.IsExported() && field.Doc == nil && field.Comment == nil {
				out = append(out, missing{n.Pos(), typeName + "." + n.Name})
			}
		}
	}
	return out
}

// exportedReceiver returns the name of a method's receiver type, and whether it is exported,
// and so shown by go doc.
func exportedReceiver(recv *ast.FieldList) (string, bool) {
	t := recv.List[0].Type
	if star, ok := t.(*ast.StarExpr); ok {
		t = star.X
	}
	switch x := t.(type) { // a generic type's name is under its type parameters
	case *ast.IndexExpr:
		t = x.X
	case *ast.IndexListExpr:
		t = x.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name, id.IsExported()
	}
	return "", false
}

// TestUndocumentedFindsEveryKind keeps the check above honest: it must see each kind of
// undocumented name, and only those.
func TestUndocumentedFindsEveryKind(t *testing.T) {
	const src = `package p

func F() {}

// G is documented.
func G() {}

type T struct {
	A int
	B int // documented
	c int
}

func (T) M() {}

func (*T) N() {}

type u struct{ A int }

func (u) M() {}

// I is documented.
type I interface {
	M()
	N() // documented
}

type L[X any] struct{}

func (L[X]) M() {}

const C = 1

// D is documented.
const D = 1

const (
	E = 1
	H = 2 // documented
)

// Grouped are documented by their group.
const (
	J = 1
	K = 2
)

var V, W = 1, 2
`
	f, err := parser.ParseFile(token.NewFileSet(), "p.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range undocumented(f) {
		got = append(got, m.name)
	}
	want := []string{"F", "T", "T.A", "T.M", "T.N", "I.M", "L", "L.M", "C", "E", "V", "W"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("undocumented = %q, want %q", got, want)
	}
}
