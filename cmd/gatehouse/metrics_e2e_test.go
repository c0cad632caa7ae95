package main

// End-to-end tests of /metrics: the built binary is scraped before and after
// the walk-through, as Prometheus would.

import (
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeMetrics reads and parses GET /metrics of p, without credentials.
func scrapeMetrics(t *testing.T, p *process) map[string]*dto.MetricFamily {
	t.Helper()
	a := p.do(t, call{path: "/metrics"})
	expectStatus(t, "metrics", a, 200)
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("metrics: Content-Type %q", ct)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(a.body))
	if err != nil {
		t.Fatalf("metrics: %v\n%s", err, a.body)
	}
	return families
}

// metricValue is the value of the series of family name with exactly the
// given labels (a counter's or gauge's value, a histogram's count), and
// whether it exists.
func metricValue(families map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, m := range families[name].GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		for _, l := range m.GetLabel() {
			if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// metricDelta is how much a series moved between two scrapes; a series
// missing from the second fails the test.
func metricDelta(t *testing.T, before, after map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	b, _ := metricValue(before, name, labels...)
	a, ok := metricValue(after, name, labels...)
	if !ok {
		t.Fatalf("no series %s%v", name, labels)
	}
	return a - b
}

// expectMoved fails unless each authentication series moved.
func expectMoved(t *testing.T, what string, before, after map[string]*dto.MetricFamily, series ...[2]string) {
	t.Helper()
	for _, s := range series {
		if d := metricDelta(t, before, after, "gatehouse_authentications_total", "method", s[0], "outcome", s[1]); d <= 0 {
			t.Errorf("%s: gatehouse_authentications_total{method=%q,outcome=%q} moved by %v during the walk-through", what, s[0], s[1], d)
		}
	}
}

// checkNoSecretLabels fails if a label of any series holds one of secrets.
func checkNoSecretLabels(t *testing.T, what string, families map[string]*dto.MetricFamily, secrets ...string) {
	t.Helper()
	for name, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				for _, s := range secrets {
					if s != "" && strings.Contains(l.GetValue(), s) {
						t.Errorf("%s: %s has label %s=%q", what, name, l.GetName(), l.GetValue())
					}
				}
			}
		}
	}
}

// throttle makes attempts with a wrong password for a login nobody has, and
// expects the given statuses in turn.
func throttle(t *testing.T, p *process, login string, statuses ...int) {
	t.Helper()
	for i, want := range statuses {
		a := p.do(t, call{path: "/api/resource", auth: basicAuth(login, "not the password")})
		if a.status != want {
			t.Fatalf("attempt %d for %s: status %d, want %d: %s", i+1, login, a.status, want, a.body)
		}
	}
}

// throttleUntilBlocked makes attempts with a wrong password for login until
// one answers 429, at most limit of them, each other one answering 401, and
// returns how many failed before the block.
func throttleUntilBlocked(t *testing.T, p *process, login string, limit int) int {
	t.Helper()
	for i := range limit {
		a := p.do(t, call{path: "/api/resource", auth: basicAuth(login, "not the password")})
		switch a.status {
		case 429:
			return i
		case 401:
		default:
			t.Fatalf("attempt %d for %s: status %d: %s", i+1, login, a.status, a.body)
		}
	}
	t.Fatalf("%d attempts for %s, none throttled", limit, login)
	return 0
}

