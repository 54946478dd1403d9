package hosts_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cfaccess/cfaccess/internal/hosts"
)

// trimmed is the AUD check of New's tests: it trims, and refuses a blank AUD.
func trimmed(where string, auds []string) ([]string, error) {
	out := make([]string, len(auds))
	for i, a := range auds {
		if out[i] = strings.TrimSpace(a); out[i] == "" {
			return nil, errors.New(where + "a blank AUD")
		}
	}
	return out, nil
}

func newBindings(t *testing.T, bound map[string][]string, global []string, unbound bool) (*hosts.Bindings, []string) {
	t.Helper()
	b, all, err := hosts.New(bound, global, unbound, trimmed)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b, all
}

func TestAudiences(t *testing.T) {
	b, all := newBindings(t, map[string][]string{
		"app.example.com":             {" app "},
		"*.example.com":               {"any"},
		"*.tenant.example.com":        {"tenant"},
		"special.tenant.Example.COM.": {"special", "app"},
		"*.0.0.1":                     {"numeric"},
		"*.1":                         {"one"},
	}, []string{"global"}, false)
	if want := []string{"global", "numeric", "one", "any", "tenant", "app", "special"}; !slices.Equal(all, want) {
		t.Errorf("all AUDs %q, want %q (global first, then by key, once each)", all, want)
	}
	for _, tc := range []struct {
		host string
		want []string
		err  error
	}{
		{"app.example.com", []string{"app"}, nil},
		{"APP.Example.Com", []string{"app"}, nil},
		{"app.example.com.", []string{"app"}, nil},
		{"app.example.com:8443", []string{"app"}, nil},
		{"App.Example.COM.:443", []string{"app"}, nil},
		// An exact binding beats a wildcard.
		{"other.example.com", []string{"any"}, nil},
		{"special.tenant.example.com", []string{"special", "app"}, nil},
		{"a.tenant.example.com", []string{"tenant"}, nil},
		// A wildcard covers exactly one label more.
		{"example.com", nil, hosts.ErrUnbound},
		{"a.b.example.com", nil, hosts.ErrUnbound},
		{"a.b.tenant.example.com", nil, hosts.ErrUnbound},
		{"tenant.example.com", []string{"any"}, nil},
		// An IP address matches no key, not even a wildcard whose labels are numbers.
		{"127.0.0.1", nil, hosts.ErrUnbound},
		{"127.0.0.1:8080", nil, hosts.ErrUnbound},
		{"10.0.0.1", nil, hosts.ErrUnbound},
		{"x.0.0.1", []string{"numeric"}, nil},
		{"0.0.0.1", nil, hosts.ErrUnbound},
		{"[::1]", nil, hosts.ErrUnbound},
		{"[::1]:443", nil, hosts.ErrUnbound},
		{"[::ffff:127.0.0.1]", nil, hosts.ErrUnbound},
		{"2.1", []string{"one"}, nil}, // no IP address: netip reads only four parts
		// Not a host at all.
		{"", nil, hosts.ErrNotHost},
		{":", nil, hosts.ErrNotHost},
		{":443", nil, hosts.ErrNotHost},
		{"app.example.com:", nil, hosts.ErrNotHost},
		{"app.example.com:0", nil, hosts.ErrNotHost},
		{"app.example.com:65536", nil, hosts.ErrNotHost},
		{"app.example.com:+443", nil, hosts.ErrNotHost},
		{"app.example.com:443:443", nil, hosts.ErrNotHost},
		{"app.example.com..", nil, hosts.ErrNotHost},
		{"app..example.com", nil, hosts.ErrNotHost},
		{".app.example.com", nil, hosts.ErrNotHost},
		{"-app.example.com", nil, hosts.ErrNotHost},
		{"app_x.example.com", nil, hosts.ErrNotHost},
		{"app example.com", nil, hosts.ErrNotHost},
		{"app.example.com/x", nil, hosts.ErrNotHost},
		{"user@app.example.com", nil, hosts.ErrNotHost},
		{"*.example.com", nil, hosts.ErrNotHost},
		{"\u212aapp.example.com", nil, hosts.ErrNotHost},
		{"app.example.com\x00", nil, hosts.ErrNotHost},
		{"[app.example.com]", nil, hosts.ErrNotHost},
		{"[::1", nil, hosts.ErrNotHost},
		{"[::1]x", nil, hosts.ErrNotHost},
		{"[::1]:", nil, hosts.ErrNotHost},
		{"[127.0.0.1]", nil, hosts.ErrNotHost},
		{"::1", nil, hosts.ErrNotHost},
		{strings.Repeat("a.", 127) + "a", nil, hosts.ErrNotHost},
	} {
		auds, err := b.Audiences(tc.host)
		if !slices.Equal(auds, tc.want) || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("Audiences(%q) = %q, %v; want %q, %v", tc.host, auds, err, tc.want, tc.err)
		}
	}
}

