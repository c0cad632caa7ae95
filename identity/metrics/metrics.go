// Package metrics is Gatehouse's Prometheus metrics: one Metrics per server,
// built on a registry of the caller's (never the global default one), an Echo
// middleware for HTTP requests, a Provider decorator for provider calls, and
// collectors that read the credential cache, failed-login regulation and the
// remote provider's circuit breaker when scraped.
//
// Labels are bounded: HTTP requests are labelled by the route template
// (c.Path(), such as /api/users/:id, or "unmatched"), never by the URL; no
// label ever carries an account id, a username, a key id, a token or an IP.
//
// The metrics:
//
//	gatehouse_build_info{version,revision,goversion}                gauge, always 1
//	gatehouse_http_requests_total{route,method,code}                counter
//	gatehouse_http_request_duration_seconds{route,method}           histogram
//	gatehouse_authentications_total{method,outcome}                 counter
//	    method: password, api_key, token, bearer (and any a server adds);
//	    outcome: success, failure, throttled, unavailable, abandoned, error
//	gatehouse_provider_calls_total{operation,outcome}               counter
//	    operation: the Provider method in snake case (authenticate,
//	    authenticate_api_key, issue_token, …); outcome: ok, an identity
//	    error code (invalid_credentials, not_found, conflict,
//	    invalid_input, limit_exceeded, unavailable, throttled) or error
//	gatehouse_provider_call_duration_seconds{operation}             histogram
//	gatehouse_cache_hits_total                                      counter
//	gatehouse_cache_misses_total                                    counter
//	gatehouse_cache_evictions_total                                 counter
//	gatehouse_cache_stale_total                                     counter
//	    answers from an expired entry while the provider was unavailable
//	gatehouse_cache_entries                                         gauge
//	gatehouse_regulation_blocks_total                               counter
//	    login attempts refused (429) by failed-login regulation
//	gatehouse_regulation_limit_blocks_total{limit}                  counter
//	    limit: pair (login and client network) or login (login-wide
//	    lock); an attempt refused by both counts under both
//	gatehouse_regulation_failures_total                             counter
//	gatehouse_regulation_counter_errors_total                       counter
//	gatehouse_remote_breaker_state                                  gauge
//	    the directory circuit breaker: 0 closed, 1 half-open, 2 open
//	    (absent when the breaker is disabled)
//
// plus, in the registry NewRegistry returns, the Go runtime's go_* and the
// process's process_* metrics. Which of them a server has depends on what it
// runs: the API server has all of them (the cache, regulation and breaker
// ones when those are on); the directory has the HTTP, authentication
// (its login attempts and API key verifications), provider and regulation
// ones.
package metrics

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/token"
)

// namespace starts every metric name.
const namespace = "gatehouse"

// BuildInfo is what gatehouse_build_info reports. Empty fields are read
// from the binary's build information, else "unknown".
type BuildInfo struct {
	// Version is the release, such as v1.2.3.
	Version string
	// Revision is the VCS commit.
	Revision string
}

// withDefaults fills the empty fields from the build information.
func (b BuildInfo) withDefaults() BuildInfo {
	if info, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" {
			b.Version = moduleVersion(info)
		}
		if b.Revision == "" {
			for _, s := range info.Settings {
				if s.Key == "vcs.revision" {
					b.Revision = s.Value
				}
			}
		}
	}
	if b.Version == "" {
		b.Version = "unknown"
	}
	if b.Revision == "" {
		b.Revision = "unknown"
	}
	return b
}

// moduleVersion is the version of Gatehouse's module in the binary: the main
// module's when Gatehouse is the program, else the dependency's.
func moduleVersion(info *debug.BuildInfo) string {
	const module = "github.com/gatehouse-id/gatehouse"
	if info.Main.Path == module {
		return info.Main.Version
	}
	for _, d := range info.Deps {
		if d.Path == module {
			return d.Version
		}
	}
	return ""
}

// Outcome is how an authentication ended, the outcome label of
// gatehouse_authentications_total.
type Outcome string

// The outcomes of an authentication.
const (
	// OutcomeSuccess: the credentials were good.
	OutcomeSuccess Outcome = "success"
	// OutcomeFailure: the credentials were not good (any cause).
	OutcomeFailure Outcome = "failure"
	// OutcomeThrottled: failed-login regulation refused the attempt.
	OutcomeThrottled Outcome = "throttled"
	// OutcomeUnavailable: the provider could not be reached, so nothing was
	// decided.
	OutcomeUnavailable Outcome = "unavailable"
	// OutcomeAbandoned: the client went away (or its deadline passed)
	// before the attempt was decided; nothing failed (identity.CallerGone).
	OutcomeAbandoned Outcome = "abandoned"
	// OutcomeError: anything else, an internal error.
	OutcomeError Outcome = "error"
)

// outcomes lists the outcomes in the order of their index.
var outcomes = [...]Outcome{OutcomeSuccess, OutcomeFailure, OutcomeThrottled, OutcomeUnavailable, OutcomeAbandoned, OutcomeError}

func (o Outcome) index() int {
	switch o {
	case OutcomeSuccess:
		return 0
	case OutcomeFailure:
		return 1
	case OutcomeThrottled:
		return 2
	case OutcomeUnavailable:
		return 3
	case OutcomeAbandoned:
		return 4
	}
	return 5
}

