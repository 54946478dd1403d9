package core_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// quietLogger keeps key-load warnings out of the test output.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestNewVerifierConfigErrors(t *testing.T) {
	srv := testkit.NewTeam(t)

	// valid returns a configuration that NewVerifier accepts, for the cases to spoil one field.
	valid := func() core.Config {
		return core.Config{
			TeamDomain: srv.URL,
			Audiences:  []string{srv.AUD},
			Keys:       core.KeyConfig{StartupWait: core.None},
			Logger:     quietLogger(),
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
		{"negative Leeway", func(c *core.Config) { c.Tokens.Leeway = -time.Second }, "Tokens.Leeway"},
		{"negative RequestTimeout", func(c *core.Config) { c.RequestTimeout = -time.Millisecond }, "RequestTimeout"},
		{"negative RefreshInterval", func(c *core.Config) { c.Keys.RefreshInterval = -time.Minute }, "Keys.RefreshInterval"},
		{"negative UnknownKeyCooldown", func(c *core.Config) { c.Keys.UnknownKeyCooldown = -time.Nanosecond }, "Keys.UnknownKeyCooldown"},
		{"Leeway over 10 minutes", func(c *core.Config) { c.Tokens.Leeway = 10*time.Minute + time.Nanosecond }, "Tokens.Leeway"},
		{"Leeway of an hour", func(c *core.Config) { c.Tokens.Leeway = time.Hour }, "Tokens.Leeway"},
		{"MaxSize None", func(c *core.Config) { c.Tokens.MaxSize = core.None }, "Tokens.MaxSize"},
		{"negative MaxSize", func(c *core.Config) { c.Tokens.MaxSize = -2 }, "Tokens.MaxSize"},
		{"GroupsClaim without a name", func(c *core.Config) { c.Groups = core.GroupsClaim("") }, "empty"},
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
			if verr := cfg.Validate(); verr == nil || verr.Error() != err.Error() {
				t.Errorf("Validate() = %v, want NewVerifier's error %v", verr, err)
			}
		})
	}
	if n := srv.CertsRequests(); n != 0 {
		t.Errorf("rejected configurations fetched the key set %d times; a bad configuration must not reach the network", n)
	}
}

