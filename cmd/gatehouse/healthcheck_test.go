package main

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// expectHealthy runs gatehouse healthcheck with args and expects success.
func expectHealthy(t *testing.T, e env, want string, args ...string) {
	t.Helper()
	r := gatehouse(t, e, "", append([]string{"healthcheck"}, args...)...)
	if r.err != nil || !strings.Contains(r.stdout, "healthy: GET "+want+": 200") {
		t.Fatalf("healthcheck %v: %v, stdout %q; want healthy at %s", args, r.err, r.stdout, want)
	}
}

// expectUnhealthy runs gatehouse healthcheck with args and expects a
// failure whose message holds every one of wants.
func expectUnhealthy(t *testing.T, e env, args []string, wants ...string) {
	t.Helper()
	r := gatehouse(t, e, "", append([]string{"healthcheck"}, args...)...)
	if r.err == nil {
		t.Fatalf("healthcheck %v succeeded, want a failure; stdout %q", args, r.stdout)
	}
	for _, w := range wants {
		if !strings.Contains(r.err.Error(), w) {
			t.Errorf("healthcheck %v: %q does not say %q", args, r.err, w)
		}
	}
	if r.stdout != "" {
		t.Errorf("healthcheck %v printed %q on failure", args, r.stdout)
	}
}

// TestHealthcheck runs gatehouse healthcheck against live servers: the API
// (local provider, then remote with its directory gone) and the directory,
// found from their configured addresses or --url, and against a dead port.
func TestHealthcheck(t *testing.T) {
	de := directoryEnv(t)
	id, secret := bootstrap(t, de, "shop")
	daddr, _, stopDirectory := startServer(t, de, "directory", "serve", "--addr", "127.0.0.1:0")
	e := remoteEnv(daddr, "shop", id, secret)
	// Fail fast once the directory is gone.
	e["GATEHOUSE_IDENTITY_REMOTE_RETRIES"] = "0"
	addr, _, _ := startServe(t, e, "--addr", "127.0.0.1:0")
	e["GATEHOUSE_SERVER_ADDR"] = addr
	e["GATEHOUSE_DIRECTORY_ADDR"] = daddr

	expectHealthy(t, e, "http://"+addr+"/healthz")
	expectHealthy(t, e, "http://"+addr+"/readyz", "--ready")
	expectHealthy(t, e, "http://"+daddr+"/healthz", "--directory")
	expectHealthy(t, e, "http://"+daddr+"/readyz", "--directory", "--ready")
	// An address on every interface is checked on loopback.
	_, port, _ := net.SplitHostPort(addr)
	expectHealthy(t, env{"GATEHOUSE_SERVER_ADDR": "0.0.0.0:" + port}, "http://127.0.0.1:"+port+"/healthz")
	expectHealthy(t, env{"GATEHOUSE_SERVER_ADDR": ":" + port}, "http://127.0.0.1:"+port+"/healthz")
	expectHealthy(t, env{}, "http://"+addr+"/readyz", "--url", "http://"+addr+"/", "--ready")

	// The directory goes away: the API still lives, but is not ready, and
	// says why.
	if err := stopDirectory(); err != nil {
		t.Fatal(err)
	}
	expectHealthy(t, e, "http://"+addr+"/healthz")
	expectUnhealthy(t, e, []string{"--ready"}, "unhealthy", "/readyz: status 503", "directory is not answering")
	expectUnhealthy(t, e, []string{"--directory"}, "unhealthy", daddr, "refused")

	dead := freeAddr(t)
	expectUnhealthy(t, env{"GATEHOUSE_SERVER_ADDR": dead}, nil, "unhealthy", "http://"+dead+"/healthz", "refused")
	expectUnhealthy(t, env{}, []string{"--url", "http://" + dead}, "refused")
}

