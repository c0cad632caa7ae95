package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity/remote"
)

// TestDirectoryBreakerEndToEnd: the API server's remote provider stops
// calling a crashed directory after remote.DefaultBreakerThreshold failed
// calls, answers 503 at once meanwhile, says so in /readyz, and recovers
// through a half-open probe once the directory is back and the cool-down
// has passed.
func TestDirectoryBreakerEndToEnd(t *testing.T) {
	s := startRemoteStack(t, nil, nil, "http")
	api := s.api
	expectStatus(t, "register", api.do(t, call{method: "POST", path: "/api/users", contentType: "application/json",
		body: `{"username":"miguel","password":"python is great"}`}), 201)
	expectStatus(t, "readyz", api.do(t, call{path: "/readyz"}), 200)

	var closedAt time.Time
	s.restartDirectory(t, func() {
		// Distinct credentials, so no cache answers: each is a call to the
		// crashed directory, until the breaker opens.
		for i := range remote.DefaultBreakerThreshold {
			a := api.do(t, call{path: "/api/resource", auth: basicAuth("miguel", "not the password "+strings.Repeat("x", i))})
			expectStatus(t, "login, directory down", a, 503)
		}
		a := api.do(t, call{path: "/readyz"})
		expectStatus(t, "readyz, breaker open", a, 503, "circuit breaker open")
		if a.header.Get("Retry-After") == "" {
			t.Error("readyz 503 without Retry-After")
		}
		// Open: answers come at once, without waiting for a connection.
		start := time.Now()
		for range 20 {
			expectStatus(t, "login, breaker open", api.do(t, call{path: "/api/resource", auth: basicAuth("miguel", "python is great")}), 503)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("20 requests with the breaker open took %v", d)
		}
		closedAt = time.Now()
	})
	if !strings.Contains(api.logs.String(), "circuit breaker opened") {
		t.Errorf("the breaker's opening was not logged:\n%s", api.logs)
	}
	// The directory is back, but the breaker holds calls until its
	// cool-down ends; then readiness probes and closes it.
	waitReady(t, api)
	if d := time.Since(closedAt); d < remote.DefaultBreakerCooldown/2 {
		t.Logf("ready %v after the directory came back", d)
	}
	expectStatus(t, "login after recovery", api.do(t, call{path: "/api/resource", auth: basicAuth("miguel", "python is great")}), 200)
	expectStatus(t, "wrong password after recovery", api.do(t, call{path: "/api/resource", auth: basicAuth("miguel", "wrong")}), http.StatusUnauthorized)
	if !strings.Contains(api.logs.String(), "circuit breaker closed") {
		t.Errorf("the breaker's closing was not logged")
	}
}
