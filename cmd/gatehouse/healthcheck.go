package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"
)

// Bounds of gatehouse healthcheck.
const (
	defaultHealthTimeout = 3 * time.Second
	// maxHealthBody bounds how much of an answer is read for its message.
	maxHealthBody = 16 << 10
	// maxHealthMessage bounds the message quoted from an unhealthy answer.
	maxHealthMessage = 200
)

func (a *app) healthcheckCommand() *cobra.Command {
	var (
		rawURL    string
		ready     bool
		directory bool
		timeout   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Check that a running server answers (for a container's HEALTHCHECK)",
		Long: `Ask a running server whether it is healthy: GET /healthz (the process
serves requests), or with --ready GET /readyz (its provider or database
answers and the directory's circuit breaker is closed). Exit status 0 means
it answered 200 within --timeout; 1 means it did not, or the configuration
or --timeout is unusable, with the reason on standard error. A malformed
command line (an unknown flag, an argument) exits 2, as for every command.

The server is the API (gatehouse serve) at server.addr, or with --directory
the directory at directory.addr, over HTTPS when server.tls (directory.tls)
is set; an address on every interface (0.0.0.0, ::, or no host) is checked
on loopback. --url names another base URL. When the server's TLS
certificate is configured, a server presenting exactly that certificate is
trusted whatever its name, as it is this configuration's own; otherwise the
system's roots are used.`,
		Example: `  gatehouse healthcheck
  gatehouse healthcheck --ready
  gatehouse healthcheck --directory --ready
  gatehouse healthcheck --url https://gatehouse.internal:5000 --timeout 1s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Docker reads a HEALTHCHECK's exit status 1 as unhealthy and
			// reserves the others: every failure is flattened into a plain
			// error, which exits 1 whatever its cause.
			if err := a.healthcheck(cmd, rawURL, ready, directory, timeout); err != nil {
				return errors.New(err.Error())
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&rawURL, "url", "", "base URL of the server (default: from server.addr, or directory.addr with --directory)")
	f.BoolVar(&ready, "ready", false, "check /readyz (can serve) instead of /healthz (is alive)")
	f.BoolVar(&directory, "directory", false, "check the directory (directory.addr, directory.tls) instead of the API server")
	f.DurationVar(&timeout, "timeout", defaultHealthTimeout, "how long to wait for the answer")
	return cmd
}

// healthcheck runs gatehouse healthcheck.
func (a *app) healthcheck(cmd *cobra.Command, rawURL string, ready, directory bool, timeout time.Duration) error {
	if timeout <= 0 || timeout > time.Minute {
		return fmt.Errorf("--timeout: must be between 1ms and 1m (got %s)", timeout)
	}
	cfg, _, err := a.load(cmd)
	if err != nil {
		return err
	}
	addr, addrKey, tlsCfg := cfg.Server.Addr, "server.addr", cfg.Server.TLS
	if directory {
		addr, addrKey, tlsCfg = cfg.Directory.Addr, "directory.addr", cfg.Directory.TLS
	}
	base := rawURL
	if base == "" {
		if base, err = localURL(addr, tlsCfg.CertFile != ""); err != nil {
			return fmt.Errorf("config: %s: %w; pass --url", addrKey, err)
		}
	} else if err := checkBaseURL(base); err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	path := "/healthz"
	if ready {
		path = "/readyz"
	}
	target := strings.TrimSuffix(base, "/") + path
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
	defer cancel()
	if err := probe(ctx, target, tlsCfg.CertFile); err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	_, err = fmt.Fprintf(a.stdout, "healthy: GET %s: 200\n", target)
	return err
}

// localURL is the base URL that reaches a server listening on addr from
// the same host: an unspecified host (every interface) is reached on
// loopback.
func localURL(addr string, https bool) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("must be host:port (got %q)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return "", fmt.Errorf("the port is %q, not one a client can reach", port)
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		if ip.Is6() && !ip.Is4In6() {
			host = "::1"
		} else {
			host = "127.0.0.1"
		}
	} else if host == "" {
		host = "127.0.0.1"
	}
	scheme := "http"
	if https {
		scheme = "https"
	}
	return (&url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port)}).String(), nil
}

// probe GETs target and succeeds on a 200. certFile, when set, is the
// server's own certificate, which is trusted as it is.
func probe(ctx context.Context, target, certFile string) error {
	tr := &http.Transport{
		Proxy:             nil, // a proxy would check something else
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{MinVersion: tls.VersionTLS12},
	}
	if certFile != "" {
		pinned, err := leafOf(certFile)
		if err != nil {
			return err
		}
		u, err := url.Parse(target)
		if err != nil {
			return err
		}
		tr.TLSClientConfig = pinnedTLS(pinned, u.Hostname())
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport: tr,
		// A redirect is not health: the answer must come from the server.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "gatehouse-healthcheck")
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("GET %s: no answer in time: %w", target, err)
		}
		return fmt.Errorf("GET %s: %w", target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxHealthBody))
	if resp.StatusCode != http.StatusOK {
		msg := fmt.Sprintf("GET %s: status %d", target, resp.StatusCode)
		if m := answerMessage(body); m != "" {
			msg += ": " + m
		}
		return errors.New(msg)
	}
	return nil
}

// answerMessage is the message of an error body of either server (the
// API's problem details and the directory's protocol errors both have
// one), cut short and stripped of control characters.
func answerMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	m := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, e.Message)
	if len(m) > maxHealthMessage {
		m = strings.ToValidUTF8(m[:maxHealthMessage], "") + "…"
	}
	return m
}

// leafOf reads the first certificate of a PEM file. The key is not read:
// the healthcheck has no use for it.
func leafOf(certFile string) (*x509.Certificate, error) {
	raw, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("the server's certificate: %w", err)
	}
	for {
		var b *pem.Block
		b, raw = pem.Decode(raw)
		if b == nil {
			return nil, fmt.Errorf("the server's certificate: %s holds no PEM certificate", certFile)
		}
		if b.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("the server's certificate: %s: %w", certFile, err)
			}
			return c, nil
		}
	}
}

// pinnedTLS trusts a server presenting exactly pinned, the configuration's
// own certificate (it may be self-signed, or name a host other than the
// loopback address being checked), and otherwise verifies as usual.
func pinnedTLS(pinned *x509.Certificate, host string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verification is done below: the pinned certificate, or the
		// system's roots for the host asked for.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server sent no certificate")
			}
			leaf := cs.PeerCertificates[0]
			if bytes.Equal(leaf.Raw, pinned.Raw) {
				return nil
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Intermediates: inter}); err != nil {
				return fmt.Errorf("the server's certificate is neither the configured one nor trusted: %w", err)
			}
			return nil
		},
	}
}
