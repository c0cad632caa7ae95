package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/metrics"
	"github.com/gatehouse-id/gatehouse/identity/token"
)

// newMetrics returns Metrics on a fresh registry of the test's own.
func newMetrics(t *testing.T) (*metrics.Metrics, *prometheus.Registry) {
	t.Helper()
	reg := metrics.NewRegistry()
	m, err := metrics.New(reg, metrics.BuildInfo{Version: "v9.8.7", Revision: "abc123"})
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// sample returns the value of the series of family name with exactly the
// given labels (a counter's or gauge's value, a histogram's sample count),
// and whether it exists.
func sample(t *testing.T, g prometheus.Gatherer, name string, labels ...string) (float64, bool) {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return find(families, name, labels...)
}

func find(families []*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
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
	}
	return 0, false
}

// value is sample for a series that must exist.
func value(t *testing.T, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	v, ok := sample(t, g, name, labels...)
	if !ok {
		t.Fatalf("no series %s%v", name, labels)
	}
	return v
}

func TestBuildInfo(t *testing.T) {
	_, reg := newMetrics(t)
	want := fmt.Sprintf(`
# HELP gatehouse_build_info Gatehouse's version, VCS revision and Go version, as labels of a constant 1.
# TYPE gatehouse_build_info gauge
gatehouse_build_info{goversion=%q,revision="abc123",version="v9.8.7"} 1
`, runtime.Version())
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gatehouse_build_info"); err != nil {
		t.Fatal(err)
	}
}

func TestBuildInfoDefaults(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := metrics.New(reg, metrics.BuildInfo{}); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "gatehouse_build_info" {
			continue
		}
		for _, l := range f.GetMetric()[0].GetLabel() {
			if l.GetValue() == "" {
				t.Errorf("label %s is empty", l.GetName())
			}
		}
		return
	}
	t.Fatal("no gatehouse_build_info")
}

func TestNewRegistryHasRuntimeAndProcessMetrics(t *testing.T) {
	_, reg := newMetrics(t)
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := sample(t, reg, name); !ok {
			t.Errorf("no %s", name)
		}
	}
}

func TestNewTwiceOnOneRegistryFails(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := metrics.New(reg, metrics.BuildInfo{}); err != nil {
		t.Fatal(err)
	}
	var already prometheus.AlreadyRegisteredError
	if _, err := metrics.New(reg, metrics.BuildInfo{}); !errors.As(err, &already) {
		t.Fatalf("second New on one registry: %v, want AlreadyRegisteredError", err)
	}
}

func TestAuthenticationCounts(t *testing.T) {
	m, reg := newMetrics(t)
	// Every known method's series exist before the first attempt.
	for _, method := range []string{"password", "api_key", "token", "bearer"} {
		for _, o := range []string{"success", "failure", "throttled", "unavailable", "abandoned", "error"} {
			if v := value(t, reg, "gatehouse_authentications_total", "method", method, "outcome", o); v != 0 {
				t.Fatalf("%s/%s starts at %v", method, o, v)
			}
		}
	}
	m.Authentication("password", metrics.OutcomeSuccess)
	m.Authentication("password", metrics.OutcomeSuccess)
	m.Authentication("password", metrics.OutcomeFailure)
	m.Authentication("bearer", metrics.OutcomeThrottled)
	m.Authentication("session", metrics.OutcomeUnavailable) // a method not known up front
	m.Authentication("api_key", metrics.Outcome("bogus"))   // counted as an error
	for _, c := range []struct {
		method, outcome string
		want            float64
	}{
		{"password", "success", 2},
		{"password", "failure", 1},
		{"password", "throttled", 0},
		{"bearer", "throttled", 1},
		{"session", "unavailable", 1},
		{"session", "success", 0},
		{"api_key", "error", 1},
		{"token", "success", 0},
	} {
		if got := value(t, reg, "gatehouse_authentications_total", "method", c.method, "outcome", c.outcome); got != c.want {
			t.Errorf("%s/%s = %v, want %v", c.method, c.outcome, got, c.want)
		}
	}
	if _, ok := sample(t, reg, "gatehouse_authentications_total", "method", "api_key", "outcome", "bogus"); ok {
		t.Error("an unknown outcome became a label")
	}
}

