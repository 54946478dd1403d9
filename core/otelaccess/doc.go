// Package otelaccess reports what cfaccess does as OpenTelemetry metrics and traces: the
// decisions of its middleware, the state of its verifiers, and the calls they make to the
// Access team domain. It uses the OpenTelemetry API only, so the program picks the SDK and
// the exporter (OTLP, Prometheus, …); package core never imports OpenTelemetry.
//
// Three hooks, all optional:
//
//	t, err := otelaccess.New() // the global MeterProvider and TracerProvider; see WithMeterProvider
//	cfg.HTTPClient = &http.Client{Transport: t.Transport(nil)} // calls to the team domain
//	v, err := core.NewVerifier(cfg)
//	reg, err := t.Watch(v) // v.Stats(), at each collection
//	defer reg.Unregister()
//	r.Use(chiaccess.Middleware(v, chiaccess.WithObserver(t.Observe))) // decisions
//
// # Metrics
//
// Names are given as OpenTelemetry spells them, then as the Prometheus exporter does.
//
//	cfaccess.decisions  cfaccess_decisions_total  counter {decision}
//	    One per decision of a middleware or route requirement (Observe: a request that
//	    passes a middleware and meets a route requirement is two decisions), by
//	    cfaccess.outcome (allowed, anonymous, denied, redirected), cfaccess.code (the
//	    core.Code of a refusal: missing_token, invalid_token, forbidden, unavailable,
//	    misconfigured; empty when allowed) and cfaccess.reason (its core.Reason, such as
//	    signature, audience, expired, policy, keys_unavailable; empty when allowed or when
//	    the code has none, as missing_token).
//	cfaccess.decision.duration  cfaccess_decision_duration_seconds  histogram s
//	    How long each decision took, identity lookup included, by outcome and code; buckets
//	    from 1 µs (a cached token) to 5 s: 1, 2.5, 5, 10, 25, 50, 100, 250, 500 µs, 1, 2.5,
//	    5, 10, 25, 50, 100, 250, 500 ms, 1, 2.5, 5 s.
//	cfaccess.team.request.duration  cfaccess_team_request_duration_seconds  histogram s
//	    Each call to the team domain (Transport) until its answer is read, by
//	    cfaccess.endpoint (certs: the key set; get_identity; other) and
//	    cfaccess.status_class (2xx, 4xx, 5xx…, or error when no answer could be read);
//	    buckets those of the semantic conventions' http.client.request.duration, 5 ms to
//	    10 s.
//	cfaccess.cache.lookups  cfaccess_cache_lookups_total  counter {lookup}
//	    Lookups of the verified-token and identity caches (Watch), by cfaccess.cache (token,
//	    identity) and cfaccess.result (hit, miss). A miss of the token cache costs an RSA
//	    verification; one of the identity cache, a get-identity call (or a store read).
//	cfaccess.cache.evictions  cfaccess_cache_evictions_total  counter {entry}
//	    Entries dropped from a full cache to make room, by cfaccess.cache: a cache too small
//	    for the traffic, when they keep coming.
//	cfaccess.cache.entries  cfaccess_cache_entries  gauge {entry}
//	    Entries in each cache, by cfaccess.cache.
//	cfaccess.identity_store.operations  cfaccess_identity_store_operations_total  counter {operation}
//	    Uses of the shared identity store, by cfaccess.operation and cfaccess.result:
//	    read (hit, miss, error, rejected) and write (ok, error); skipped (no operation
//	    attribute) counts reads and writes not made, the store failing lately or too many
//	    operations under way. Rejected entries are expired
//	    or were not sealed with this instance's key: instances given different keys, or
//	    someone writing to the store.
//	cfaccess.keys.unknown  cfaccess_keys_unknown_total  counter {token}
//	    Tokens whose kid is not in the key set, by cfaccess.reason: unknown_key (refused,
//	    401) or unknown_key_pending (told to retry, 503, as they may be signed by a key
//	    published since the last fetch; anyone can mint these, so they are no sign of an
//	    outage).
//	cfaccess.keys.unavailable  cfaccess_keys_unavailable_total  counter {request}
//	    Requests answered 503 because the key set could not be fetched: an outage.
//	cfaccess.keys.age  cfaccess_keys_age_seconds  gauge s
//	    Time since the current key set was fetched; absent until one is. It drops at each
//	    refresh (hourly by default); one that keeps growing means refreshes fail.
//
// Every attribute value comes from a closed set: core's outcomes, codes and reasons (any
// other value, such as one a custom policy makes up, is recorded as Other), the endpoints
// and status classes. Nothing from the request is copied, so the number of series is
// bounded whatever the traffic: a few dozen in practice, as each reason belongs to one
// code, and about a thousand at the very most. No e-mail, token, subject,
// policy name or token ID is ever a metric attribute.
//
// # Traces
//
// Transport makes a client span for each call to the team domain: "GET
// /cdn-cgi/access/certs" for key fetches, "GET /cdn-cgi/access/get-identity" for identity
// lookups, with the semantic conventions' HTTP attributes (method, url.full without query,
// server.address, server.port, status code, error.type) and cfaccess.endpoint. A
// get-identity span is a child of the span of the request that needed it; key fetches run
// in the background and start their own traces. Spans never carry the token, a header or
// an e-mail; with WithTokenID, get-identity spans carry cfaccess.token_id, the core.TokenID
// that core.LogEvents logs.
//
// # Alerts
//
// PromQL that an operator alerts on, with the Prometheus exporter's names:
//
//	# Access outage: 503s for want of keys or identities (not the pending unknown keys
//	# that anyone can cause)
//	sum(rate(cfaccess_decisions_total{cfaccess_code="unavailable",cfaccess_reason!="unknown_key_pending"}[5m])) > 0
//
//	# forgeries: tokens whose signature fails, or signed by a key the team never published
//	sum(rate(cfaccess_decisions_total{cfaccess_reason=~"signature|unknown_key"}[5m])) > 0
//
//	# wrong AUD: tokens of the team for another application (a misrouted hostname, or the
//	# AUD tag of the wrong application configured)
//	sum(rate(cfaccess_decisions_total{cfaccess_reason=~"audience|host_audience"}[5m])) > 0
//
//	# a mistake in the application's use of cfaccess (500s)
//	sum(rate(cfaccess_decisions_total{cfaccess_code="misconfigured"}[5m])) > 0
//
//	# key set not refreshed for 3 hours (refreshes fail; the last good set is still used)
//	max(cfaccess_keys_age_seconds) > 3 * 3600
//
//	# get-identity slow: 95th percentile over 1 s
//	histogram_quantile(0.95, sum by (le) (rate(cfaccess_team_request_duration_seconds_bucket{cfaccess_endpoint="get_identity"}[5m]))) > 1
//
//	# identity store failing (each failure costs a get-identity call)
//	sum(rate(cfaccess_identity_store_operations_total{cfaccess_result=~"error|rejected"}[5m])) > 0
package otelaccess