// TestUnboundGlobal: with unbound hosts allowed, a host bound to nothing gets the global
// AUDs; garbage is still no host.
func TestUnboundGlobal(t *testing.T) {
	b, _ := newBindings(t, map[string][]string{"app.example.com": {"app"}}, []string{"g1", "g2"}, true)
	for host, want := range map[string][]string{
		"app.example.com":   {"app"},
		"other.example.com": {"g1", "g2"},
		"127.0.0.1":         {"g1", "g2"},
	} {
		if auds, err := b.Audiences(host); err != nil || !slices.Equal(auds, want) {
			t.Errorf("Audiences(%q) = %q, %v; want %q", host, auds, err, want)
		}
	}
	if _, err := b.Audiences("a b"); !errors.Is(err, hosts.ErrNotHost) {
		t.Errorf("garbage host: %v", err)
	}
	if _, _, err := hosts.New(map[string][]string{"a.example.com": {"x"}}, nil, true, trimmed); err == nil {
		t.Error("unbound hosts allowed with no global AUD")
	}
}

func TestNewRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bound map[string][]string
		want  string
	}{
		{"port", map[string][]string{"a.example.com:443": {"x"}}, "no port"},
		{"scheme", map[string][]string{"https://a.example.com": {"x"}}, "no scheme"},
		{"path", map[string][]string{"a.example.com/x": {"x"}}, "no scheme, path"},
		{"user", map[string][]string{"u@a.example.com": {"x"}}, "no scheme, path or user"},
		{"query", map[string][]string{"a.example.com?x": {"x"}}, "no scheme"},
		{"IPv4", map[string][]string{"192.0.2.1": {"x"}}, "IP address"},
		{"IPv4, trailing dot", map[string][]string{"192.0.2.1.": {"x"}}, "IP address"},
		{"IPv6 in brackets", map[string][]string{"[2001:db8::1]": {"x"}}, "IPv6"},
		{"IPv6", map[string][]string{"2001:db8::1": {"x"}}, "port"},
		{"wildcard alone", map[string][]string{"*": {"x"}}, "wildcard"},
		{"two wildcards", map[string][]string{"*.*.example.com": {"x"}}, "wildcard"},
		{"inner wildcard", map[string][]string{"a.*.example.com": {"x"}}, "wildcard"},
		{"partial wildcard", map[string][]string{"a*.example.com": {"x"}}, "wildcard"},
		{"wildcard of nothing", map[string][]string{"*.": {"x"}}, "wildcard"},
		{"wildcard of a dot", map[string][]string{"*..": {"x"}}, "not a host name"},
		{"empty", map[string][]string{"": {"x"}}, "not a host name"},
		{"white space", map[string][]string{" a.example.com": {"x"}}, "not a host name"},
		{"underscore", map[string][]string{"a_b.example.com": {"x"}}, "not a host name"},
		{"Kelvin sign", map[string][]string{"\u212a.example.com": {"x"}}, "plain ASCII"},
		{"no AUD", map[string][]string{"a.example.com": {}}, "no audience"},
		{"blank AUD", map[string][]string{"a.example.com": {" "}}, "a blank AUD"},
		{"twice", map[string][]string{"a.example.com": {"x"}, "A.Example.com.": {"y"}}, "listed twice"},
		{"wildcard twice", map[string][]string{"*.example.com": {"x"}, "*.EXAMPLE.com": {"y"}}, "listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, all, err := hosts.New(tc.bound, nil, false, trimmed)
			if err == nil || b != nil || all != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, %v; want an error saying %q", b, err, tc.want)
			}
			named := false
			for key := range tc.bound {
				named = named || strings.Contains(err.Error(), fmt.Sprintf("HostAudiences[%q]", key))
			}
			if !named {
				t.Errorf("error %q does not name the key", err)
			}
		})
	}
	// A wildcard and an exact binding of the same name are two bindings.
	if _, _, err := hosts.New(map[string][]string{"example.com": {"x"}, "*.example.com": {"y"}}, nil, false, trimmed); err != nil {
		t.Errorf("exact and wildcard: %v", err)
	}
}