// AuthOutcome classifies the error of an authentication made under ctx:
// nil is a success, identity.ErrInvalidCredentials and
// token.ErrInvalidToken are failures, identity.ErrThrottled and
// identity.ErrUnavailable are themselves, an error that only says ctx
// ended is abandoned, and anything else is an error.
func AuthOutcome(ctx context.Context, err error) Outcome {
	switch {
	case err == nil:
		return OutcomeSuccess
	case identity.CallerGone(ctx, err):
		return OutcomeAbandoned
	case errors.Is(err, identity.ErrThrottled):
		return OutcomeThrottled
	case errors.Is(err, identity.ErrUnavailable):
		return OutcomeUnavailable
	case errors.Is(err, identity.ErrInvalidCredentials), errors.Is(err, token.ErrInvalidToken):
		return OutcomeFailure
	}
	return OutcomeError
}

// Authentication methods with their series made up front, so that they are
// scraped (at 0) before the first attempt and counting them never
// allocates.
var knownMethods = []string{"password", "api_key", "token", "bearer"}

// Metrics holds the collectors of one server. Its methods are safe for
// concurrent use.
type Metrics struct {
	reg      prometheus.Registerer
	gatherer prometheus.Gatherer

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	httpChildren children[httpKey, httpChild]

	auths        *prometheus.CounterVec
	authChildren children[string, *[len(outcomes)]prometheus.Counter]

	calls        *prometheus.CounterVec
	callDuration *prometheus.HistogramVec
	ops          [numOperations]opChildren
}

// durationBuckets are the histograms' buckets, in seconds: from a cache hit
// (well under a millisecond) to a directory call that times out.
var durationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// New builds every collector of a server and registers it on reg (which
// should be a registry of the server's own, as NewRegistry returns; not
// prometheus.DefaultRegisterer, so that servers and tests do not share
// counts). It fails when reg already holds Gatehouse's collectors.
func New(reg prometheus.Registerer, info BuildInfo) (*Metrics, error) {
	info = info.withDefaults()
	m := &Metrics{reg: reg}
	if g, ok := reg.(prometheus.Gatherer); ok {
		m.gatherer = g
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help:        "Gatehouse's version, VCS revision and Go version, as labels of a constant 1.",
		ConstLabels: prometheus.Labels{"version": info.Version, "revision": info.Revision, "goversion": runtime.Version()},
	})
	build.Set(1)
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "http", Name: "requests_total",
		Help: "HTTP requests answered, by route template (\"unmatched\" when no route matched), method and status code.",
	}, []string{"route", "method", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "http", Name: "request_duration_seconds",
		Help:    "Time to answer HTTP requests, by route template and method.",
		Buckets: durationBuckets,
	}, []string{"route", "method"})
	m.auths = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "authentications_total",
		Help: "Authentication attempts, by method (password, api_key, token, bearer) and outcome (success, failure, throttled, unavailable, abandoned, error).",
	}, []string{"method", "outcome"})
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "provider", Name: "calls_total",
		Help: "Identity provider calls, by operation and outcome (ok, an identity error code, abandoned, or error).",
	}, []string{"operation", "outcome"})
	m.callDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "provider", Name: "call_duration_seconds",
		Help:    "Time identity provider calls took, by operation.",
		Buckets: durationBuckets,
	}, []string{"operation"})
	for _, c := range []prometheus.Collector{build, m.httpRequests, m.httpDuration, m.auths, m.calls, m.callDuration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.httpChildren.newChild = m.newHTTPChild
	m.authChildren.newChild = m.newAuthCounters
	for _, method := range knownMethods {
		m.authChildren.get(method)
	}
	return m, nil
}

// NewRegistry returns a new registry with the Go runtime and process
// collectors, for one server's metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves the metrics of the registry given to New, when it is also
// a prometheus.Gatherer (as a *prometheus.Registry is), in the Prometheus
// exposition formats; otherwise it serves none.
func (m *Metrics) Handler() http.Handler {
	g := m.gatherer
	if g == nil {
		g = prometheus.Gatherers{}
	}
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		// A collector that fails should not hide every other metric.
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// Authentication counts an authentication attempt by method and outcome.
// It does not allocate for a method it has seen before.
func (m *Metrics) Authentication(method string, o Outcome) {
	m.authChildren.get(method)[o.index()].Inc()
}

// newAuthCounters makes the counters of a method, one per outcome.
// Methods come from code, not from requests, so there are few.
func (m *Metrics) newAuthCounters(method string) *[len(outcomes)]prometheus.Counter {
	c := new([len(outcomes)]prometheus.Counter)
	for i, o := range outcomes {
		c[i] = m.auths.WithLabelValues(method, string(o))
	}
	return c
}

// children are the children of a metric vector, by key, made by newChild on
// first use, so that counting a kind seen before costs a map lookup and no
// allocation (WithLabelValues hashes its labels at each call). The keys are
// bounded and come from code, so additions are rare: the map is copied on
// write, and reads take no lock.
type children[K comparable, V any] struct {
	newChild func(K) V
	mu       sync.Mutex // serialises additions
	m        atomic.Pointer[map[K]V]
}

func (c *children[K, V]) get(k K) V {
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var old map[K]V
	if m := c.m.Load(); m != nil {
		old = *m
		if v, ok := old[k]; ok {
			return v
		}
	}
	v := c.newChild(k)
	next := make(map[K]V, len(old)+1)
	maps.Copy(next, old)
	next[k] = v
	c.m.Store(&next)
	return v
}