// TestHealthcheckBadAnswers: a server that does not answer in time, a
// redirect and an error status are all unhealthy; the error body's message
// is quoted, without its control characters.
func TestHealthcheckBadAnswers(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			select { // never answers in time
			case <-release:
			case <-r.Context().Done():
			}
		case "/readyz":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"message":"down\nfor maintenance"}`))
		}
	}))
	defer srv.Close()
	defer close(release)

	start := time.Now()
	expectUnhealthy(t, env{}, []string{"--url", srv.URL, "--timeout", "300ms"}, "no answer in time")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("a 300ms timeout took %s", d)
	}
	expectUnhealthy(t, env{}, []string{"--url", srv.URL, "--ready"}, "status 302")
	expectUnhealthy(t, env{}, []string{"--url", srv.URL + "/sub"}, "/sub/healthz: status 503: downfor maintenance")

	expectUnhealthy(t, env{}, []string{"--url", "ftp://x"}, "--url")
	expectUnhealthy(t, env{}, []string{"--timeout", "0s"}, "--timeout")
	// Port 0 names no server to check.
	expectUnhealthy(t, env{"GATEHOUSE_SERVER_ADDR": "127.0.0.1:0"}, nil, "server.addr", "--url")
}

// TestHealthcheckTLS: with server.tls set, the check speaks HTTPS and
// trusts the server presenting the configured certificate (self-signed
// here, and unknown to the system), whatever name it is reached by; another
// certificate is refused.
func TestHealthcheckTLS(t *testing.T) {
	certFile, keyFile, _ := selfSignedCert(t)
	e := localEnv(t)
	e["GATEHOUSE_SERVER_TLS_CERT_FILE"] = certFile
	e["GATEHOUSE_SERVER_TLS_KEY_FILE"] = keyFile
	addr, _, _ := startServe(t, e, "--addr", "127.0.0.1:0")
	e["GATEHOUSE_SERVER_ADDR"] = addr
	expectHealthy(t, e, "https://"+addr+"/healthz")
	_, port, _ := net.SplitHostPort(addr)
	expectHealthy(t, e, "https://localhost:"+port+"/readyz", "--url", "https://localhost:"+port, "--ready")
	// Plain HTTP to a TLS server fails.
	expectUnhealthy(t, env{}, []string{"--url", "http://" + addr}, "status 400")

	// The configuration names another certificate than the one served.
	otherCert, otherKey, _ := selfSignedCert(t)
	e2 := env{"GATEHOUSE_SERVER_ADDR": addr, "GATEHOUSE_SERVER_TLS_CERT_FILE": otherCert, "GATEHOUSE_SERVER_TLS_KEY_FILE": otherKey}
	expectUnhealthy(t, e2, nil, "neither the configured one nor trusted")
	// Without a configured certificate, only the system's roots count.
	expectUnhealthy(t, env{}, []string{"--url", "https://" + addr}, "certificate")
}

// TestHealthcheckExitStatus: the built binary exits 0 when healthy and 1
// when not, whatever the cause (Docker reserves the other statuses), with
// the reason on standard error; only a malformed command line exits 2.
func TestHealthcheckExitStatus(t *testing.T) {
	bin := binary(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	for _, c := range []struct {
		what   string
		args   []string
		env    []string
		status int
		stderr string
	}{
		{"healthy", []string{"--url", srv.URL}, nil, 0, ""},
		{"dead port", nil, []string{"GATEHOUSE_SERVER_ADDR=" + freeAddr(t)}, 1, "gatehouse: unhealthy: GET http://"},
		{"bad configuration", nil, []string{"GATEHOUSE_LOG_LEVEL=loud"}, 1, "log.level"},
		{"bad timeout", []string{"--timeout", "-1s"}, nil, 1, "--timeout"},
		{"unknown flag", []string{"--bogus"}, nil, 2, "unknown flag: --bogus"},
	} {
		t.Run(c.what, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(bin, append([]string{"healthcheck"}, c.args...)...)
			cmd.Dir = dir
			cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + dir}, c.env...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			status := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				status = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if status != c.status || !strings.Contains(stderr.String(), c.stderr) {
				t.Errorf("exit status %d, stderr %q; want %d and %q", status, stderr.String(), c.status, c.stderr)
			}
		})
	}
}
