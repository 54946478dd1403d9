package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/cfaccess/cfaccess/cmd/cfaccess/internal/cli"
)

func runMain(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}, args)
	return code, out.String(), errOut.String()
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args         []string
		code         int
		stdout, errs string
	}{
		{nil, cli.ExitUsage, "", "usage: cfaccess <command>"},
		{[]string{"-h"}, cli.ExitOK, "usage: cfaccess <command>", ""},
		{[]string{"help"}, cli.ExitOK, "inspect", ""},
		{[]string{"--help"}, cli.ExitOK, "forward-auth", ""},
		{[]string{"verify"}, cli.ExitUsage, "", `unknown command "verify"`},
		{[]string{"inspect", "-h"}, cli.ExitOK, "usage: cfaccess inspect", ""},
		{[]string{"dev", "-h"}, cli.ExitOK, "usage: cfaccess dev", ""},
		{[]string{"inspect"}, cli.ExitUsage, "", "no token given"},
	} {
		code, stdout, stderr := runMain(tc.args...)
		if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.errs) {
			t.Errorf("cfaccess %s: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit %d, %q on stdout, %q on stderr",
				strings.Join(tc.args, " "), code, stdout, stderr, tc.code, tc.stdout, tc.errs)
		}
	}
}

// Every subcommand's -h shows an example.
func TestEveryCommandHasAnExample(t *testing.T) {
	for _, c := range commands {
		code, stdout, _ := runMain(c.name, "-h")
		if code != cli.ExitOK || !strings.Contains(stdout, "example") || !strings.Contains(stdout, "cfaccess "+c.name+" ") {
			t.Errorf("cfaccess %s -h: exit %d\n%s", c.name, code, stdout)
		}
	}
}
