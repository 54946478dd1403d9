package core_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

// quietLogger keeps key-load warnings out of the test output.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestNewVerifierConfigErrors(t *testing.T) {
	srv := accesstest.NewServer()
	t.Cleanup(srv.Close)

	// valid returns a configuration that NewVerifier accepts, for the cases to spoil one field.
	valid := func() core.Config {
		return core.Config{
			TeamDomain:  srv.URL,
			Audiences:   []string{srv.AUD},
			StartupWait: -1,
			Logger:      quietLogger(),
		}
	}
	tests := []struct {
		name    string
		mutate  func(*core.Config)
		mention string // a fragment the error must contain
	}{
		{"nil audiences", func(c *core.Config) { c.Audiences = nil }, "audience"},
		{"empty audience list", func(c *core.Config) { c.Audiences = []string{} }, "audience"},
		{"empty audience", func(c *core.Config) { c.Audiences = []string{""} }, "audience"},
		{"white-space audience", func(c *core.Config) { c.Audiences = []string{" \t"} }, "audience"},
		{"empty audience after a good one", func(c *core.Config) { c.Audiences = []string{srv.AUD, ""} }, "audience"},
		{"comma-separated list in one audience", func(c *core.Config) { c.Audiences = []string{srv.AUD + "," + srv.AUD} }, "comma"},
		{"comma-separated list with spaces", func(c *core.Config) { c.Audiences = []string{srv.AUD + ", other"} }, "comma"},
		{"space-separated list in one audience", func(c *core.Config) { c.Audiences = []string{srv.AUD + " other"} }, "white space"},
		{"tab inside an audience", func(c *core.Config) { c.Audiences = []string{srv.AUD + "\tother"} }, "white space"},
		{"quoted audience", func(c *core.Config) { c.Audiences = []string{`"` + srv.AUD + `"`} }, "quote"},
		{"single-quoted audience", func(c *core.Config) { c.Audiences = []string{"'" + srv.AUD + "'"} }, "quote"},
		{"control character in an audience", func(c *core.Config) { c.Audiences = []string{srv.AUD + "\x00"} }, "control character"},
		{"team domain with a path, bare", func(c *core.Config) { c.TeamDomain = "myteam.cloudflareaccess.com/cdn-cgi/access/certs" }, "no path"},
		{"missing team domain", func(c *core.Config) { c.TeamDomain = "" }, "team domain"},
		{"bad team domain", func(c *core.Config) { c.TeamDomain = "myteam.example.com" }, "myteam.example.com"},
		{"plain http team domain", func(c *core.Config) { c.TeamDomain = "http://myteam.cloudflareaccess.com" }, "http://myteam.cloudflareaccess.com"},
		{"negative Leeway", func(c *core.Config) { c.Leeway = -time.Second }, "Leeway"},
		{"negative RequestTimeout", func(c *core.Config) { c.RequestTimeout = -time.Millisecond }, "RequestTimeout"},
		{"negative RefreshInterval", func(c *core.Config) { c.RefreshInterval = -time.Minute }, "RefreshInterval"},
		{"negative UnknownKeyCooldown", func(c *core.Config) { c.UnknownKeyCooldown = -time.Nanosecond }, "UnknownKeyCooldown"},
		{"Leeway over 10 minutes", func(c *core.Config) { c.Leeway = 10*time.Minute + time.Nanosecond }, "Leeway"},
		{"Leeway of an hour", func(c *core.Config) { c.Leeway = time.Hour }, "Leeway"},
		{"negative MaxTokenSize", func(c *core.Config) { c.MaxTokenSize = -1 }, "MaxTokenSize"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			tt.mutate(&cfg)
			v, err := core.NewVerifier(cfg)
			if err == nil {
				t.Fatalf("NewVerifier accepted %+v", cfg)
			}
			if v != nil {
				t.Errorf("NewVerifier returned a verifier along with error %v", err)
			}
			if !errors.Is(err, core.ErrConfig) {
				t.Errorf("error %v does not wrap core.ErrConfig", err)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", err, tt.mention)
			}
		})
	}
	if n := srv.CertsRequests(); n != 0 {
		t.Errorf("rejected configurations fetched the key set %d times; a bad configuration must not reach the network", n)
	}
}

