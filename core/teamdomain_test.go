package core_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/cfaccess/cfaccess/core"
)

func TestParseTeamDomainAccepts(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	tests := []struct {
		name, in, want string
	}{
		{"team name", "myteam", "https://myteam.cloudflareaccess.com"},
		{"team name with digits and inner hyphens", "my-team-42", "https://my-team-42.cloudflareaccess.com"},
		{"team name of one character", "x", "https://x.cloudflareaccess.com"},
		{"team name of 63 characters", label63, "https://" + label63 + ".cloudflareaccess.com"},
		{"team name upper case", "MyTeam", "https://myteam.cloudflareaccess.com"},
		{"team name that is also a host name", "localhost", "https://localhost.cloudflareaccess.com"},
		{"team name surrounded by spaces", "  myteam \t\n", "https://myteam.cloudflareaccess.com"},
		{"team host", "myteam.cloudflareaccess.com", "https://myteam.cloudflareaccess.com"},
		{"team host upper case", "MyTeam.CloudflareAccess.COM", "https://myteam.cloudflareaccess.com"},
		{"team host surrounded by spaces", " myteam.cloudflareaccess.com ", "https://myteam.cloudflareaccess.com"},
		{"fed team host", "myteam.fed.cloudflareaccess.com", "https://myteam.fed.cloudflareaccess.com"},
		{"fed team host upper case", "MYTEAM.FED.CLOUDFLAREACCESS.COM", "https://myteam.fed.cloudflareaccess.com"},
		{"https URL", "https://myteam.cloudflareaccess.com", "https://myteam.cloudflareaccess.com"},
		{"https URL with trailing slash", "https://myteam.cloudflareaccess.com/", "https://myteam.cloudflareaccess.com"},
		{"https URL upper case", "HTTPS://MyTeam.CloudflareAccess.com/", "https://myteam.cloudflareaccess.com"},
		{"https URL surrounded by spaces", "\t https://myteam.cloudflareaccess.com/ \n", "https://myteam.cloudflareaccess.com"},
		{"https fed URL", "https://myteam.fed.cloudflareaccess.com", "https://myteam.fed.cloudflareaccess.com"},
		{"https URL of any host", "https://access.example.com", "https://access.example.com"},
		{"http IPv4 loopback with port", "http://127.0.0.1:8787", "http://127.0.0.1:8787"},
		{"http IPv4 loopback other address", "http://127.0.0.2:8787", "http://127.0.0.2:8787"},
		{"http IPv4 loopback trailing slash", "http://127.0.0.1:8787/", "http://127.0.0.1:8787"},
		{"http IPv4 loopback without port", "http://127.0.0.1", "http://127.0.0.1"},
		{"http IPv4 loopback highest port", "http://127.0.0.1:65535", "http://127.0.0.1:65535"},
		{"http IPv4 loopback port 1", "http://127.0.0.1:1", "http://127.0.0.1:1"},
		{"http localhost with port", "http://localhost:8787", "http://localhost:8787"},
		{"http localhost upper case", "HTTP://LOCALHOST:8787", "http://localhost:8787"},
		{"http IPv6 loopback with port", "http://[::1]:8787", "http://[::1]:8787"},
		{"http IPv6 loopback without port", "http://[::1]", "http://[::1]"},
		{"https IPv4 loopback with port", "https://127.0.0.1:8443", "https://127.0.0.1:8443"},
		{"https localhost with port", "https://localhost:8443", "https://localhost:8443"},
		{"https IPv6 loopback with port", "https://[::1]:8443/", "https://[::1]:8443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := core.ParseTeamDomain(tt.in)
			if err != nil {
				t.Fatalf("ParseTeamDomain(%q) error: %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseTeamDomain(%q) = %q, want %q", tt.in, got, tt.want)
			}
			// The canonical form is a fixed point.
			again, err := core.ParseTeamDomain(got)
			if err != nil || again != got {
				t.Fatalf("ParseTeamDomain(%q) = %q, %v; want the canonical form back", got, again, err)
			}
		})
	}
}

