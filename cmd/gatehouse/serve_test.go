package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// startServe runs gatehouse serve in a goroutine and returns the address
// from its "listening" log line, its log, and a function that stops it and
// returns run's error.
func startServe(t *testing.T, e env, args ...string) (addr string, logs *syncBuffer, stop func() error) {
	t.Helper()
	return startServer(t, e, append([]string{"serve"}, args...)...)
}

// startServer is startServe for any command that serves until its context
// is cancelled (serve, directory serve): args is the whole command line.
func startServer(t *testing.T, e env, args ...string) (addr string, logs *syncBuffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	logs = &syncBuffer{}
	done := runAsync(ctx, e, logs, args...)
	stop = sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			t.Errorf("%s did not stop within 20 s of its context's cancellation", strings.Join(args, " "))
			return nil
		}
	})

	deadline := time.After(30 * time.Second)
	for {
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec struct {
				Msg, Addr string
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				t.Cleanup(func() { _ = stop() })
				return rec.Addr, logs, stop
			}
		}
		select {
		case err := <-done:
			t.Fatalf("%s returned before listening: %v\n%s", strings.Join(args, " "), err, logs.String())
		case <-deadline:
			cancel()
			t.Fatalf("no listening line within 30 s:\n%s", logs.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func get(t *testing.T, c *http.Client, url, user, password string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestServe(t *testing.T) {
	e := localEnv(t)
	const password = "correct horse battery"
	mustRun(t, e, password+"\n", "accounts", "create", "--username", "alice")

	// Only the flag's address is valid: the server starts only if the flag
	// overrides the environment, which overrides the file.
	file := writeFile(t, "gatehouse.yaml", "server:\n  addr: from-the-file\n  realm: from-the-file\n")
	e["GATEHOUSE_SERVER_ADDR"] = "from-the-environment"
	e["GATEHOUSE_SERVER_REALM"] = "Test Realm"
	e["GATEHOUSE_TOKENS_TTL"] = "90s"

	addr, logs, stop := startServe(t, e, "--config", file, "--addr", "127.0.0.1:0")
	if host, port, err := net.SplitHostPort(addr); err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("listening on %q: the bound address, with its port, must be logged", addr)
	}
	base := "http://" + addr
	c := &http.Client{Timeout: 10 * time.Second}

	if resp, body := get(t, c, base+"/healthz", "", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %d %s", resp.StatusCode, body)
	}
	if resp, body := get(t, c, base+"/readyz", "", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /readyz: %d %s", resp.StatusCode, body)
	}
	resp, _ := get(t, c, base+"/", "", "")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(strings.Join(resp.Header.Values("WWW-Authenticate"), ","), `realm="Test Realm"`) {
		t.Errorf("GET / without credentials: %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	if resp, body := get(t, c, base+"/", "alice", password); resp.StatusCode != http.StatusOK || !strings.Contains(body, "alice") {
		t.Errorf("GET / as alice: %d %s", resp.StatusCode, body)
	}
	resp, body := get(t, c, base+"/api/token", "alice", password)
	var tok struct {
		Token    string  `json:"token"`
		Duration float64 `json:"duration"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &tok) != nil || tok.Duration != 90 {
		t.Errorf("GET /api/token (tokens.ttl 90s): %d %s", resp.StatusCode, body)
	}

	if err := stop(); err != nil {
		t.Errorf("serve returned %v after its context was cancelled", err)
	}
	out := logs.String()
	if !strings.Contains(out, `"msg":"stopped"`) {
		t.Errorf("no stopped line:\n%s", out)
	}
	if strings.Contains(out, password) || (tok.Token != "" && strings.Contains(out, tok.Token)) {
		t.Errorf("a secret was logged:\n%s", out)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still listening after stop")
	}
}

func TestServeMock(t *testing.T) {
	e := env{
		"GATEHOUSE_IDENTITY_PROVIDER":          "mock",
		"GATEHOUSE_IDENTITY_MOCK_FAST_HASHING": "true",
		"GATEHOUSE_IDENTITY_MOCK_ACCOUNTS":     `[{"username":"alice","password":"correct horse battery"}]`,
		"GATEHOUSE_LOG_FORMAT":                 "json",
	}
	addr, _, stop := startServe(t, e, "--addr", "127.0.0.1:0")
	c := &http.Client{Timeout: 10 * time.Second}
	if resp, body := get(t, c, "http://"+addr+"/", "alice", "correct horse battery"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET / as seeded alice: %d %s", resp.StatusCode, body)
	}
	if err := stop(); err != nil {
		t.Error(err)
	}
}

func TestServeTLS(t *testing.T) {
	certFile, keyFile, pool := selfSignedCert(t)
	e := localEnv(t)
	e["GATEHOUSE_SERVER_TLS_CERT_FILE"] = certFile
	e["GATEHOUSE_SERVER_TLS_KEY_FILE"] = keyFile
	e["GATEHOUSE_SERVER_ADDR"] = "127.0.0.1:0"
	addr, logs, stop := startServe(t, e)
	if !strings.Contains(logs.String(), `"scheme":"https"`) {
		t.Errorf("listening line does not say https:\n%s", logs.String())
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if resp, body := get(t, c, "https://"+addr+"/healthz", "", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("GET https /healthz: %d %s", resp.StatusCode, body)
	}
	if err := stop(); err != nil {
		t.Error(err)
	}
}

func TestServeStartupErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name string
		env  env
		want string
	}{
		{"certificate missing", env{"GATEHOUSE_SERVER_TLS_CERT_FILE": missing, "GATEHOUSE_SERVER_TLS_KEY_FILE": missing}, "server.tls"},
		{"only a key", env{"GATEHOUSE_SERVER_TLS_KEY_FILE": missing}, "config: server.tls.cert_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := localEnv(t)
			for k, v := range tt.env {
				e[k] = v
			}
			r := gatehouse(t, e, "", "serve", "--addr", "127.0.0.1:0")
			if r.err == nil || !strings.Contains(r.err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", r.err, tt.want)
			}
		})
	}

	// An address in use.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := gatehouse(t, localEnv(t), "", "serve", "--addr", ln.Addr().String())
	if r.err == nil || !strings.Contains(r.err.Error(), "server.addr") {
		t.Errorf("address in use: %v", r.err)
	}
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key, and
// returns a pool trusting it.
func selfSignedCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "gatehouse test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writeFile(t, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyFile = writeFile(t, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
