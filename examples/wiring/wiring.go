// Package wiring is the production wiring of the example servers, the part to copy into an
// application: which Access application to trust, and optionally the Redis that the
// instances of a fleet share identities through, both from the environment (see
// examples/README.md), with OpenTelemetry metrics. Every error names the variable to fix.
package wiring

import (
	"net/http"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/otelaccess"
	"github.com/cfaccess/cfaccess/core/redisstore"
)

// NewVerifier returns the verifier that CF_ACCESS_TEAM_DOMAIN and CF_ACCESS_AUD (or
// CF_ACCESS_HOST_AUD) describe, sharing identities through CF_ACCESS_REDIS_URL with
// CF_ACCESS_CACHE_KEY when they are set, and reporting to t: its calls to the team domain
// (latency, spans) and its caches, key set and identity store. Give t.Observe to the
// adapter's WithObserver to count every decision too. Unregister the returned
// registration when done with the verifier.
func NewVerifier(t *otelaccess.Telemetry) (*core.Verifier, *otelaccess.Registration, error) {
	cfg, err := core.ConfigFromEnv()
	if err != nil {
		return nil, nil, err
	}
	cfg.Identities.Shared, err = redisstore.FromEnv() // nil when neither variable is set
	if err != nil {
		return nil, nil, err
	}
	cfg.HTTPClient = &http.Client{Transport: t.Transport(nil)}
	v, err := core.NewVerifier(cfg)
	if err != nil {
		return nil, nil, err
	}
	reg, err := t.Watch(v)
	if err != nil {
		return nil, nil, err
	}
	return v, reg, nil
}
