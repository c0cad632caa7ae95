package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gatehouse-id/gatehouse/api"
	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/cache"
	"github.com/gatehouse-id/gatehouse/identity/metrics"
	"github.com/gatehouse-id/gatehouse/identity/mock"
	"github.com/gatehouse-id/gatehouse/identity/regulate"
)

// scrape reads GET /metrics of e, without credentials, and parses it.
func scrape(t *testing.T, e *echo.Echo) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics: Content-Type %q", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	return families
}

// counter is the value of the series of a family with exactly the given
// labels (0 when absent).
func counter(families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := families[name]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel())*2 != len(labels) {
			continue
		}
		for i := 0; i < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		if m.Counter != nil {
			return m.Counter.GetValue()
		}
		return float64(m.GetHistogram().GetSampleCount())
	}
	return 0
}

// TestMetricsCountAuthentications: every method and outcome of the auth
// middleware moves its counter by exactly one, and no label carries a
// credential, a username, an account id or an IP.
func TestMetricsCountAuthentications(t *testing.T) {
	ctx := context.Background()
	p := mock.New(mock.WithFastHashing())
	alice, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "alice", Password: alicePassword})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "dave", Password: alicePassword}); err != nil {
		t.Fatal(err)
	}
	key, err := p.CreateAPIKey(ctx, alice.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := p.IssueToken(ctx, alice.ID, identity.TokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	e := api.New(api.Config{}, regulate.New(cache.New(p, cache.Config{}), regulate.Config{PairMaxFailures: 1}, nil), nil)
	call := func(auth string, want int) {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, "/api/resource", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Fatalf("%s: status %d, want %d: %s", auth, rec.Code, want, rec.Body)
		}
	}
	before := scrape(t, e)

	call(basic("alice", alicePassword), 200)
	call(basic("alice", alicePassword), 200)
	call(basic("dave", "wrong"), 401)
	call(basic("dave", alicePassword), 429) // one failure is the limit here
	call(basic(key.ID, key.Secret), 200)
	call(basic(key.ID, "gks_wrong"), 401)
	call(basic(tok.Value, "ignored"), 200)
	call("Bearer "+tok.Value, 200)
	call("Bearer "+tok.Value+"x", 401)
	p.Fail(mock.OpAuthenticate, identity.Unavailable(errors.New("down")))
	call(basic("nobody", "never seen"), 503)
	// Not attempts: no credentials, an unreadable header, another scheme.
	call("", 401)
	call("Basic !!!", 401)
	call("Digest x", 401)

	after := scrape(t, e)
	for _, c := range []struct {
		method, outcome string
		want            float64
	}{
		{"password", "success", 2},
		{"password", "failure", 1},
		{"password", "throttled", 1},
		{"password", "unavailable", 1},
		{"password", "error", 0},
		{"api_key", "success", 1},
		{"api_key", "failure", 1},
		{"token", "success", 1},
		{"token", "failure", 0},
		{"bearer", "success", 1},
		{"bearer", "failure", 1},
	} {
		l := []string{"method", c.method, "outcome", c.outcome}
		if got := counter(after, "gatehouse_authentications_total", l...) - counter(before, "gatehouse_authentications_total", l...); got != c.want {
			t.Errorf("%s/%s moved by %v, want %v", c.method, c.outcome, got, c.want)
		}
	}
	var total float64
	for _, m := range after["gatehouse_authentications_total"].GetMetric() {
		total += m.GetCounter().GetValue()
	}
	if total != 10 {
		t.Errorf("%v authentications counted, want 10", total)
	}

	// HTTP requests by route template; the scrapes count themselves.
	if got := counter(after, "gatehouse_http_requests_total", "route", "/api/resource", "method", "GET", "code", "401"); got != 6 {
		t.Errorf("GET /api/resource 401 = %v, want 6", got)
	}
	if got := counter(after, "gatehouse_http_requests_total", "route", "/metrics", "method", "GET", "code", "200"); got != 1 {
		t.Errorf("GET /metrics 200 = %v, want 1", got)
	}
	for _, f := range after {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				for _, secret := range []string{"alice", "dave", "nobody", alice.ID, key.ID, tok.Value, "192.0.2.1"} {
					if strings.Contains(l.GetValue(), secret) {
						t.Errorf("%s has label %s=%q", f.GetName(), l.GetName(), l.GetValue())
					}
				}
			}
		}
	}
}

// TestMetricsRoutes: the API's routes are labelled by template, an unknown
// path is "unmatched", and /metrics is served without credentials.
func TestMetricsRoutes(t *testing.T) {
	f := newFixture(t)
	check(t, f.do(t, request{path: "/api/users/" + f.alice.ID, auth: basic("alice", alicePassword)}), expect{status: 200})
	check(t, f.do(t, request{path: "/api/users/" + f.bob.ID, auth: basic("alice", alicePassword)}), expect{status: 200})
	check(t, f.do(t, request{path: "/no/such/" + f.alice.ID}), expect{status: 404})
	got := scrape(t, f.e)
	if v := counter(got, "gatehouse_http_requests_total", "route", "/api/users/:id", "method", "GET", "code", "200"); v != 2 {
		t.Errorf("GET /api/users/:id = %v, want 2", v)
	}
	if v := counter(got, "gatehouse_http_request_duration_seconds", "route", "/api/users/:id", "method", "GET"); v != 2 {
		t.Errorf("duration samples = %v, want 2", v)
	}
	if v := counter(got, "gatehouse_http_requests_total", "route", metrics.Unmatched, "method", "GET", "code", "404"); v != 1 {
		t.Errorf("unmatched = %v, want 1", v)
	}
	for _, name := range []string{"gatehouse_build_info", "go_goroutines", "process_cpu_seconds_total"} {
		if got[name] == nil {
			t.Errorf("no %s", name)
		}
	}
}