// TestMetricsEndToEnd: the API server's /metrics shows authentication
// counters moving during the walk-through, for every method, along with
// the HTTP, provider, cache and regulation metrics.
func TestMetricsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	p := startAPI(t, dir, dir+"/gatehouse.db")
	before := scrapeMetrics(t, p)
	w := walkthrough(t, p)
	after := scrapeMetrics(t, p)

	expectMoved(t, "API", before, after,
		[2]string{"password", "success"}, [2]string{"password", "failure"},
		[2]string{"api_key", "success"}, [2]string{"token", "success"},
		[2]string{"bearer", "success"}, [2]string{"bearer", "failure"})
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"gatehouse_http_requests_total", []string{"route", "/api/resource", "method", "GET", "code", "200"}},
		{"gatehouse_http_requests_total", []string{"route", "/api/resource", "method", "GET", "code", "401"}},
		{"gatehouse_http_requests_total", []string{"route", "/api/users", "method", "POST", "code", "201"}},
		{"gatehouse_http_request_duration_seconds", []string{"route", "/api/me/custom-data", "method", "PATCH"}},
		{"gatehouse_provider_calls_total", []string{"operation", "authenticate", "outcome", "ok"}},
		{"gatehouse_provider_calls_total", []string{"operation", "authenticate", "outcome", "invalid_credentials"}},
		{"gatehouse_provider_calls_total", []string{"operation", "create_account", "outcome", "conflict"}},
		{"gatehouse_provider_call_duration_seconds", []string{"operation", "issue_token"}},
		{"gatehouse_cache_hits_total", nil},
		{"gatehouse_cache_misses_total", nil},
	} {
		if d := metricDelta(t, before, after, c.name, c.labels...); d <= 0 {
			t.Errorf("%s%v moved by %v during the walk-through", c.name, c.labels, d)
		}
	}

	// Failed-login regulation: five failures, then a block.
	throttle(t, p, "zed", 401, 401, 401, 401, 401, 429)
	blocked := scrapeMetrics(t, p)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"gatehouse_authentications_total", []string{"method", "password", "outcome", "failure"}, 5},
		{"gatehouse_authentications_total", []string{"method", "password", "outcome", "throttled"}, 1},
		{"gatehouse_regulation_blocks_total", nil, 1},
		{"gatehouse_regulation_limit_blocks_total", []string{"limit", "pair"}, 1},
		{"gatehouse_regulation_failures_total", nil, 5},
		{"gatehouse_http_requests_total", []string{"route", "/api/resource", "method", "GET", "code", "429"}, 1},
	} {
		if d := metricDelta(t, after, blocked, c.name, c.labels...); d != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, d, c.want)
		}
	}

	if v, ok := metricValue(blocked, "gatehouse_build_info", "version", "dev", "revision", buildInfoLabel(t, blocked, "revision"), "goversion", buildInfoLabel(t, blocked, "goversion")); !ok || v != 1 {
		t.Errorf("gatehouse_build_info{version=\"dev\"} = %v, %v", v, ok)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if blocked[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	if _, ok := blocked["gatehouse_remote_breaker_state"]; ok {
		t.Error("a local provider has a circuit breaker state")
	}
	checkNoSecretLabels(t, "API", blocked, append(w.secrets, "miguel", "zed", w.id, "127.0.0.1")...)
}

// buildInfoLabel returns a label of gatehouse_build_info, which must not
// be empty.
func buildInfoLabel(t *testing.T, families map[string]*dto.MetricFamily, name string) string {
	t.Helper()
	for _, m := range families["gatehouse_build_info"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == name && l.GetValue() != "" {
				return l.GetValue()
			}
		}
	}
	t.Fatalf("gatehouse_build_info has no %s", name)
	return ""
}

