package core_test

import (
	"net/url"
	"strings"
	"testing"
	"unicode"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// TestLoginURL compares login URLs byte for byte:
// <team>/cdn-cgi/access/login/<host>?kid=<aud>&redirect_url=<url-encoded path+query>.
func TestLoginURL(t *testing.T) {
	v := testkit.NewVerifier(t, offlineConfig("myteam", "aud1", "aud2"))
	const base = "https://myteam.cloudflareaccess.com/cdn-cgi/access/login/"
	for _, tc := range []struct{ host, uri, want string }{
		{"app.example.com", "/", base + "app.example.com?kid=aud1&redirect_url=%2F"},
		{"app.example.com", "/admin?tab=users&sort=name", base + "app.example.com?kid=aud1&redirect_url=%2Fadmin%3Ftab%3Dusers%26sort%3Dname"},
		{"app.example.com", "/a%20b/caf%C3%A9?q=x+y&r=%2F", base + "app.example.com?kid=aud1&redirect_url=%2Fa%2520b%2Fcaf%25C3%25A9%3Fq%3Dx%2By%26r%3D%252F"},
		{"app.example.com", "/?next=https://evil.example/&x=#frag", base + "app.example.com?kid=aud1&redirect_url=%2F%3Fnext%3Dhttps%3A%2F%2Fevil.example%2F%26x%3D%23frag"},
		{"app.example.com:8443", "/x", base + "app.example.com:8443?kid=aud1&redirect_url=%2Fx"},
		{"APP.Example.com", "/x", base + "APP.Example.com?kid=aud1&redirect_url=%2Fx"},
		{"127.0.0.1:8080", "/x", base + "127.0.0.1:8080?kid=aud1&redirect_url=%2Fx"},
		{"[::1]:8080", "/x", base + "[::1]:8080?kid=aud1&redirect_url=%2Fx"},
		{"app.example.com", "", base + "app.example.com?kid=aud1&redirect_url=%2F"},
		{"app.example.com", "http://app.example.com/x", base + "app.example.com?kid=aud1&redirect_url=%2F"},
		{"app.example.com", "//evil.example/x", base + "app.example.com?kid=aud1&redirect_url=%2F"},
		{"app.example.com", "/\\evil.example/x", base + "app.example.com?kid=aud1&redirect_url=%2F"},
		// Browsers drop tabs and newlines from URLs: each of these would be //evil.example/x.
		{"app.example.com", "/\t/evil.example/x", base + "app.example.com?kid=aud1&redirect_url=%2F"},
		{"app.example.com", "/\n/evil.example/x", base + "app.example.com?kid=aud1&redirect_url=%2F"},
		{"app.example.com", "/\r\n/evil.example/x", base + "app.example.com?kid=aud1&redirect_url=%2F"},
		{"app.example.com", "/\t\\evil.example/x", base + "app.example.com?kid=aud1&redirect_url=%2F"},
		// Any other control character, anywhere, C1 included.
		{"app.example.com", "/x?y=\x00", base + "app.example.com?kid=aud1&redirect_url=%2F"},
		{"app.example.com", "/x\x7f", base + "app.example.com?kid=aud1&redirect_url=%2F"},
		{"app.example.com", "/x\u0085", base + "app.example.com?kid=aud1&redirect_url=%2F"},
		{"app.example.com", "/caf\u00e9 x", base + "app.example.com?kid=aud1&redirect_url=%2Fcaf%C3%A9+x"},
	} {
		got, err := v.LoginURL(tc.host, tc.uri)
		if err != nil || got != tc.want {
			t.Errorf("LoginURL(%q, %q) =\n  %q, %v\nwant\n  %q", tc.host, tc.uri, got, err, tc.want)
		}
	}
	for _, host := range []string{"", "evil.example/..", "a b", "host:abc", "host:0", "host:99999", "[::1", "[zz::1]", "ex ample.com", "ex%61mple.com", "user@host", "host?x", "host#y", "-bad.com"} {
		if got, err := v.LoginURL(host, "/"); err == nil {
			t.Errorf("LoginURL(%q) = %q, want an error", host, got)
		}
	}
	if got := v.LogoutURL(); got != "https://myteam.cloudflareaccess.com/cdn-cgi/access/logout" {
		t.Errorf("LogoutURL = %q", got)
	}
}

// FuzzLoginURL: whatever Host and URI a request carries, a login URL is either refused or
// points at the team's login path for exactly that host, with the audience as kid and a
// redirect_url that decodes to a local path: never another site, never a crafted path.
func FuzzLoginURL(f *testing.F) {
	v, err := core.NewVerifier(offlineConfig("myteam", "aud+1&x"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range [][2]string{
		{"app.example.com", "/"}, {"app.example.com:8443", "/a%20b?x=1&y=2#z"}, {"[::1]:80", "//evil.example/"},
		{"evil.example/..", "/"}, {"a b", "/"}, {"x", "http://evil.example/"}, {"", ""}, {"h", "/\\evil"},
		{"h", "/\t/evil"}, {"h", "/x\u0085"},
	} {
		f.Add(s[0], s[1])
	}
	const prefix = "https://myteam.cloudflareaccess.com/cdn-cgi/access/login/"
	f.Fuzz(func(t *testing.T, host, uri string) {
		got, err := v.LoginURL(host, uri)
		if err != nil {
			return
		}
		rest, ok := strings.CutPrefix(got, prefix)
		if !ok {
			t.Fatalf("LoginURL(%q, %q) = %q: not the team's login path", host, uri, got)
		}
		gotHost, query, _ := strings.Cut(rest, "?")
		if gotHost != host || strings.ContainsAny(host, "/?#@ \\%") {
			t.Fatalf("LoginURL(%q, %q): host part %q", host, uri, gotHost)
		}
		q, err := url.ParseQuery(query)
		if err != nil || len(q) != 2 || q.Get("kid") != "aud+1&x" {
			t.Fatalf("LoginURL(%q, %q): query %q (%v)", host, uri, query, err)
		}
		want := uri
		if !strings.HasPrefix(uri, "/") || strings.HasPrefix(uri, "//") || strings.HasPrefix(uri, "/\\") ||
			strings.ContainsFunc(uri, unicode.IsControl) {
			want = "/"
		}
		// What a browser makes of the path: without tabs and newlines, it must stay local.
		if b := strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(want); strings.HasPrefix(b, "//") || strings.HasPrefix(b, "/\\") {
			t.Fatalf("LoginURL(%q, %q): redirect_url %q reads as another site", host, uri, want)
		}
		if q.Get("redirect_url") != want {
			t.Fatalf("LoginURL(%q, %q): redirect_url %q, want %q", host, uri, q.Get("redirect_url"), want)
		}
	})
}