// TestMetricsGivenAndDisabled: a Config.Metrics of the caller's receives
// the counts; DisableMetrics removes /metrics.
func TestMetricsGivenAndDisabled(t *testing.T) {
	ctx := context.Background()
	p := mock.New(mock.WithFastHashing())
	if _, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "alice", Password: alicePassword}); err != nil {
		t.Fatal(err)
	}
	reg := metrics.NewRegistry()
	m, err := metrics.New(reg, metrics.BuildInfo{Version: "v1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	e := api.New(api.Config{Metrics: m}, p, nil)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", basic("alice", alicePassword))
	e.ServeHTTP(httptest.NewRecorder(), req)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	if v := counter(byName, "gatehouse_authentications_total", "method", "password", "outcome", "success"); v != 1 {
		t.Errorf("password/success in the given registry = %v, want 1", v)
	}

	off := api.New(api.Config{DisableMetrics: true, Metrics: m}, p, nil)
	rec := httptest.NewRecorder()
	off.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("GET /metrics with metrics off: status %d", rec.Code)
	}
	off.ServeHTTP(httptest.NewRecorder(), req)
	families, _ = reg.Gather()
	for _, f := range families {
		byName[f.GetName()] = f
	}
	if v := counter(byName, "gatehouse_authentications_total", "method", "password", "outcome", "success"); v != 1 {
		t.Errorf("a server with metrics off counted: %v, want 1", v)
	}
}

// TestAuthOnResult: the hook of AuthConfig hears of every attempt, with its
// method and the error answered, and of nothing else.
func TestAuthOnResult(t *testing.T) {
	f := newFixture(t)
	type result struct {
		m      api.Method
		status int // of the *api.Error, 0 for nil
		err    error
	}
	var got []result
	e := echo.New()
	e.HTTPErrorHandler = api.ErrorHandler(nil)
	h := func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }
	mw := api.AuthWithConfig(api.AuthConfig{
		Provider: f.p,
		OnResult: func(_ echo.Context, m api.Method, err error) {
			r := result{m: m, err: err}
			var ae *api.Error
			if errors.As(err, &ae) {
				r.status = ae.Status
			}
			got = append(got, r)
		},
	})
	e.GET("/", h, mw)
	e.POST("/", h, mw)
	for _, auth := range []string{
		basic("alice", alicePassword),
		basic("alice", "wrong"),
		basic(f.aliceKey.ID, f.aliceKey.Secret),
		basic(f.token, ""),
		"Bearer " + f.token,
		"Bearer not.a.token",
		"", "Basic %%%", "Bearer ",
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		e.ServeHTTP(httptest.NewRecorder(), req)
	}
	// The session cookie: a good one, a bad one, and one refused unchecked
	// for a cross-site write (not an attempt).
	for _, s := range []struct {
		method, cookie string
		status         int
	}{
		{http.MethodGet, f.token, http.StatusNoContent},
		{http.MethodGet, "garbage", http.StatusUnauthorized},
		{http.MethodPost, f.token, http.StatusForbidden},
	} {
		req := httptest.NewRequest(s.method, "/", nil)
		req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: s.cookie})
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != s.status {
			t.Fatalf("%s with a session cookie: %d, want %d", s.method, rec.Code, s.status)
		}
	}
	want := []result{
		{m: api.MethodPassword},
		{m: api.MethodPassword, status: 401},
		{m: api.MethodAPIKey},
		{m: api.MethodToken},
		{m: api.MethodBearer},
		{m: api.MethodBearer, status: 401},
		{m: api.MethodSession},
		{m: api.MethodSession, status: 401},
	}
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].m != want[i].m || got[i].status != want[i].status || (want[i].status == 0) != (got[i].err == nil) {
			t.Errorf("result %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// BenchmarkServerMetricsOff is BenchmarkServer's password case with
// metrics off, to compare with it: the difference is what metrics cost.
func BenchmarkServerMetricsOff(b *testing.B) {
	for _, off := range []bool{false, true} {
		name := "metrics on"
		if off {
			name = "metrics off"
		}
		b.Run(name, func(b *testing.B) {
			m := mock.New(mock.WithFastHashing())
			if _, err := m.CreateAccount(context.Background(), identity.AccountCreate{Username: "alice", Password: alicePassword}); err != nil {
				b.Fatal(err)
			}
			e := api.New(api.Config{DisableMetrics: off}, cache.New(m, cache.Config{}), nil)
			req := httptest.NewRequest(http.MethodGet, "/api/resource", nil)
			req.Header.Set("Authorization", basic("alice", alicePassword))
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
