package core

import (
	"fmt"
	"os"
	"strings"
)

// The environment variables that ConfigFromEnv reads.
const (
	// EnvTeamDomain is the team domain, in any spelling ParseTeamDomain accepts.
	EnvTeamDomain = "CF_ACCESS_TEAM_DOMAIN"
	// EnvAudiences is the application's AUD tag; several, comma-separated.
	EnvAudiences = "CF_ACCESS_AUD"
	// EnvHostAudiences binds hosts to AUD tags, as HOST=AUD pairs separated by commas or
	// white space; a host bound to several AUDs is listed once per AUD.
	EnvHostAudiences = "CF_ACCESS_HOST_AUD"
)

// ConfigFromEnv returns the Config that the environment describes, by the convention that
// the example servers and the cfaccess command follow:
//
//	CF_ACCESS_TEAM_DOMAIN   the team domain: myteam, myteam.cloudflareaccess.com or its https URL (required)
//	CF_ACCESS_AUD           the application's AUD tag; several, comma-separated
//	CF_ACCESS_HOST_AUD      host=AUD pairs, for an origin that serves several applications (Config.HostAudiences)
//
// One of CF_ACCESS_AUD and CF_ACCESS_HOST_AUD is required. Surrounding white space is
// ignored. The Config is validated as NewVerifier would (with no network); every error
// names the variable to fix, and wraps ErrConfig. Set the rest of the Config (a shared
// identity store: package core/redisstore reads CF_ACCESS_REDIS_URL and
// CF_ACCESS_CACHE_KEY) on what it returns.
func ConfigFromEnv() (Config, error) {
	team := strings.TrimSpace(os.Getenv(EnvTeamDomain))
	if team == "" {
		return Config{}, envError(EnvTeamDomain, "is not set: set it to your team domain, e.g. myteam.cloudflareaccess.com")
	}
	if _, err := ParseTeamDomain(team); err != nil {
		return Config{}, fmt.Errorf("%s: %w", EnvTeamDomain, err)
	}
	cfg := Config{TeamDomain: team}
	for aud := range strings.SplitSeq(os.Getenv(EnvAudiences), ",") {
		if aud = strings.TrimSpace(aud); aud != "" {
			cfg.Audiences = append(cfg.Audiences, aud)
		}
	}
	if _, err := audiences("", cfg.Audiences); err != nil {
		return Config{}, fmt.Errorf("%s: %w", EnvAudiences, err)
	}
	for _, pair := range strings.FieldsFunc(os.Getenv(EnvHostAudiences), func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n'
	}) {
		host, aud, ok := strings.Cut(pair, "=")
		if !ok || host == "" || aud == "" {
			return Config{}, envError(EnvHostAudiences, "holds %q: give host=AUD pairs, e.g. app.example.com=<AUD tag>", pair)
		}
		if cfg.HostAudiences == nil {
			cfg.HostAudiences = make(map[string][]string)
		}
		cfg.HostAudiences[host] = append(cfg.HostAudiences[host], aud)
	}
	if len(cfg.Audiences) == 0 && len(cfg.HostAudiences) == 0 {
		return Config{}, envError(EnvAudiences, "is not set: set it to your application's AUD tag (Zero Trust → Access → Applications → the application; several: comma-separated)")
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", EnvHostAudiences, err) // the other two are checked above
	}
	return cfg, nil
}

func envError(name, format string, args ...any) error {
	return fmt.Errorf("%w: %s "+format, append([]any{ErrConfig, name}, args...)...)
}