func TestCanonical(t *testing.T) {
	for _, tc := range []struct {
		host, want string
		ok         bool
	}{
		{"app.example.com", "app.example.com", true},
		{"App.Example.COM.:8443", "app.example.com", true},
		{"localhost:1", "localhost", true},
		{"127.0.0.1:65535", "127.0.0.1", true},
		{"[::1]:443", "::1", true},
		{"[2001:DB8::1]", "2001:DB8::1", true},
		{"[::1]:0", "", false},
		{"[v1.fe]", "", false},
		{"app.example.com:00000", "", false},
		{"app.example.com:000443", "", false},
		{"app.example.com:443", "app.example.com", true},
		{"app.example.com:00443", "app.example.com", true},
		{strings.Repeat("a", 63) + ".com", strings.Repeat("a", 63) + ".com", true},
		{strings.Repeat("a", 64) + ".com", "", false},
		{"", "", false},
	} {
		got, ok := hosts.Canonical(tc.host)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("Canonical(%q) = %q, %v; want %q, %v", tc.host, got, ok, tc.want, tc.ok)
		}
	}
}

// TestLookupsAllocateNothing: the host of a request to an exactly bound host costs no
// allocation to look up, port and trailing dot included.
func TestLookupsAllocateNothing(t *testing.T) {
	b, _ := newBindings(t, map[string][]string{"app.example.com": {"app"}, "*.example.com": {"any"}}, nil, false)
	for _, host := range []string{"app.example.com", "app.example.com:8443", "app.example.com.", "app.example.com.:443"} {
		if n := testing.AllocsPerRun(100, func() { _, _ = b.Audiences(host) }); n != 0 {
			t.Errorf("Audiences(%q) allocates %v times", host, n)
		}
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		s                       string
		dns, label, port, hostp bool
	}{
		{"a", true, true, false, true},
		{"a.b", true, false, false, true},
		{"a-b.c", true, false, false, true},
		{"A.b", false, false, false, true}, // ValidHostPort ignores case
		{"a.b:1", false, false, false, true},
		{"a.b:65535", false, false, false, true},
		{"a.b:65536", false, false, false, false},
		{"a.b:0", false, false, false, false},
		{"a.b:", false, false, false, false},
		{"[::1]:80", false, false, false, true},
		{"[::1]", false, false, false, true},
		{"[]", false, false, false, false},
		{"[::g]", false, false, false, false},
		{"[::1", false, false, false, false},
		{"1", true, true, true, true},
		{"80", true, true, true, true},
		{"65535", true, true, true, true},
		{"065535", true, true, false, true},
		{"0", true, true, false, true},
		{"-a", false, false, false, false},
		{"a-", false, false, false, false},
		{"a..b", false, false, false, false},
		{"", false, false, false, false},
		{strings.Repeat("a", 63), true, true, false, true},
		{strings.Repeat("a", 64), false, false, false, false},
		{strings.Repeat("a.", 126) + "a", true, false, false, true},
		{strings.Repeat("a.", 127) + "a", false, false, false, false},
	} {
		if got := hosts.ValidDNSName(tc.s); got != tc.dns {
			t.Errorf("ValidDNSName(%q) = %v", tc.s, got)
		}
		if got := hosts.ValidLabel(tc.s); got != tc.label {
			t.Errorf("ValidLabel(%q) = %v", tc.s, got)
		}
		if got := hosts.ValidPort(tc.s); got != tc.port {
			t.Errorf("ValidPort(%q) = %v", tc.s, got)
		}
		if got := hosts.ValidHostPort(tc.s); got != tc.hostp {
			t.Errorf("ValidHostPort(%q) = %v", tc.s, got)
		}
	}
	for host, want := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "127.8.9.10": true, "::1": true,
		"localhost.": false, "LOCALHOST": false, "localhost.example.com": false, "10.0.0.1": false, "[::1]": false, "": false,
	} {
		if got := hosts.IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v", host, got)
		}
	}
}
