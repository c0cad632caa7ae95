package remote

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
)

// switchable answers with the handler stored last.
type switchable struct {
	h atomic.Pointer[http.HandlerFunc]
}

func (s *switchable) set(h http.HandlerFunc) { s.h.Store(&h) }

func (s *switchable) serve(w http.ResponseWriter, r *http.Request) { (*s.h.Load())(w, r) }

func breakerProvider(t *testing.T, url string, threshold int, cooldown time.Duration, mods ...func(*Config)) *Provider {
	t.Helper()
	return newTestProvider(t, url, append([]func(*Config){func(c *Config) {
		c.Retries = -1
		c.Timeout = 200 * time.Millisecond
		c.BreakerThreshold = threshold
		c.BreakerCooldown = cooldown
	}}, mods...)...)
}

func TestBreakerOpensFailsFastAndRecovers(t *testing.T) {
	var sw switchable
	sw.set(status(http.StatusServiceUnavailable))
	srv, rec := newDirectory(t, sw.serve)
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&logs, &logMu}, nil))
	const cooldown = 400 * time.Millisecond
	p := breakerProvider(t, srv.URL, 3, cooldown, func(c *Config) { c.Logger = logger })

	// Three failures in a row open it; each was sent.
	for i := range 3 {
		if s := p.BreakerState(); s != BreakerClosed {
			t.Fatalf("breaker %s after %d failures", s, i)
		}
		if err := opGet.call(t.Context(), p); !errors.Is(err, identity.ErrUnavailable) || errors.Is(err, ErrBreakerOpen) {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	if n := rec.count(); n != 3 {
		t.Fatalf("%d requests reached the directory, want 3", n)
	}
	if s := p.BreakerState(); s != BreakerOpen {
		t.Fatalf("breaker %s after 3 failures, want open", s)
	}
	opened := time.Now()

	// While open: every call fails at once, without a request, whatever
	// the operation, reads and writes alike.
	sw.set(opGet.ok) // the directory is back, but nobody knows yet
	start := time.Now()
	for i := range 20 {
		o := []op{opGet, opLogin, opCreateAccount, opCreateKey}[i%4]
		err := o.call(t.Context(), p)
		if !errors.Is(err, identity.ErrUnavailable) || !errors.Is(err, ErrBreakerOpen) {
			t.Fatalf("%s while open: %v, want ErrUnavailable wrapping ErrBreakerOpen", o.name, err)
		}
	}
	// (Generous: the count of requests below is the exact check.)
	if d := time.Since(start); d > cooldown/2 {
		t.Fatalf("20 calls while open took %v: they must fail fast", d)
	}
	if n := rec.count(); n != 3 {
		t.Fatalf("%d requests reached the directory while the breaker was open", n-3)
	}

	// After the cool-down: half-open, one probe, which succeeds and closes.
	time.Sleep(cooldown - time.Since(opened) + 50*time.Millisecond)
	if s := p.BreakerState(); s != BreakerHalfOpen {
		t.Fatalf("breaker %s after the cool-down, want half-open", s)
	}
	if err := opGet.call(t.Context(), p); err != nil {
		t.Fatalf("the probe: %v", err)
	}
	if s := p.BreakerState(); s != BreakerClosed {
		t.Fatalf("breaker %s after a successful probe, want closed", s)
	}
	for range 5 {
		if err := opGet.call(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	if n := rec.count(); n != 3+1+5 {
		t.Fatalf("%d requests, want 9", n)
	}
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	for _, want := range []string{"circuit breaker opened", "half-open", "circuit breaker closed"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the log:\n%s", want, out)
		}
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func TestBreakerFailedProbeReopens(t *testing.T) {
	srv, rec := newDirectory(t, status(http.StatusBadGateway))
	const cooldown = 300 * time.Millisecond
	p := breakerProvider(t, srv.URL, 2, cooldown)
	for range 2 {
		_ = opGet.call(t.Context(), p)
	}
	if p.BreakerState() != BreakerOpen {
		t.Fatalf("breaker %s", p.BreakerState())
	}
	time.Sleep(cooldown + 50*time.Millisecond)
	// The probe is sent and fails: open again for a whole cool-down.
	if err := opGet.call(t.Context(), p); !errors.Is(err, identity.ErrUnavailable) || errors.Is(err, ErrBreakerOpen) {
		t.Fatalf("probe: %v", err)
	}
	if n := rec.count(); n != 3 {
		t.Fatalf("%d requests, want 3 (2 failures and the probe)", n)
	}
	if s := p.BreakerState(); s != BreakerOpen {
		t.Fatalf("breaker %s after a failed probe, want open", s)
	}
	if err := opGet.call(t.Context(), p); !errors.Is(err, ErrBreakerOpen) {
		t.Fatalf("after a failed probe: %v", err)
	}
	if n := rec.count(); n != 3 {
		t.Fatalf("a call was sent while open again")
	}
}

func TestBreakerHalfOpenLetsOneProbeThrough(t *testing.T) {
	var sw switchable
	sw.set(status(http.StatusServiceUnavailable))
	srv, rec := newDirectory(t, sw.serve)
	const cooldown = 200 * time.Millisecond
	p := breakerProvider(t, srv.URL, 1, cooldown, func(c *Config) { c.Timeout = 5 * time.Second })
	_ = opGet.call(t.Context(), p)
	if p.BreakerState() != BreakerOpen {
		t.Fatalf("breaker %s", p.BreakerState())
	}
	release := make(chan struct{})
	sw.set(func(w http.ResponseWriter, r *http.Request) {
		<-release
		opGet.ok(w, r)
	})
	time.Sleep(cooldown + 50*time.Millisecond)
	probe := make(chan error, 1)
	go func() { probe <- opGet.call(context.Background(), p) }()
	// Wait until the probe reaches the directory.
	for deadline := time.Now().Add(5 * time.Second); rec.count() < 2; {
		if time.Now().After(deadline) {
			t.Fatal("the probe never reached the directory")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Meanwhile every other call fails fast.
	for range 10 {
		if err := opLogin.call(t.Context(), p); !errors.Is(err, ErrBreakerOpen) {
			t.Fatalf("a call during the probe: %v", err)
		}
	}
	close(release)
	if err := <-probe; err != nil {
		t.Fatalf("probe: %v", err)
	}
	if n := rec.count(); n != 2 {
		t.Fatalf("%d requests, want 2 (the failure and the probe)", n)
	}
	if s := p.BreakerState(); s != BreakerClosed {
		t.Fatalf("breaker %s after the probe", s)
	}
}

// TestBreakerCountsEveryUnavailableKind: each way a directory can fail
// counts, and each way it can answer does not.
func TestBreakerCountsEveryUnavailableKind(t *testing.T) {
	hijack := func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{\"href\":")
		buf.Flush()
		conn.Close()
	}
	slow := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
	}
	failures := map[string]http.HandlerFunc{
		"500":           status(500),
		"502":           status(502),
		"503":           status(503),
		"504":           status(504),
		"429Overload":   status(429),
		"MalformedJSON": func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{not json")) },
		"MidAnswer":     hijack,
		"Timeout":       slow,
	}
	for name, h := range failures {
		t.Run(name, func(t *testing.T) {
			srv, _ := newDirectory(t, h)
			p := breakerProvider(t, srv.URL, 2, time.Minute)
			for range 2 {
				if err := opGet.call(t.Context(), p); !errors.Is(err, identity.ErrUnavailable) {
					t.Fatalf("%v, want ErrUnavailable", err)
				}
			}
			if s := p.BreakerState(); s != BreakerOpen {
				t.Fatalf("breaker %s after 2 failures", s)
			}
		})
	}
	t.Run("ConnectionRefused", func(t *testing.T) {
		srv, _ := newDirectory(t, opGet.ok)
		p := breakerProvider(t, srv.URL, 2, time.Minute)
		srv.Close()
		for range 2 {
			_ = opGet.call(t.Context(), p)
		}
		if s := p.BreakerState(); s != BreakerOpen {
			t.Fatalf("breaker %s", s)
		}
	})

	answers := map[string]http.HandlerFunc{
		"NotFound": func(w http.ResponseWriter, r *http.Request) { writeDomainError(w, identity.NotFound("account"), 0) },
		"Invalid":  status(400),
		"Conflict": func(w http.ResponseWriter, r *http.Request) { writeDomainError(w, identity.Conflict("username"), 0) },
		"AdminKey": func(w http.ResponseWriter, r *http.Request) { writeError(w, 401, "unauthorized", 401, "") },
		"Throttle": throttledAnswer(30, "30"),
	}
	for name, h := range answers {
		t.Run("Answer"+name, func(t *testing.T) {
			srv, _ := newDirectory(t, sequence(status(503), h, status(503), h, status(503), h))
			p := breakerProvider(t, srv.URL, 2, time.Minute)
			for range 6 {
				_ = opGet.call(t.Context(), p)
			}
			if s := p.BreakerState(); s != BreakerClosed {
				t.Fatalf("breaker %s: a domain answer between failures must reset the count", s)
			}
		})
	}
}

func TestBreakerIgnoresCallerCancellation(t *testing.T) {
	srv, _ := newDirectory(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
	})
	p := breakerProvider(t, srv.URL, 1, time.Minute, func(c *Config) { c.Timeout = 5 * time.Second })
	for range 3 {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		err := opGet.call(ctx, p)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%v", err)
		}
		ctx, cancel = context.WithCancel(t.Context())
		time.AfterFunc(20*time.Millisecond, cancel)
		if err := opGet.call(ctx, p); !errors.Is(err, context.Canceled) {
			t.Fatalf("%v", err)
		}
	}
	if s := p.BreakerState(); s != BreakerClosed {
		t.Fatalf("breaker %s: the caller's own cancellations opened it", s)
	}
}

func TestBreakerDisabled(t *testing.T) {
	srv, rec := newDirectory(t, status(503))
	p := breakerProvider(t, srv.URL, -1, time.Minute)
	for range 10 {
		if err := opGet.call(t.Context(), p); errors.Is(err, ErrBreakerOpen) {
			t.Fatal("a disabled breaker opened")
		}
	}
	if rec.count() != 10 || p.BreakerState() != BreakerDisabled {
		t.Fatalf("%d requests, state %s", rec.count(), p.BreakerState())
	}
}

func TestBreakerDefaults(t *testing.T) {
	srv, rec := newDirectory(t, status(503))
	p := newTestProvider(t, srv.URL, func(c *Config) { c.Retries = -1 })
	if p.breaker.threshold != DefaultBreakerThreshold || p.breaker.cooldown != DefaultBreakerCooldown {
		t.Fatalf("defaults %d %v", p.breaker.threshold, p.breaker.cooldown)
	}
	for range DefaultBreakerThreshold + 3 {
		_ = opGet.call(t.Context(), p)
	}
	if rec.count() != DefaultBreakerThreshold || p.BreakerState() != BreakerOpen {
		t.Fatalf("%d requests, state %s", rec.count(), p.BreakerState())
	}
	if _, err := New(t.Context(), Config{URL: srv.URL, APIKeyID: testKeyID, APIKeySecret: testSecret, Application: testApp, BreakerCooldown: -time.Second}); err == nil {
		t.Fatal("a negative cool-down was accepted")
	}
}

// TestBreakerUnderConcurrency: many goroutines against a failing
// directory open the breaker once; the requests that reach the directory
// stop at about the threshold plus those already in flight.
func TestBreakerUnderConcurrency(t *testing.T) {
	srv, rec := newDirectory(t, status(503))
	p := breakerProvider(t, srv.URL, 5, time.Minute)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for range 20 {
				_ = opGet.call(context.Background(), p)
			}
		})
	}
	wg.Wait()
	if p.BreakerState() != BreakerOpen {
		t.Fatalf("breaker %s", p.BreakerState())
	}
	// 1000 calls; at most the threshold plus one in flight per goroutine
	// can reach the directory.
	if n := rec.count(); n > 5+50 {
		t.Fatalf("%d of 1000 calls reached a failing directory", n)
	}
}
