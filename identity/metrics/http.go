package metrics

import (
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
)

// MiddlewareConfig configures the HTTP metrics middleware.
type MiddlewareConfig struct {
	// Skipper skips the middleware for some requests.
	// Optional. Default value middleware.DefaultSkipper.
	Skipper middleware.Skipper
}

// Unmatched is the route label of requests that matched no route: their
// paths are whatever clients send, so they are never labels.
const Unmatched = "unmatched"

// Middleware returns the Echo middleware counting and timing requests
// (gatehouse_http_requests_total and gatehouse_http_request_duration_seconds)
// with the default configuration.
func (m *Metrics) Middleware() echo.MiddlewareFunc {
	return m.MiddlewareWithConfig(MiddlewareConfig{})
}

// MiddlewareWithConfig returns the HTTP metrics middleware. Install it with
// Echo#Use, best first, so that it sees every request with its final status
// and times the whole chain. When the rest of the chain returns an error, it
// has the Echo instance's error handler answer at once (c.Error), so the
// status it records is the one the client gets, and returns nil.
func (m *Metrics) MiddlewareWithConfig(cfg MiddlewareConfig) echo.MiddlewareFunc {
	if cfg.Skipper == nil {
		cfg.Skipper = middleware.DefaultSkipper
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if cfg.Skipper(c) {
				return next(c)
			}
			start := time.Now()
			if err := next(c); err != nil {
				c.Error(err)
			}
			child := m.httpChildren.get(httpKey{route: routeLabel(c), method: methodLabel(c.Request().Method), code: c.Response().Status})
			child.requests.Inc()
			child.duration.Observe(time.Since(start).Seconds())
			return nil
		}
	}
}

// notFound is Echo's handler of requests that match no route.
var notFound = reflect.ValueOf(echo.NotFoundHandler).Pointer()

// routeLabel is the route template that matched c, or Unmatched.
func routeLabel(c echo.Context) string {
	route := c.Path()
	if route == "" || reflect.ValueOf(c.Handler()).Pointer() == notFound {
		return Unmatched
	}
	return route
}

// methodLabel is the request method when it is a standard one, else
// "other": a client may send any token as a method.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPost:
		return http.MethodPost
	case http.MethodPut:
		return http.MethodPut
	case http.MethodPatch:
		return http.MethodPatch
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodOptions:
		return http.MethodOptions
	case http.MethodConnect:
		return http.MethodConnect
	case http.MethodTrace:
		return http.MethodTrace
	}
	return "other"
}

// httpKey identifies the series of one kind of request.
type httpKey struct {
	route, method string
	code          int
}

// httpChild is the counter and the histogram of one httpKey.
type httpChild struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// newHTTPChild makes the series of k. The keys are bounded: routes come
// from code, and methods and codes are few.
func (m *Metrics) newHTTPChild(k httpKey) httpChild {
	return httpChild{
		requests: m.httpRequests.WithLabelValues(k.route, k.method, strconv.Itoa(k.code)),
		duration: m.httpDuration.WithLabelValues(k.route, k.method),
	}
}
