package devproxy

import (
	"strings"
	"testing"
)

func TestOriginHost(t *testing.T) {
	for _, tc := range []struct {
		listen, host string
		exposed, ok  bool
	}{
		{"127.0.0.1:8787", "127.0.0.1", false, true},
		{"localhost:8787", "localhost", false, true},
		{"[::1]:8787", "::1", false, true},
		{"127.0.0.1:0", "127.0.0.1", false, true},
		{":8787", "127.0.0.1", true, true},
		{"0.0.0.0:8787", "127.0.0.1", true, true},
		{"[::]:8787", "::1", true, true},
		{"192.0.2.1:8787", "", false, false},
		{"example.com:8787", "", false, false},
		{"8787", "", false, false},
		{"127.0.0.1:http-alt-nope", "", false, false},
	} {
		host, exposed, err := originHost(tc.listen)
		if (err == nil) != tc.ok || host != tc.host || exposed != tc.exposed {
			t.Errorf("originHost(%q) = %q, %v, %v; want %q, %v, ok %v", tc.listen, host, exposed, err, tc.host, tc.exposed, tc.ok)
		}
	}
}

func TestParseUpstream(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080":      "http://127.0.0.1:8080",
		"127.0.0.1:8080":             "http://127.0.0.1:8080",
		"https://app.internal/base/": "https://app.internal/base/",
	} {
		u, err := parseUpstream(in)
		if err != nil || u.String() != want {
			t.Errorf("parseUpstream(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, in := range []string{"", "ftp://x", "http://", "http://u:p@host", "http://host/?q=1", "http://host/#f"} {
		if u, err := parseUpstream(in); err == nil {
			t.Errorf("parseUpstream(%q) = %v, want an error", in, u)
		}
	}
}

func TestDropCookies(t *testing.T) {
	got := dropCookies([]string{"a=1; CF_Authorization=x; cfaccess_dev_1=y", "b=\"2\";c"}, "CF_Authorization", "cfaccess_dev_1")
	if strings.Join(got, "; ") != `a=1; b="2"; c` {
		t.Errorf("dropCookies = %q", got)
	}
}

func TestIdentityCookieRoundTrip(t *testing.T) {
	id := Identity{Email: "ann@example.com", Groups: []string{"admins", "the \"best\" group"}, IdP: "okta", ServiceToken: "abc.access", SignedOut: true}
	got, err := decodeIdentity(id.encode())
	if err != nil || got.String() != id.String() || strings.Join(got.Groups, "|") != strings.Join(id.Groups, "|") || got.ServiceToken != id.ServiceToken {
		t.Errorf("round trip: %+v, %v", got, err)
	}
	for _, v := range []string{"", "!!", "e30", "eyJlbWFpbCI6ImFubkBleGFtcGxlLmNvbSIsIngiOjF9"} { // {}, {"email":…,"x":1}
		if id, err := decodeIdentity(v); err == nil {
			t.Errorf("decodeIdentity(%q) = %+v, want an error", v, id)
		}
	}
}