func TestNewVerifierValidConfigs(t *testing.T) {
	srv := accesstest.NewServer()
	t.Cleanup(srv.Close)

	tests := []struct {
		name      string
		cfg       core.Config
		wantTeam  string
		wantAuds  []string
		mustVerif bool // a token of srv must verify (once keys load)
	}{
		{
			name:     "minimal",
			cfg:      core.Config{TeamDomain: srv.URL, Audiences: []string{srv.AUD}},
			wantTeam: srv.URL, wantAuds: []string{srv.AUD}, mustVerif: true,
		},
		{
			name:     "team domain with trailing slash and spaces",
			cfg:      core.Config{TeamDomain: " " + srv.URL + "/ ", Audiences: []string{srv.AUD}},
			wantTeam: srv.URL, wantAuds: []string{srv.AUD}, mustVerif: true,
		},
		{
			// Surrounding white space is trimmed from audiences as from the team domain: a
			// value read from a file or an environment variable often ends in a newline.
			name:     "audiences with surrounding white space",
			cfg:      core.Config{TeamDomain: srv.URL, Audiences: []string{" " + srv.AUD, "other\n"}},
			wantTeam: srv.URL, wantAuds: []string{srv.AUD, "other"}, mustVerif: true,
		},
		{
			name:     "several audiences",
			cfg:      core.Config{TeamDomain: srv.URL, Audiences: []string{"other", srv.AUD}},
			wantTeam: srv.URL, wantAuds: []string{"other", srv.AUD}, mustVerif: true,
		},
		{
			name: "limits at their bounds",
			cfg: core.Config{TeamDomain: srv.URL, Audiences: []string{srv.AUD},
				Leeway: 10 * time.Minute, TokenCacheSize: -1, MaxTokenSize: 0},
			wantTeam: srv.URL, wantAuds: []string{srv.AUD}, mustVerif: true,
		},
		{
			name: "every duration set",
			cfg: core.Config{TeamDomain: srv.URL, Audiences: []string{srv.AUD},
				Leeway: time.Second, RequestTimeout: time.Second, RefreshInterval: time.Minute,
				UnknownKeyCooldown: time.Second, TokenCacheSize: 10, MaxTokenSize: 8 << 10},
			wantTeam: srv.URL, wantAuds: []string{srv.AUD}, mustVerif: true,
		},
		{
			name:     "team name spelling",
			cfg:      core.Config{TeamDomain: "MyTeam", Audiences: []string{"aud"}},
			wantTeam: "https://myteam.cloudflareaccess.com", wantAuds: []string{"aud"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.StartupWait = -1
			cfg.Logger = quietLogger()
			if !tt.mustVerif {
				// A real team domain must not be contacted from a test: send it nowhere.
				cfg.HTTPClient = &http.Client{Transport: offline{}}
			}
			start := time.Now()
			v, err := core.NewVerifier(cfg)
			if err != nil {
				t.Fatalf("NewVerifier: %v", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("NewVerifier with StartupWait -1 took %v; it must not wait", d)
			}
			if got := v.TeamDomain(); got != tt.wantTeam {
				t.Errorf("TeamDomain() = %q, want %q", got, tt.wantTeam)
			}
			auds := v.Audiences()
			if !slices.Equal(auds, tt.wantAuds) {
				t.Errorf("Audiences() = %q, want %q", auds, tt.wantAuds)
			}
			// Audiences returns a copy: neither the caller's slice nor the result alias the
			// verifier's own.
			auds[0] = "tampered"
			if got := v.Audiences(); !slices.Equal(got, tt.wantAuds) {
				t.Errorf("Audiences() after modifying a returned slice = %q, want %q", got, tt.wantAuds)
			}
			cfg.Audiences[0] = "tampered"
			if got := v.Audiences(); !slices.Equal(got, tt.wantAuds) {
				t.Errorf("Audiences() after modifying Config.Audiences = %q, want %q", got, tt.wantAuds)
			}
			if tt.mustVerif {
				waitKeys(t, v)
				if _, err := v.Verify(t.Context(), srv.User("ann@example.com")); err != nil {
					t.Errorf("Verify(srv.User) = %v", err)
				}
			}
		})
	}
}

// offline is a transport that fails every request at once, without touching the network.
type offline struct{}

func (offline) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("offline")
}

// waitKeys polls until v has loaded a key set.
func waitKeys(t *testing.T, v *core.Verifier) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(v.Stats().KeyIDs) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("keys never loaded: %+v", v.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// FuzzConfigAudiences: whatever an audience holds, NewVerifier either refuses it with
// ErrConfig or keeps it trimmed, a single tag with no comma, white space or quote in it.
func FuzzConfigAudiences(f *testing.F) {
	for _, s := range []string{"aud", " aud\n", "a,b", "a b", `"a"`, "", " ", "a\u00a0b", "a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, aud string) {
		v, err := core.NewVerifier(core.Config{TeamDomain: "myteam", Audiences: []string{aud},
			StartupWait: -1, Logger: quietLogger(), HTTPClient: &http.Client{Transport: offline{}}})
		if err != nil {
			if !errors.Is(err, core.ErrConfig) {
				t.Fatalf("NewVerifier(%q): %v does not wrap ErrConfig", aud, err)
			}
			return
		}
		got := v.Audiences()[0]
		if got != strings.TrimSpace(aud) || got == "" || strings.ContainsAny(got, ",\"'") ||
			strings.IndexFunc(got, unicode.IsSpace) >= 0 || strings.IndexFunc(got, unicode.IsControl) >= 0 {
			t.Fatalf("NewVerifier(%q) kept audience %q", aud, got)
		}
	})
}
