package docs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// snippet is a ```go block of a Markdown file.
type snippet struct {
	file string // absolute path of the Markdown file
	line int    // line of the block's first line of code
	code string
}

// TestREADMESnippetsCompile compiles every ```go block of the repository's Markdown files,
// each as a package of its own in a throwaway module of a workspace made of the repository's
// modules, so that a snippet may import any of them and what they require. A snippet reads
// as a Go file without its package clause: imports, then declarations; or imports, then
// statements, which are compiled as the body of a function. It must show its imports and
// declare what it uses (a function's parameters are a good way to receive a *core.Verifier).
// Errors point at the Markdown file's own lines.
func TestREADMESnippetsCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the snippets against every module of the workspace")
	}
	snippets := markdownSnippets(t)
	if len(snippets) < 10 {
		t.Fatalf("found %d Go snippets; README.md alone has more", len(snippets))
	}
	dir := workspace(t)
	for i, s := range snippets {
		src, err := snippetFile(s)
		if err != nil {
			t.Errorf("%s:%d: %v", rel(s.file), s.line, err)
			continue
		}
		write(t, filepath.Join(dir, "snippets", fmt.Sprintf("s%02d", i), "snippet.go"), src)
	}
	if out, err := goCommand(dir, "vet", "./..."); err != nil {
		t.Errorf("the READMEs' Go snippets do not compile:\n%s", out)
	}
}

// TestSnippetHarnessFails keeps the test above honest: a snippet that does not compile
// fails it, and the error names its Markdown line.
func TestSnippetHarnessFails(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	dir := workspace(t)
	src, err := snippetFile(snippet{file: "/doc/BROKEN.md", line: 7, code: "import \"fmt\"\n\nfmt.Println(undefinedName)\n"})
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "snippets", "broken", "snippet.go"), src)
	out, err := goCommand(dir, "vet", "./...")
	if err == nil || !strings.Contains(out, "BROKEN.md:9") || !strings.Contains(out, "undefinedName") {
		t.Errorf("a broken snippet: err %v, output:\n%s", err, out)
	}
}

// markdownSnippets returns the ```go blocks of every Markdown file of the repository.
func markdownSnippets(t *testing.T) []snippet {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	var out []snippet
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".md") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out = append(out, goBlocks(path, data)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// goBlocks cuts the ```go blocks out of a Markdown file.
func goBlocks(file string, data []byte) []snippet {
	var out []snippet
	var cur *snippet
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		fence := strings.TrimSpace(line)
		switch {
		case cur == nil && fence == "```go":
			cur = &snippet{file: file, line: n + 1}
		case cur != nil && fence == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.code += line + "\n"
		}
	}
	return out
}

// snippetFile turns a snippet into a Go file, with //line directives that point back at the
// Markdown file.
func snippetFile(s snippet) (string, error) {
	at := func(line int) string { return fmt.Sprintf("//line %s:%d\n", s.file, line) }
	whole := "package snippet\n\n" + at(s.line) + s.code
	if _, err := parser.ParseFile(token.NewFileSet(), "", whole, parser.SkipObjectResolution); err == nil {
		return whole, nil
	}
	// Statements: the imports stay at the top, the rest becomes a function's body.
	f, err := parser.ParseFile(token.NewFileSet(), "", "package snippet\n"+s.code, parser.ImportsOnly)
	if err != nil {
		return "", err
	}
	cut := 0
	if len(f.Decls) > 0 {
		cut = int(f.Decls[len(f.Decls)-1].End()) - 1 - len("package snippet\n")
	}
	imports, body := s.code[:cut], s.code[cut:]
	bodyLine := s.line + strings.Count(imports, "\n")
	return "package snippet\n\n" + at(s.line) + imports + "\n\nfunc _() {\n" + at(bodyLine) + body + "\n}\n", nil
}

// workspace makes a directory holding a module for the snippets and a go.work that uses it
// and every module of the repository's workspace.
func workspace(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "work", "edit", "-json")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK="+filepath.Join(root, "go.work"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("reading go.work: %v", err)
	}
	var work struct {
		Go  string
		Use []struct{ DiskPath string }
	}
	if err := json.Unmarshal(out, &work); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var b strings.Builder
	fmt.Fprintf(&b, "go %s\n\nuse (\n\t./snippets\n", work.Go)
	for _, u := range work.Use {
		fmt.Fprintf(&b, "\t%s\n", filepath.Join(root, u.DiskPath))
	}
	b.WriteString(")\n")
	write(t, filepath.Join(dir, "go.work"), b.String())
	if sum, err := os.ReadFile(filepath.Join(root, "go.work.sum")); err == nil {
		write(t, filepath.Join(dir, "go.work.sum"), string(sum))
	}
	write(t, filepath.Join(dir, "snippets", "go.mod"), "module snippets\n\ngo "+work.Go+"\n")
	return dir
}

// goCommand runs the go command in dir's snippets module, under dir's workspace.
func goCommand(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = filepath.Join(dir, "snippets")
	cmd.Env = append(os.Environ(), "GOWORK="+filepath.Join(dir, "go.work"), "GOFLAGS=-mod=readonly")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func rel(path string) string {
	root, _ := filepath.Abs(repoRoot)
	if r, err := filepath.Rel(root, path); err == nil {
		return r
	}
	return path
}