// TestMetricsEndToEndRemote: with the remote provider, the API server's
// counters move as with a local one, and the directory's own /metrics
// counts the login attempts and API key verifications the API server
// relays, and the blocks of its own regulation.
func TestMetricsEndToEndRemote(t *testing.T) {
	s := startRemote(t)
	// The directory again, on the same address, with a login-wide limit
	// low enough for a test to reach.
	s.directory.stop(t)
	s.directory = startBinary(t, s.dir, []string{"directory", "serve"},
		append(s.dirEnv, "GATEHOUSE_DIRECTORY_ADDR="+s.directory.addr, "GATEHOUSE_REGULATION_ACCOUNT_MAX_FAILURES=2")...)

	apiBefore, dirBefore := scrapeMetrics(t, s.api), scrapeMetrics(t, s.directory)
	w := walkthrough(t, s.api)
	apiAfter, dirAfter := scrapeMetrics(t, s.api), scrapeMetrics(t, s.directory)

	expectMoved(t, "API", apiBefore, apiAfter,
		[2]string{"password", "success"}, [2]string{"password", "failure"},
		[2]string{"api_key", "success"}, [2]string{"token", "success"},
		[2]string{"bearer", "success"}, [2]string{"bearer", "failure"})
	expectMoved(t, "directory", dirBefore, dirAfter,
		[2]string{"password", "success"}, [2]string{"password", "failure"},
		[2]string{"api_key", "success"})
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"gatehouse_http_requests_total", []string{"route", "/v1/applications/:appId/loginAttempts", "method", "POST", "code", "200"}},
		{"gatehouse_http_requests_total", []string{"route", "/v1/applications/:appId/loginAttempts", "method", "POST", "code", "400"}},
		{"gatehouse_http_requests_total", []string{"route", "/v1/applications/:appId/apiKeyAttempts", "method", "POST", "code", "200"}},
		{"gatehouse_provider_calls_total", []string{"operation", "authenticate", "outcome", "ok"}},
		{"gatehouse_provider_calls_total", []string{"operation", "create_account", "outcome", "ok"}},
	} {
		if d := metricDelta(t, dirBefore, dirAfter, c.name, c.labels...); d <= 0 {
			t.Errorf("directory: %s%v moved by %v during the walk-through", c.name, c.labels, d)
		}
	}
	if v, ok := metricValue(apiAfter, "gatehouse_remote_breaker_state"); !ok || v != 0 {
		t.Errorf("API: gatehouse_remote_breaker_state = %v (present %v), want 0 (closed)", v, ok)
	}

	// Two failures lock the login at the directory (for 1 s, doubling
	// with each further failure, so a slow machine may need one more
	// try); the API server, whose own pair limit is not reached, relays
	// the block.
	failures := throttleUntilBlocked(t, s.api, "zed", 4)
	apiBlocked, dirBlocked := scrapeMetrics(t, s.api), scrapeMetrics(t, s.directory)
	for _, c := range []struct {
		what   string
		a, b   map[string]*dto.MetricFamily
		name   string
		labels []string
		want   float64
	}{
		{"directory", dirAfter, dirBlocked, "gatehouse_regulation_blocks_total", nil, 1},
		{"directory", dirAfter, dirBlocked, "gatehouse_regulation_limit_blocks_total", []string{"limit", "login"}, 1},
		{"directory", dirAfter, dirBlocked, "gatehouse_authentications_total", []string{"method", "password", "outcome", "throttled"}, 1},
		{"directory", dirAfter, dirBlocked, "gatehouse_authentications_total", []string{"method", "password", "outcome", "failure"}, float64(failures)},
		{"API", apiAfter, apiBlocked, "gatehouse_authentications_total", []string{"method", "password", "outcome", "throttled"}, 1},
		{"API", apiAfter, apiBlocked, "gatehouse_regulation_blocks_total", nil, 0},
		{"API", apiAfter, apiBlocked, "gatehouse_provider_calls_total", []string{"operation", "authenticate", "outcome", "throttled"}, 1},
	} {
		if d := metricDelta(t, c.a, c.b, c.name, c.labels...); d != c.want {
			t.Errorf("%s: %s%v moved by %v, want %v", c.what, c.name, c.labels, d, c.want)
		}
	}
	checkNoSecretLabels(t, "API", apiBlocked, append(w.secrets, "miguel", "zed", w.id, s.adminKey)...)
	checkNoSecretLabels(t, "directory", dirBlocked, append(w.secrets, "miguel", "zed", w.id, s.adminKey)...)
}

// TestMetricsDisabledEndToEnd: metrics.enabled and
// directory.metrics.enabled false take GET /metrics away.
func TestMetricsDisabledEndToEnd(t *testing.T) {
	dir := t.TempDir()
	api := startAPI(t, dir, dir+"/gatehouse.db", "GATEHOUSE_METRICS_ENABLED=false")
	expectStatus(t, "API metrics off", api.do(t, call{path: "/metrics"}), 404)
	expectStatus(t, "API healthz", api.do(t, call{path: "/healthz"}), 200)
	d := startBinary(t, dir, []string{"directory", "serve"},
		"GATEHOUSE_DIRECTORY_DATABASE="+dir+"/directory.db", "GATEHOUSE_DIRECTORY_METRICS_ENABLED=false")
	expectStatus(t, "directory metrics off", d.do(t, call{path: "/metrics"}), 404)
	expectStatus(t, "directory healthz", d.do(t, call{path: "/healthz"}), 200)
}
