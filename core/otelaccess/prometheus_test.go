package otelaccess_test

import (
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// sample is one line of Prometheus text: a series and its value.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// scrape GETs url and returns its samples and its "# TYPE" lines, by metric name.
func scrape(t *testing.T, url string) ([]sample, map[string]string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, %v", url, resp.StatusCode, err)
	}
	var samples []sample
	types := make(map[string]string)
	for line := range strings.SplitSeq(string(body), "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			types[f[2]] = f[3]
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		s := sample{name: m[1], labels: make(map[string]string), value: v}
		for _, p := range labelPair.FindAllStringSubmatch(m[2], -1) {
			s.labels[p[1]] = p[2]
		}
		samples = append(samples, s)
	}
	return samples, types
}

// value returns the value of the sample called name whose cfaccess_ labels are exactly
// labels (an absent label counts as empty), and whether there is one.
func value(samples []sample, name string, labels map[string]string) (float64, bool) {
	for _, s := range samples {
		if s.name != name {
			continue
		}
		own := make(map[string]string)
		for k, v := range s.labels {
			if strings.HasPrefix(k, "cfaccess_") && v != "" {
				own[k] = v
			}
		}
		want := maps.Clone(labels)
		maps.DeleteFunc(want, func(_, v string) bool { return v == "" })
		if maps.Equal(own, want) {
			return s.value, true
		}
	}
	return 0, false
}

// With the SDK and its Prometheus exporter, the metrics are served under the names that
// the package documentation and its PromQL use.
func TestPrometheus(t *testing.T) {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		t.Fatalf("prometheus exporter: %v", err)
	}
	e := newEnvReader(t, exporter, nil)
	if _, err := e.tel.Watch(e.v); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	policy := e.guard(t, adapter.WithPolicy(core.Groups("admins")))
	for _, r := range []struct {
		token  string
		status int
	}{
		{e.srv.User("ann@example.com", "admins"), http.StatusOK},
		{"", http.StatusUnauthorized},
		{e.srv.User("bob@example.com", "staff"), http.StatusForbidden},
		{e.srv.Mint(accesstest.Token{Email: "cy@example.com", Audience: []string{"another-application"}}), http.StatusUnauthorized},
	} {
		if got := get(t, policy.URL, r.token); got != r.status {
			t.Fatalf("status %d, want %d", got, r.status)
		}
	}
	metrics := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(metrics.Close)
	testkit.Eventually(t, "the first key fetch's span", func() bool { return len(spansNamed(e.spans, certsSpan)) > 0 })
	samples, types := scrape(t, metrics.URL+"/metrics")

	for name, typ := range map[string]string{
		"cfaccess_decisions_total":                 "counter",
		"cfaccess_decision_duration_seconds":       "histogram",
		"cfaccess_team_request_duration_seconds":   "histogram",
		"cfaccess_cache_lookups_total":             "counter",
		"cfaccess_cache_evictions_total":           "counter",
		"cfaccess_cache_entries":                   "gauge",
		"cfaccess_identity_store_operations_total": "counter",
		"cfaccess_keys_unknown_total":              "counter",
		"cfaccess_keys_unavailable_total":          "counter",
		"cfaccess_keys_age_seconds":                "gauge",
	} {
		if got := types[name]; got != typ {
			t.Errorf("# TYPE %s %q, want %q", name, got, typ)
		}
	}
	type l = map[string]string
	for _, w := range []struct {
		name   string
		labels l
		value  float64 // -1: any
	}{
		{"cfaccess_decisions_total", l{"cfaccess_outcome": "allowed"}, 1},
		{"cfaccess_decisions_total", l{"cfaccess_outcome": "denied", "cfaccess_code": "missing_token"}, 1},
		{"cfaccess_decisions_total", l{"cfaccess_outcome": "denied", "cfaccess_code": "forbidden", "cfaccess_reason": "policy"}, 1},
		{"cfaccess_decisions_total", l{"cfaccess_outcome": "denied", "cfaccess_code": "invalid_token", "cfaccess_reason": "audience"}, 1},
		{"cfaccess_decision_duration_seconds_count", l{"cfaccess_outcome": "denied", "cfaccess_code": "invalid_token"}, 1},
		{"cfaccess_decision_duration_seconds_bucket", l{"cfaccess_outcome": "allowed"}, -1},
		{"cfaccess_team_request_duration_seconds_count", l{"cfaccess_endpoint": "get_identity", "cfaccess_status_class": "2xx"}, 2},
		{"cfaccess_team_request_duration_seconds_count", l{"cfaccess_endpoint": "certs", "cfaccess_status_class": "2xx"}, -1},
		{"cfaccess_cache_lookups_total", l{"cfaccess_cache": "token", "cfaccess_result": "miss"}, 3},
		{"cfaccess_cache_lookups_total", l{"cfaccess_cache": "identity", "cfaccess_result": "miss"}, 2},
		{"cfaccess_cache_evictions_total", l{"cfaccess_cache": "token"}, 0},
		{"cfaccess_cache_entries", l{"cfaccess_cache": "token"}, 2},
		{"cfaccess_identity_store_operations_total", l{"cfaccess_operation": "read", "cfaccess_result": "hit"}, 0},
		{"cfaccess_keys_unknown_total", l{"cfaccess_reason": "unknown_key_pending"}, 0},
		{"cfaccess_keys_unavailable_total", l{}, 0},
		{"cfaccess_keys_age_seconds", l{}, -1},
	} {
		got, ok := value(samples, w.name, w.labels)
		switch {
		case !ok:
			t.Errorf("no sample %s%v", w.name, w.labels)
		case w.value >= 0 && got != w.value:
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.value)
		}
	}
	for _, s := range samples {
		for k, v := range s.labels {
			if strings.Contains(v, "@") {
				t.Errorf("%s: label %s=%q carries an e-mail", s.name, k, v)
			}
		}
	}
}
