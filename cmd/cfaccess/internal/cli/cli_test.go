package cli_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/cfaccess/cfaccess/cmd/cfaccess/internal/cli"
)

var cmd = cli.Command{Name: "try", Synopsis: "[-n N] ARG…", About: "Tries.", Example: "  cfaccess try -n 1 x"}

func parse(args ...string) (positional []string, n int, status int, ok bool, stdout, stderr string) {
	var out, errOut bytes.Buffer
	fs := cmd.NewFlagSet()
	np := fs.Int("n", 0, "a `N`umber")
	positional, status, ok = cmd.Parse(cli.Env{Stdout: &out, Stderr: &errOut}, fs, args)
	return positional, *np, status, ok, out.String(), errOut.String()
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  string
		n    int
	}{
		{[]string{"-n", "3", "a", "b"}, "a b", 3},
		{[]string{"a", "-n", "3", "b"}, "a b", 3},
		{[]string{"a", "b", "-n=3"}, "a b", 3},
		{[]string{"-n", "3", "--", "-n", "a"}, "-n a", 3},
		{[]string{"a", "--", "-n"}, "a -n", 0},
		{nil, "", 0},
	} {
		pos, n, status, ok, _, _ := parse(tc.args...)
		if !ok || status != cli.ExitOK || strings.Join(pos, " ") != tc.pos || n != tc.n {
			t.Errorf("Parse(%q) = %q, n %d, status %d, ok %v; want %q, n %d", tc.args, pos, n, status, ok, tc.pos, tc.n)
		}
	}
}

func TestParseHelpAndMistakes(t *testing.T) {
	_, _, status, ok, stdout, stderr := parse("-h")
	if ok || status != cli.ExitOK || stderr != "" || !strings.Contains(stdout, "usage: cfaccess try [-n N] ARG…") ||
		!strings.Contains(stdout, "Tries.") || !strings.Contains(stdout, "-n N") || !strings.Contains(stdout, "example:\n  cfaccess try -n 1 x") {
		t.Errorf("-h: status %d, ok %v\nstdout:\n%s\nstderr:\n%s", status, ok, stdout, stderr)
	}
	_, _, status, ok, stdout, stderr = parse("-n", "x")
	if ok || status != cli.ExitUsage || stdout != "" || !strings.Contains(stderr, "cfaccess try: invalid value") || !strings.Contains(stderr, "usage:") {
		t.Errorf("-n x: status %d, ok %v\nstdout:\n%s\nstderr:\n%s", status, ok, stdout, stderr)
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"ann@example.com":    "ann@example.com",
		"Zoë Ünal":           "Zoë Ünal",
		"\x1b[31mred":        `"\x1b[31mred"`,
		"a\u202eb":           `"a\u202eb"`,
		"zero\u200bwidth":    `"zero\u200bwidth"`,
		"tab\there":          `"tab\there"`,
		"c1\u0085":           `"c1\u0085"`,
		string([]byte{0xff}): `"\xff"`,
	} {
		if got := cli.Printable(in); got != want {
			t.Errorf("Printable(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestStyle(t *testing.T) {
	var buf bytes.Buffer
	if st := cli.StyleFor(&buf, cli.Env{}); st.Colourful() || st.Red("x") != "x" {
		t.Error("colour on a buffer")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if cli.StyleFor(f, cli.Env{}).Colourful() {
		t.Error("colour on a regular file")
	}
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no terminal to check colour on")
	}
	defer tty.Close()
	if !cli.StyleFor(tty, cli.Env{}).Colourful() {
		t.Error("no colour on a terminal")
	}
	if cli.StyleFor(tty, cli.Env{Getenv: func(k string) string { return map[string]string{"NO_COLOR": "1"}[k] }}).Colourful() {
		t.Error("colour despite NO_COLOR")
	}
	if got := (cli.StyleFor(tty, cli.Env{})).Red("x"); got != "\x1b[1;31mx\x1b[0m" {
		t.Errorf("Red = %q", got)
	}
}
