package directory_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/directory"
	"github.com/gatehouse-id/gatehouse/identity/ids"
	"github.com/gatehouse-id/gatehouse/identity/metrics"
	"github.com/gatehouse-id/gatehouse/identity/mock"
)

// TestMetrics: with Config.Metrics, the directory counts its login attempts
// and API key verifications as authentications, its provider calls and its
// requests by route template, and serves them at /metrics without
// credentials.
func TestMetrics(t *testing.T) {
	ctx := context.Background()
	p := mock.New(mock.WithFastHashing())
	acc, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "alice", Password: "alice's long password"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := p.CreateAPIKey(ctx, acc.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	appID, adminID, adminSecret := ids.New(), "gk_"+ids.New(), "gks_"+ids.RandomString(43)
	m, err := metrics.New(metrics.NewRegistry(), metrics.BuildInfo{})
	if err != nil {
		t.Fatal(err)
	}
	e := directory.New(directory.Config{Metrics: m}, directory.StaticTenant(directory.Application{ID: appID, Name: "metered"}, p, adminID, adminSecret), nil)
	admin := "Basic " + base64.StdEncoding.EncodeToString([]byte(adminID+":"+adminSecret))
	attempt := func(kind, user, pass string, want int) {
		t.Helper()
		body := `{"type":"basic","value":"` + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)) + `"}`
		req := httptest.NewRequest(http.MethodPost, "/v1/applications/"+appID+"/"+kind, strings.NewReader(body))
		req.Header.Set("Authorization", admin)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Fatalf("%s %s: status %d, want %d: %s", kind, user, rec.Code, want, rec.Body)
		}
	}
	attempt("loginAttempts", "alice", "alice's long password", 200)
	attempt("loginAttempts", "alice", "wrong", 400)
	attempt("loginAttempts", "nobody", "wrong", 400)
	attempt("apiKeyAttempts", key.ID, key.Secret, 200)
	attempt("apiKeyAttempts", key.ID, "gks_wrong", 400)
	p.Fail(mock.OpAuthenticate, identity.Throttled(time.Minute))
	attempt("loginAttempts", "alice", "alice's long password", 429)

	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", rec.Code)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"gatehouse_authentications_total", []string{"method", "password", "outcome", "success"}, 1},
		{"gatehouse_authentications_total", []string{"method", "password", "outcome", "failure"}, 2},
		{"gatehouse_authentications_total", []string{"method", "password", "outcome", "throttled"}, 1},
		{"gatehouse_authentications_total", []string{"method", "api_key", "outcome", "success"}, 1},
		{"gatehouse_authentications_total", []string{"method", "api_key", "outcome", "failure"}, 1},
		{"gatehouse_authentications_total", []string{"method", "bearer", "outcome", "success"}, 0},
		{"gatehouse_provider_calls_total", []string{"operation", "authenticate", "outcome", "ok"}, 1},
		{"gatehouse_provider_calls_total", []string{"operation", "authenticate", "outcome", "invalid_credentials"}, 2},
		{"gatehouse_provider_calls_total", []string{"operation", "authenticate_api_key", "outcome", "ok"}, 1},
		{"gatehouse_http_requests_total", []string{"route", "/v1/applications/:appId/loginAttempts", "method", "POST", "code", "400"}, 2},
		{"gatehouse_http_requests_total", []string{"route", "/v1/applications/:appId/apiKeyAttempts", "method", "POST", "code", "200"}, 1},
	} {
		if got := seriesValue(families[c.name], c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				for _, secret := range []string{appID, adminID, acc.ID, key.ID, "alice", "nobody"} {
					if strings.Contains(l.GetValue(), secret) {
						t.Errorf("%s has label %s=%q", f.GetName(), l.GetName(), l.GetValue())
					}
				}
			}
		}
	}
}

// TestMetricsOff: without Config.Metrics there is no /metrics.
func TestMetricsOff(t *testing.T) {
	h := newStatic(t)
	rec := httptest.NewRecorder()
	h.e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("GET /metrics without metrics: status %d", rec.Code)
	}
}

// seriesValue is the counter value of the series of f with exactly the
// given labels, 0 when absent.
func seriesValue(f *dto.MetricFamily, labels ...string) float64 {
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		for _, l := range m.GetLabel() {
			if want[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		return m.GetCounter().GetValue()
	}
	return 0
}
