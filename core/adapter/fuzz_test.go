package adapter_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
)

// FuzzCookieValue checks CookieValue on any Cookie header lines and name. It never panics; a
// value it finds comes from a part of a line that reads name=value or name="value"; and on
// well-formed lines (every line parses with http.ParseCookie, within net/http's cookie count
// limit) it agrees with net/http's Request.Cookie.
//
// Intended differences on lines that are not well-formed; CookieValue is deliberately lenient
// on value characters, and matches names exactly:
//   - A value with bytes RFC 6265 forbids (space, comma, backslash, quote inside, controls,
//     non-ASCII) is returned as it is; net/http skips that cookie and may find a later one of
//     the same name. The token is verified anyway, so garbage fails there.
//   - A part without '=' is skipped; net/http reads "name" as the cookie name with an empty
//     value, and so stops at it.
//   - White space around the name inside a part ("name =v") makes it another name; net/http
//     trims it. A name that is not an RFC 7230 token can match; net/http never matches it.
//   - Parts are trimmed of Unicode white space (strings.TrimSpace); net/http trims only space,
//     tab, CR and LF.
//   - There is no limit on the number of cookies; net/http finds none in lines holding more
//     than 3000 together.
//   - The empty name finds a part "=v"; net/http's Cookie("") finds the first cookie of any
//     name. The empty name is not compared.
func FuzzCookieValue(f *testing.F) {
	for _, s := range [][3]string{
		{"CF_Authorization=abc.def.ghi", "", core.CookieName},
		{"a=1; CF_Authorization=tok; b=2", "", core.CookieName},
		{"a=1", "CF_Authorization=tok", core.CookieName},
		{`CF_Authorization="tok"`, "", core.CookieName},
		{`CF_Authorization="`, "", core.CookieName},
		{`CF_Authorization=""`, "", core.CookieName},
		{"cf_authorization=lower; CF_Authorization=exact", "", core.CookieName},
		{"CF_Authorization=; CF_Authorization=second", "", core.CookieName},
		{"CF_Authorization; CF_Authorization=second", "", core.CookieName},
		{"CF_Authorization=a b; CF_Authorization=second", "", core.CookieName},
		{"CF_Authorization =spaced", "", core.CookieName},
		{"  CF_Authorization=tok  ;", "", core.CookieName},
		{"\u00a0CF_Authorization=tok", "", core.CookieName},
		{"CF_Authorization=a=b=c", "", core.CookieName},
		{"=v; a=1", "", ""},
		{";;;", "", "a"},
		{"a=1;b=2;c=3", "x=y", "c"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, line1, line2, name string) {
		lines := []string{line1}
		if line2 != "" {
			lines = append(lines, line2)
		}
		got := adapter.CookieValue(lines, name)
		if got != "" && !fzFromPart(lines, name, got) {
			t.Fatalf("CookieValue(%q, %q) = %q, which no part name=value holds", lines, name, got)
		}
		if name == "" || !fzWellFormedCookies(lines) {
			return
		}
		r := &http.Request{Header: http.Header{"Cookie": lines}}
		want := ""
		if c, err := r.Cookie(name); err == nil {
			want = c.Value
		}
		if got != want {
			t.Fatalf("CookieValue(%q, %q) = %q, net/http finds %q", lines, name, got, want)
		}
	})
}

func fzFromPart(lines []string, name, v string) bool {
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			if part == name+"="+v || part == name+`="`+v+`"` {
				return true
			}
		}
	}
	return false
}

func fzWellFormedCookies(lines []string) bool {
	n := 0
	for _, line := range lines {
		if _, err := http.ParseCookie(line); err != nil {
			return false
		}
		n += strings.Count(line, ";") + 1
	}
	return n <= 3000
}

// FuzzTokenFrom checks the precedence of the two token sources over a real *http.Request: a
// header that is not blank always wins, trimmed of HTTP's optional white space (spaces and
// tabs), even if the cookie is there too; only when the header is absent or blank does the
// CF_Authorization cookie count. Any other byte, Unicode spaces included, makes the header
// present: it then fails verification rather than falling back to the cookie.
func FuzzTokenFrom(f *testing.F) {
	f.Add("hdr.tok.en", "CF_Authorization=cookie.tok.en")
	f.Add("", "CF_Authorization=cookie.tok.en")
	f.Add("  ", "CF_Authorization=cookie.tok.en")
	f.Add(" hdr ", "")
	f.Add("\u00a0", "CF_Authorization=c")
	f.Add("", "cf_authorization=c")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, header, cookie string) {
		r := &http.Request{Header: http.Header{}}
		if header != "" {
			r.Header[core.HeaderName] = []string{header}
		}
		if cookie != "" {
			r.Header["Cookie"] = []string{cookie}
		}
		tok, src := adapter.TokenFrom(adapter.HTTPRequest(r))
		wantTok, wantSrc := strings.Trim(header, " \t"), core.SourceHeader
		if wantTok == "" {
			wantTok, wantSrc = adapter.CookieValue(r.Header["Cookie"], core.CookieName), core.SourceCookie
		}
		if wantTok == "" {
			wantSrc = core.SourceNone
		}
		if tok != wantTok || src != wantSrc {
			t.Fatalf("TokenFrom(header %q, cookie %q) = %q from %v, want %q from %v", header, cookie, tok, src, wantTok, wantSrc)
		}
	})
}
