package remote

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/directory"
	"github.com/gatehouse-id/gatehouse/identity/mock"
)

// TestHTTPSDirectory runs the remote provider against a real directory
// served over HTTPS with a certificate of its own: trusted through
// Config.Transport's RootCAs it works; without, the certificate error is
// an unavailable directory, reported at once and never retried.
func TestHTTPSDirectory(t *testing.T) {
	backing := mock.New(mock.WithFastHashing())
	const pw = "correct horse battery staple"
	if _, err := backing.CreateAccount(t.Context(), identity.AccountCreate{Username: "alice", Password: pw}); err != nil {
		t.Fatal(err)
	}
	var reached atomic.Int64
	dir := directory.New(directory.Config{}, directory.StaticTenant(directory.Application{ID: testAppID, Name: testApp}, backing, testKeyID, testSecret), nil)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		dir.ServeHTTP(w, r)
	}))
	var conns atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	if !strings.HasPrefix(srv.URL, "https://") {
		t.Fatalf("URL %s", srv.URL)
	}

	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	trusted := newTransport()
	trusted.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	p := newTestProvider(t, srv.URL, func(c *Config) { c.Transport = trusted })
	acc, err := p.Authenticate(t.Context(), "alice", pw)
	if err != nil || acc.Username != "alice" {
		t.Fatalf("login over HTTPS: %v", err)
	}
	if _, err := p.Authenticate(t.Context(), "alice", "wrong password"); !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("wrong password over HTTPS: %v", err)
	}
	if _, err := p.TokenSettings(t.Context()); err != nil {
		t.Fatal(err)
	}

	// The system's roots do not know the test certificate.
	before, beforeConns := reached.Load(), conns.Load()
	_, err = New(t.Context(), Config{URL: srv.URL, APIKeyID: testKeyID, APIKeySecret: testSecret, Application: testApp, Retries: 3, Timeout: 2 * time.Second})
	if !errors.Is(err, identity.ErrUnavailable) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted certificate: %v", err)
	}
	if n := reached.Load() - before; n != 0 {
		t.Fatalf("%d requests got through an untrusted certificate", n)
	}
	time.Sleep(50 * time.Millisecond) // let the server see every connection
	if n := conns.Load() - beforeConns; n != 1 {
		t.Fatalf("%d connections for an untrusted certificate: a certificate error must not be retried", n)
	}
	if strings.Contains(err.Error(), testSecret) {
		t.Fatal("the error shows the admin secret")
	}
}