func TestAuthenticationDoesNotAllocate(t *testing.T) {
	m, _ := newMetrics(t)
	m.Authentication("session", metrics.OutcomeSuccess)
	for _, method := range []string{"password", "api_key", "token", "bearer", "session"} {
		if n := testing.AllocsPerRun(100, func() { m.Authentication(method, metrics.OutcomeSuccess) }); n != 0 {
			t.Errorf("%s: %v allocations per count", method, n)
		}
	}
}

func TestAuthOutcome(t *testing.T) {
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		ctx  context.Context
		err  error
		want metrics.Outcome
	}{
		// The caller's own context ended: abandoned. A context error
		// while the caller is still there (a timeout inside the server)
		// is an error, and a decision made as the caller left counts.
		{gone, fmt.Errorf("wait for a KDF slot: %w", context.Canceled), metrics.OutcomeAbandoned},
		{gone, context.DeadlineExceeded, metrics.OutcomeAbandoned},
		{context.Background(), fmt.Errorf("directory call: %w", context.DeadlineExceeded), metrics.OutcomeError},
		{gone, identity.InvalidCredentials(identity.ReasonWrongPassword), metrics.OutcomeFailure},
		{gone, nil, metrics.OutcomeSuccess},
		{context.Background(), nil, metrics.OutcomeSuccess},
		{context.Background(), identity.InvalidCredentials(identity.ReasonWrongPassword), metrics.OutcomeFailure},
		{context.Background(), fmt.Errorf("wrapped: %w", identity.ErrInvalidCredentials), metrics.OutcomeFailure},
		{context.Background(), fmt.Errorf("%w: expired", token.ErrInvalidToken), metrics.OutcomeFailure},
		{context.Background(), identity.Throttled(5), metrics.OutcomeThrottled},
		{context.Background(), identity.Unavailable(errors.New("connection refused")), metrics.OutcomeUnavailable},
		{context.Background(), identity.ErrNotFound, metrics.OutcomeError},
		{context.Background(), errors.New("boom"), metrics.OutcomeError},
	} {
		if got := metrics.AuthOutcome(c.ctx, c.err); got != c.want {
			t.Errorf("AuthOutcome(%v) = %s, want %s", c.err, got, c.want)
		}
	}
}

// TestHandlerServesExposition: the handler serves the registry in the text
// format, which parses, with Gatehouse's and the runtime's metrics.
func TestHandlerServesExposition(t *testing.T) {
	m, _ := newMetrics(t)
	m.Authentication("token", metrics.OutcomeSuccess)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	list := make([]*dto.MetricFamily, 0, len(families))
	for _, f := range families {
		list = append(list, f)
	}
	if v, _ := find(list, "gatehouse_authentications_total", "method", "token", "outcome", "success"); v != 1 {
		t.Errorf("token/success = %v, want 1", v)
	}
	for _, name := range []string{"gatehouse_build_info", "go_goroutines"} {
		if families[name] == nil {
			t.Errorf("no %s", name)
		}
	}
}

// TestHandlerWithoutGatherer: metrics registered on a Registerer that
// cannot be gathered are served as nothing, not as an error.
func TestHandlerWithoutGatherer(t *testing.T) {
	m, err := metrics.New(prometheus.WrapRegistererWith(nil, prometheus.NewRegistry()), metrics.BuildInfo{})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "gatehouse_") {
		t.Fatalf("status %d, body %q", rec.Code, rec.Body)
	}
}

// TestConcurrentCounting: series made on first use by many goroutines at
// once are made once, and no count is lost.
func TestConcurrentCounting(t *testing.T) {
	m, reg := newMetrics(t)
	e := newEcho(m, metrics.MiddlewareConfig{})
	const workers, rounds = 8, 200
	done := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range rounds {
				m.Authentication(fmt.Sprintf("method%d", i%5), metrics.OutcomeSuccess)
				serve(e, http.MethodGet, fmt.Sprintf("/api/users/%d", w*rounds+i))
			}
		}()
	}
	for range workers {
		<-done
	}
	for i := range 5 {
		if got := value(t, reg, "gatehouse_authentications_total", "method", fmt.Sprintf("method%d", i), "outcome", "success"); got != workers*rounds/5 {
			t.Errorf("method%d = %v, want %d", i, got, workers*rounds/5)
		}
	}
	if got := value(t, reg, "gatehouse_http_requests_total", "route", "/api/users/:id", "method", "GET", "code", "200"); got != workers*rounds {
		t.Errorf("requests = %v, want %d", got, workers*rounds)
	}
}
