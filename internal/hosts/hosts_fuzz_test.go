package hosts_test

import (
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cfaccess/cfaccess/internal/hosts"
)

// FuzzHostAudiences feeds arbitrary Host headers to the bindings of an origin that serves an
// admin console, a wiki and one application per tenant. It never panics; a host is bound to
// the admin console's AUD exactly when it is admin.example.com in some spelling of it (case,
// a numeric port, one trailing dot), as an independent reading of the header says, and
// likewise for the wiki and for one label under tenant.example.com; every other host name is
// unbound, and anything that is not a host name (or a bracketed IPv6 literal) is ErrNotHost.
// Canonical's answer is a fixed point of Canonical.
func FuzzHostAudiences(f *testing.F) {
	b, _, err := hosts.New(map[string][]string{
		"admin.example.com":    {"admin"},
		"WIKI.example.com.":    {"wiki"},
		"*.tenant.example.com": {"tenant"},
		"*.0.0.1":              {"numeric"},
	}, nil, false, trimmed)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		"admin.example.com", "ADMIN.example.com.", "admin.example.com:443", "admin.example.com.:8443",
		"admin.example.com:", "admin.example.com:+1", "admin.example.com:000443", "admin.example.com:65536",
		"admin.example.com:0", "admin.example.com..", "wiki.example.com", "x.tenant.example.com",
		"x.y.tenant.example.com", "tenant.example.com", "127.0.0.1", "x.0.0.1", "[::1]:443", "[admin.example.com]",
		"203.0.113.9", "", ":", "\u212admin.example.com", "admin.example.com\x00", "admin.example.com:443:443",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, host string) {
		auds, err := b.Audiences(host)
		name := oracle(host)
		var want []string
		switch {
		case name == "admin.example.com":
			want = []string{"admin"}
		case name == "wiki.example.com":
			want = []string{"wiki"}
		case oneLabelUnder(name, "tenant.example.com"):
			want = []string{"tenant"}
		case oneLabelUnder(name, "0.0.1") && !isIP(name):
			want = []string{"numeric"}
		}
		if !slices.Equal(auds, want) {
			t.Fatalf("Audiences(%q) = %q, %v; want %q (the host reads as %q)", host, auds, err, want, name)
		}
		c, ok := hosts.Canonical(host)
		switch {
		case auds != nil && err != nil, auds == nil && err == nil:
			t.Fatalf("Audiences(%q) = %q, %v", host, auds, err)
		case !ok && !errors.Is(err, hosts.ErrNotHost):
			t.Fatalf("Audiences(%q): %v for a host Canonical refuses", host, err)
		case ok && errors.Is(err, hosts.ErrNotHost):
			t.Fatalf("Audiences(%q): ErrNotHost for a host Canonical reads as %q", host, c)
		case ok && name != "" && c != name:
			t.Fatalf("Canonical(%q) = %q, want %q", host, c, name)
		}
		if !ok {
			return
		}
		if again, ok := hosts.Canonical(c); !ok && !strings.Contains(c, ":") || ok && again != c {
			t.Fatalf("Canonical(%q) = %q, but Canonical(%q) = %q, %v", host, c, c, again, ok)
		}
		if !hosts.ValidDNSName(c) {
			if a, err := netip.ParseAddr(c); err != nil || !a.Is6() {
				t.Fatalf("Canonical(%q) = %q, which is neither a DNS name nor an IPv6 address", host, c)
			}
		}
	})
}

// oracle reads a Host header the simple way: strip a port of one to five digits that is
// not zero, then one trailing dot, then lower-case ASCII letters, and require DNS labels.
// "" for anything else.
func oracle(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		port := h[i+1:]
		n, err := strconv.Atoi(port)
		if port == "" || len(port) > 5 || strings.Trim(port, "0123456789") != "" || err != nil || n < 1 || n > 65535 {
			return ""
		}
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if h[i] >= 0x80 {
			return ""
		}
	}
	h = strings.ToLower(h)
	if h == "" || len(h) > 253 {
		return ""
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' ||
			strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return ""
		}
	}
	return h
}

// oneLabelUnder reports whether name is one label and a dot followed by parent.
func oneLabelUnder(name, parent string) bool {
	label, ok := strings.CutSuffix(name, "."+parent)
	return ok && label != "" && !strings.Contains(label, ".")
}

func isIP(name string) bool {
	_, err := netip.ParseAddr(name)
	return err == nil
}