func TestNewVerifierValidConfigs(t *testing.T) {
	srv := testkit.NewTeam(t)

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
				Tokens: core.TokenConfig{Leeway: 10 * time.Minute, CacheSize: core.None, MaxSize: 0}},
			wantTeam: srv.URL, wantAuds: []string{srv.AUD}, mustVerif: true,
		},
		{
			name: "every duration set",
			cfg: core.Config{TeamDomain: srv.URL, Audiences: []string{srv.AUD},
				RequestTimeout: 30 * time.Second,
				Tokens:         core.TokenConfig{Leeway: time.Second, CacheSize: 10, MaxSize: 8 << 10},
				Keys:           core.KeyConfig{RefreshInterval: time.Minute, UnknownKeyCooldown: time.Second},
			},
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
			cfg.Keys.StartupWait = core.None
			cfg.Logger = quietLogger()
			if !tt.mustVerif {
				// A real team domain must not be contacted from a test: send it nowhere.
				cfg.HTTPClient = &http.Client{Transport: offline{}}
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			v, err := core.NewVerifier(cfg)
			if err != nil {
				t.Fatalf("NewVerifier: %v", err)
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
		v, err := core.NewVerifier(offlineConfig("myteam", aud))
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

// TestConfigNoneAndNegatives holds every duration and size of Config to the one rule: zero
// is the default, None is none where none is safe and an error elsewhere, any other
// negative value is an error, and every error names the field.
func TestConfigNoneAndNegatives(t *testing.T) {
	type field struct {
		name   string
		set    func(c *core.Config, v int64)
		noneOK bool
	}
	dur := func(dst func(*core.Config) *time.Duration) func(*core.Config, int64) {
		return func(c *core.Config, v int64) { *dst(c) = time.Duration(v) }
	}
	size := func(dst func(*core.Config) *int) func(*core.Config, int64) {
		return func(c *core.Config, v int64) { *dst(c) = int(v) }
	}
	for _, f := range []field{
		{"Tokens.Leeway", dur(func(c *core.Config) *time.Duration { return &c.Tokens.Leeway }), true},
		{"Tokens.MaxSize", size(func(c *core.Config) *int { return &c.Tokens.MaxSize }), false},
		{"Tokens.CacheSize", size(func(c *core.Config) *int { return &c.Tokens.CacheSize }), true},
		{"Keys.StartupWait", dur(func(c *core.Config) *time.Duration { return &c.Keys.StartupWait }), true},
		{"Keys.FetchWait", dur(func(c *core.Config) *time.Duration { return &c.Keys.FetchWait }), true},
		{"Keys.RefreshInterval", dur(func(c *core.Config) *time.Duration { return &c.Keys.RefreshInterval }), false},
		{"Keys.UnknownKeyCooldown", dur(func(c *core.Config) *time.Duration { return &c.Keys.UnknownKeyCooldown }), false},
		{"Identities.CacheSize", size(func(c *core.Config) *int { return &c.Identities.CacheSize }), true},
		{"Identities.TTL", dur(func(c *core.Config) *time.Duration { return &c.Identities.TTL }), false},
		{"Identities.FailureTTL", dur(func(c *core.Config) *time.Duration { return &c.Identities.FailureTTL }), true},
		{"Identities.Shared.Timeout", dur(func(c *core.Config) *time.Duration { return &c.Identities.Shared.Timeout }), false},
		{"RequestTimeout", dur(func(c *core.Config) *time.Duration { return &c.RequestTimeout }), false},
	} {
		for _, v := range []int64{0, 1, int64(time.Second), core.None, -2, -int64(time.Hour)} {
			cfg := offlineConfig("myteam", "aud")
			cfg.Identities.Shared = &core.SharedStore{Store: newMemStore(), Key: storeKey}
			f.set(&cfg, v)
			err := cfg.Validate()
			switch {
			case v >= 0 || (v == core.None && f.noneOK):
				if err != nil {
					t.Errorf("%s = %d: %v", f.name, v, err)
				}
			case err == nil:
				t.Errorf("%s = %d accepted", f.name, v)
			case !errors.Is(err, core.ErrConfig) || !strings.Contains(err.Error(), f.name):
				t.Errorf("%s = %d: error %q does not wrap ErrConfig and name the field", f.name, v, err)
			case v == core.None && !strings.Contains(err.Error(), "None"):
				t.Errorf("%s = None: error %q does not say None is not allowed here", f.name, err)
			}
		}
	}
}

// TestConfigValidateIsOffline: Validate checks a configuration without a request to the team
// domain, whatever it finds, and agrees with NewVerifier.
func TestConfigValidateIsOffline(t *testing.T) {
	srv := testkit.NewTeam(t)
	var calls atomic.Int64
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	good := testkit.Config(srv, nil)
	good.HTTPClient = client
	bad := good
	bad.Audiences = []string{srv.AUD + "," + srv.AUD}
	for range 3 {
		if err := good.Validate(); err != nil {
			t.Fatalf("Validate: %v", err)
		}
		if err := bad.Validate(); !errors.Is(err, core.ErrConfig) {
			t.Fatalf("Validate of a list in one audience = %v", err)
		}
	}
	if calls.Load() != 0 || srv.CertsRequests() != 0 {
		t.Fatalf("Validate made %d requests; the team domain saw %d", calls.Load(), srv.CertsRequests())
	}
	// The same configuration does reach the team domain through NewVerifier, with that client.
	v := testkit.NewVerifier(t, good)
	waitKeys(t, v)
	if calls.Load() == 0 || srv.CertsRequests() == 0 {
		t.Error("NewVerifier did not use Config.HTTPClient")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestStartupWait: NewVerifier waits for the first key set as long as Keys.StartupWait
// allows, and returns as soon as it lands; with None it returns at once, the set still on
// its way.
func TestStartupWait(t *testing.T) {
	srv := testkit.NewTeam(t)
	srv.FailCerts(accesstest.Held)

	cfg := testkit.Config(srv, nil)
	cfg.RequestTimeout = time.Minute // only the release ends a held fetch
	cfg.Keys.StartupWait = core.None
	v := testkit.NewVerifier(t, cfg) // returns while the fetch is held
	if st := v.Stats(); len(st.KeyIDs) != 0 {
		t.Fatalf("keys %v with the fetch held", st.KeyIDs)
	}

	cfg.Keys.StartupWait = time.Minute
	done := make(chan *core.Verifier, 1)
	go func() {
		w, err := core.NewVerifier(cfg)
		if err != nil {
			t.Error(err)
		}
		done <- w
	}()
	testkit.Eventually(t, "the second verifier's fetch", func() bool { return srv.CertsRequests() == 2 })
	select {
	case <-done:
		t.Fatal("NewVerifier returned while its first fetch was held, within its StartupWait")
	default:
	}
	srv.FailCerts(accesstest.Healthy)
	w := <-done
	if st := w.Stats(); len(st.KeyIDs) == 0 {
		t.Fatalf("NewVerifier returned without the keys it waited for: %+v", st)
	}
	testkit.Eventually(t, "the first verifier's keys", func() bool { return len(v.Stats().KeyIDs) != 0 })
}
