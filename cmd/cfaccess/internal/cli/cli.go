// Package cli holds what the subcommands of cfaccess share: their environment, exit
// statuses, flag parsing with an example in -h, and output for people (colour only on a
// terminal) or scripts (-json).
package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit statuses of every subcommand.
const (
	ExitOK      = 0 // success: the token verifies, or a server stopped cleanly
	ExitRefused = 1 // a token is refused, or a server failed
	ExitUsage   = 2 // the command line is wrong
)

// Env is a subcommand's view of the process: tests give it buffers and a map.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// Var returns the environment variable name, "" when unset or when e has no Getenv.
func (e Env) Var(name string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(name)
}

// Command describes a subcommand for its -h: what it does and how it is used.
type Command struct {
	Name     string // "inspect"
	Synopsis string // the arguments after the name: "[-team TEAM] [TOKEN]"
	About    string // a paragraph or two, printed above the flags
	Example  string // printed after the flags, indented as given
}

// NewFlagSet returns a flag set for c whose errors Parse reports.
func (c Command) NewFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("cfaccess "+c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // Parse prints usage itself: -h to stdout, mistakes to stderr
	return fs
}

// Usage writes c's usage, its flags and its example to w.
func (c Command) Usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: cfaccess %s %s\n\n", c.Name, c.Synopsis)
	if c.About != "" {
		fmt.Fprintf(w, "%s\n\n", strings.TrimSpace(c.About))
	}
	fmt.Fprintln(w, "flags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	if c.Example != "" {
		fmt.Fprintf(w, "\nexample:\n%s\n", strings.TrimRight(c.Example, "\n"))
	}
}

// Parse parses args with fs, flags and positional arguments in any order
// ("inspect TOKEN -team x" works as "inspect -team x TOKEN"; after "--", everything is
// positional). It returns the positional arguments and ok; when !ok, the command is to
// exit with status: 0 after -h (usage on stdout), ExitUsage after a mistake (the mistake
// and the usage on stderr).
func (c Command) Parse(env Env, fs *flag.FlagSet, args []string) (positional []string, status int, ok bool) {
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			c.Usage(env.Stdout, fs)
			return nil, ExitOK, false
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "cfaccess %s: %v\n\n", c.Name, err)
			c.Usage(env.Stderr, fs)
			return nil, ExitUsage, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, ExitOK, true
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), ExitOK, true
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// UsageError reports a mistake on the command line and returns ExitUsage.
func (c Command) UsageError(env Env, format string, args ...any) int {
	fmt.Fprintf(env.Stderr, "cfaccess %s: %s\nRun cfaccess %s -h for its flags and an example.\n",
		c.Name, fmt.Sprintf(format, args...), c.Name)
	return ExitUsage
}

// WriteJSON writes v to w as one indented JSON document.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Style colours text for people: on a terminal only, and never when NO_COLOR is set
// (no-color.org) or TERM is "dumb". The zero Style prints plain text.
type Style struct{ on bool }

// StyleFor returns the style for writing to w.
func StyleFor(w io.Writer, env Env) Style {
	f, ok := w.(*os.File)
	if !ok || env.Var("NO_COLOR") != "" || env.Var("TERM") == "dumb" {
		return Style{}
	}
	return Style{on: isTerminal(f)}
}

// Colourful reports whether s colours its text.
func (s Style) Colourful() bool { return s.on }

func (s Style) paint(code, text string) string {
	if !s.on || text == "" {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

// Bold, Dim, Red, Green and Yellow return text in that style.
func (s Style) Bold(text string) string   { return s.paint("1", text) }
func (s Style) Dim(text string) string    { return s.paint("2", text) }
func (s Style) Red(text string) string    { return s.paint("1;31", text) }
func (s Style) Green(text string) string  { return s.paint("32", text) }
func (s Style) Yellow(text string) string { return s.paint("33", text) }

// IsTerminal reports whether r is a terminal, for prompting before reading it.
func IsTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && isTerminal(f)
}

// isTerminal reports whether f is a character device, as terminals are; /dev/null is one
// too, which costs nothing worse than a prompt nobody reads or colour nobody sees.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Printable returns s as is when every rune of it prints, and quoted with Go's escapes
// otherwise: text from a token is untrusted, and an escape sequence in a claim must not
// reach the terminal.
func Printable(s string) string {
	for _, r := range s {
		if r == '\uFFFD' || (r < ' ' || r == 0x7f) || (r >= 0x80 && r < 0xa0) || isBidiOrFormat(r) {
			return fmt.Sprintf("%q", s)
		}
	}
	return s
}

// isBidiOrFormat reports the invisible runes that can make a terminal show text other than
// it is: bidirectional overrides and zero-width characters.
func isBidiOrFormat(r rune) bool {
	switch {
	case r >= 0x200b && r <= 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0xfeff:
		return true
	}
	return false
}