func TestParseTeamDomainRejects(t *testing.T) {
	label64 := strings.Repeat("a", 64)
	label63 := strings.Repeat("a", 63)
	tests := []struct {
		name, in string
	}{
		{"empty", ""},
		{"only spaces", "  \t "},
		{"http on a team host", "http://myteam.cloudflareaccess.com"},
		{"http on any other host", "http://example.com"},
		{"ftp scheme", "ftp://myteam.cloudflareaccess.com"},
		{"ws scheme", "ws://127.0.0.1:8787"},
		{"path", "https://myteam.cloudflareaccess.com/cdn-cgi/access/certs"},
		{"double slash path", "https://myteam.cloudflareaccess.com//"},
		{"loopback with path", "http://127.0.0.1:8787/x"},
		{"query", "https://myteam.cloudflareaccess.com?x=1"},
		{"empty query", "https://myteam.cloudflareaccess.com/?"},
		{"fragment", "https://myteam.cloudflareaccess.com#top"},
		{"userinfo", "https://user@myteam.cloudflareaccess.com"},
		{"userinfo with password", "https://user:secret@myteam.cloudflareaccess.com"},
		{"userinfo on loopback", "http://user@127.0.0.1:8787"},
		{"port on a team host", "https://myteam.cloudflareaccess.com:8443"},
		{"port on any other host", "https://example.com:443"},
		{"bare other host", "example.com"},
		{"bare host under another domain", "myteam.example.com"},
		{"bare host with an extra label", "a.myteam.cloudflareaccess.com"},
		{"bare suffix only", "cloudflareaccess.com"},
		{"bare suffix with leading dot", ".cloudflareaccess.com"},
		{"bare fed suffix only", ".fed.cloudflareaccess.com"},
		{"bare host with trailing dot", "myteam.cloudflareaccess.com."},
		{"bare host with trailing slash", "myteam.cloudflareaccess.com/"},
		{"bare host with port", "myteam.cloudflareaccess.com:443"},
		{"bare host with path", "myteam.cloudflareaccess.com/x"},
		{"bare loopback with port", "127.0.0.1:8787"},
		{"team name with underscore", "my_team"},
		{"team host with underscore", "my_team.cloudflareaccess.com"},
		{"https URL with underscore", "https://my_team.cloudflareaccess.com"},
		{"team name with leading hyphen", "-myteam"},
		{"team name with trailing hyphen", "myteam-"},
		{"team host with leading hyphen", "-myteam.cloudflareaccess.com"},
		{"https URL with leading hyphen", "https://-myteam.cloudflareaccess.com"},
		{"https URL with empty label", "https://myteam..cloudflareaccess.com"},
		{"https URL with trailing dot", "https://myteam.cloudflareaccess.com."},
		{"team name with a space", "my team"},
		{"team name with a dot only", "."},
		{"team name with a non-ASCII letter", "myteäm"},
		{"team name with a question mark", "myteam?"},
		{"team name with an at sign", "ann@myteam"},
		{"scheme only", "https://"},
		{"scheme and slash only", "https:///"},
		{"team name of 64 characters", label64},
		{"team host with a 64-character label", label64 + ".cloudflareaccess.com"},
		{"https URL with a 64-character label", "https://" + label64 + ".cloudflareaccess.com"},
		{"https URL longer than 253 characters", "https://" + strings.Repeat(label63+".", 4) + "com"},
		{"IPv6 non-loopback", "https://[2001:db8::1]"},
		{"loopback port 0", "http://127.0.0.1:0"},
		{"loopback port 99999", "http://127.0.0.1:99999"},
		{"loopback port 65536", "http://127.0.0.1:65536"},
		{"loopback port of six digits", "http://127.0.0.1:000080"},
		{"localhost port 0", "http://localhost:0"},
		{"not a URL", "https://my team.cloudflareaccess.com"},
		{"scheme without slashes", "https:myteam.cloudflareaccess.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := core.ParseTeamDomain(tt.in)
			if err == nil {
				t.Fatalf("ParseTeamDomain(%q) = %q, want an error", tt.in, got)
			}
			if got != "" {
				t.Errorf("ParseTeamDomain(%q) returned %q along with the error, want \"\"", tt.in, got)
			}
			if !errors.Is(err, core.ErrConfig) {
				t.Errorf("ParseTeamDomain(%q) error %v does not wrap core.ErrConfig", tt.in, err)
			}
			if !strings.Contains(err.Error(), strconv.Quote(tt.in)) {
				t.Errorf("ParseTeamDomain(%q) error %q does not mention the input", tt.in, err)
			}
		})
	}
}

// TestParseTeamDomainSaysWhy: a bare spelling with more than a host is refused for the reason
// its https:// spelling would be, not with a generic message, and the error quotes the input.
func TestParseTeamDomainSaysWhy(t *testing.T) {
	for _, tt := range []struct{ in, why string }{
		{"myteam.cloudflareaccess.com/cdn-cgi/access/certs", "must be an origin, with no path"},
		{"https://myteam.cloudflareaccess.com/cdn-cgi/access/certs", "must be an origin, with no path"},
		{"myteam.cloudflareaccess.com?x=1", "must be an origin, with no path, query"},
		{"myteam.cloudflareaccess.com#top", "must be an origin, with no path, query or fragment"},
		{"myteam.cloudflareaccess.com:443", "a port is allowed for loopback hosts only"},
		{"ann@myteam.cloudflareaccess.com", "user information"},
		{"myteam.cloudflareaccess.com/", "give a team name, a team host, or a full https:// URL"},
		{"127.0.0.1:8787", "give a team name, a team host, or a full https:// URL"},
	} {
		_, err := core.ParseTeamDomain(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.why) || !strings.Contains(err.Error(), strconv.Quote(tt.in)) {
			t.Errorf("ParseTeamDomain(%q) = %v, want %q naming the input", tt.in, err, tt.why)
		}
	}
}

// A port spelled with leading zeros names the same port, so its canonical form (which must equal
// the iss of the tokens, "http://127.0.0.1:8080" from a test server) drops them.
func TestParseTeamDomainCanonicalPort(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:08080", "http://127.0.0.1:8080"},
		{"http://localhost:0080", "http://localhost:80"},
		{"https://[::1]:00443", "https://[::1]:443"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := core.ParseTeamDomain(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("ParseTeamDomain(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}
