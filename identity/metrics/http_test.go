package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-id/gatehouse/identity/metrics"
)

// newEcho returns an Echo app with the metrics middleware first and a few
// routes shaped like the API's: a parameter, a group with middleware, a
// handler that fails.
func newEcho(m *metrics.Metrics, cfg metrics.MiddlewareConfig) *echo.Echo {
	e := echo.New()
	e.Use(m.MiddlewareWithConfig(cfg))
	ok := func(c echo.Context) error { return c.String(http.StatusOK, "ok") }
	e.GET("/healthz", ok)
	e.GET("/api/users/:id", ok)
	e.POST("/api/users", func(c echo.Context) error { return c.String(http.StatusCreated, "made") })
	e.GET("/teapot", func(c echo.Context) error { return echo.NewHTTPError(http.StatusTeapot, "no coffee") })
	g := e.Group("/api/me", func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Request().Header.Get("Authorization") == "" {
				return echo.NewHTTPError(http.StatusUnauthorized)
			}
			return next(c)
		}
	})
	g.GET("", ok)
	return e
}

func serve(e *echo.Echo, method, path string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func TestMiddlewareLabelsByRouteTemplate(t *testing.T) {
	m, reg := newMetrics(t)
	e := newEcho(m, metrics.MiddlewareConfig{})
	for _, id := range []string{"12345", "alice@example.com", "67890"} {
		if rec := serve(e, http.MethodGet, "/api/users/"+id); rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
	}
	serve(e, http.MethodPost, "/api/users")
	serve(e, http.MethodGet, "/healthz")

	for _, c := range []struct {
		route, method, code string
		want                float64
	}{
		{"/api/users/:id", "GET", "200", 3},
		{"/api/users", "POST", "201", 1},
		{"/healthz", "GET", "200", 1},
	} {
		if got := value(t, reg, "gatehouse_http_requests_total", "route", c.route, "method", c.method, "code", c.code); got != c.want {
			t.Errorf("%s %s %s = %v, want %v", c.method, c.route, c.code, got, c.want)
		}
	}
	if got := value(t, reg, "gatehouse_http_request_duration_seconds", "route", "/api/users/:id", "method", "GET"); got != 3 {
		t.Errorf("duration samples = %v, want 3", got)
	}
	noRawPath(t, reg, "12345", "alice@example.com", "67890")
}

// noRawPath fails if any label of any Gatehouse series holds one of the
// strings.
func noRawPath(t *testing.T, g prometheus.Gatherer, raw ...string) {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				for _, r := range raw {
					if strings.Contains(l.GetValue(), r) {
						t.Errorf("%s has label %s=%q", f.GetName(), l.GetName(), l.GetValue())
					}
				}
			}
		}
	}
}

func TestMiddlewareUnmatchedAndErrors(t *testing.T) {
	m, reg := newMetrics(t)
	e := newEcho(m, metrics.MiddlewareConfig{})
	// No route: whatever the path, one label.
	for _, p := range []string{"/nope", "/wp-admin/setup.php", "/v0/zzz/1"} {
		if rec := serve(e, http.MethodGet, p); rec.Code != http.StatusNotFound {
			t.Fatalf("%s: status %d", p, rec.Code)
		}
	}
	if got := value(t, reg, "gatehouse_http_requests_total", "route", metrics.Unmatched, "method", "GET", "code", "404"); got != 3 {
		t.Errorf("unmatched 404 = %v, want 3", got)
	}
	noRawPath(t, reg, "nope", "wp-admin", "zzz")

	// A known route with a method it does not have: the route, and 405.
	if rec := serve(e, http.MethodDelete, "/healthz"); rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("status %d", rec.Code)
	}
	if got := value(t, reg, "gatehouse_http_requests_total", "route", "/healthz", "method", "DELETE", "code", "405"); got != 1 {
		t.Errorf("405 = %v, want 1", got)
	}

	// A handler's error is answered by the error handler, and its status
	// is the one counted.
	if rec := serve(e, http.MethodGet, "/teapot"); rec.Code != http.StatusTeapot {
		t.Fatalf("status %d", rec.Code)
	}
	if got := value(t, reg, "gatehouse_http_requests_total", "route", "/teapot", "method", "GET", "code", "418"); got != 1 {
		t.Errorf("418 = %v, want 1", got)
	}

	// Group middleware refusing a request: the group route's template.
	serve(e, http.MethodGet, "/api/me")
	serve(e, http.MethodGet, "/api/me", "Authorization", "x")
	if got := value(t, reg, "gatehouse_http_requests_total", "route", "/api/me", "method", "GET", "code", "401"); got != 1 {
		t.Errorf("401 = %v, want 1", got)
	}
	if got := value(t, reg, "gatehouse_http_requests_total", "route", "/api/me", "method", "GET", "code", "200"); got != 1 {
		t.Errorf("200 = %v, want 1", got)
	}

	// A made-up method is "other", not itself.
	serve(e, "BREW", "/healthz")
	if got := value(t, reg, "gatehouse_http_requests_total", "route", "/healthz", "method", "other", "code", "405"); got != 1 {
		t.Errorf("other = %v, want 1", got)
	}
	noRawPath(t, reg, "BREW")
}

func TestMiddlewareSkipper(t *testing.T) {
	m, reg := newMetrics(t)
	e := newEcho(m, metrics.MiddlewareConfig{Skipper: func(c echo.Context) bool { return c.Path() == "/healthz" }})
	serve(e, http.MethodGet, "/healthz")
	serve(e, http.MethodGet, "/api/users/1")
	if _, ok := sample(t, reg, "gatehouse_http_requests_total", "route", "/healthz", "method", "GET", "code", "200"); ok {
		t.Error("a skipped request was counted")
	}
	if got := value(t, reg, "gatehouse_http_requests_total", "route", "/api/users/:id", "method", "GET", "code", "200"); got != 1 {
		t.Errorf("not skipped = %v, want 1", got)
	}
}

// TestMiddlewareAllocations: counting a request of a kind seen before
// allocates nothing beyond what any Echo middleware costs (Echo v4 builds
// the chain of e.Use middleware for each request, one closure each).
func TestMiddlewareAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts through Echo's context pool are noise under -race")
	}
	m, _ := newMetrics(t)
	noop := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error { return next(c) }
	}
	handler := func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }
	bare := echo.New()
	bare.Use(noop)
	bare.GET("/api/users/:id", handler)
	measured := echo.New()
	measured.Use(m.Middleware())
	measured.GET("/api/users/:id", handler)
	req := httptest.NewRequest(http.MethodGet, "/api/users/42", nil)
	w := &discard{h: http.Header{}}
	run := func(e *echo.Echo) float64 {
		e.ServeHTTP(w, req) // the series exist from here on
		return testing.AllocsPerRun(200, func() { clear(w.h); e.ServeHTTP(w, req) })
	}
	base, with := run(bare), run(measured)
	if with > base {
		t.Fatalf("%v allocations per request with the metrics middleware, %v with a no-op one", with, base)
	}
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}
