package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.yaml.in/yaml/v3"
)

// mockEnv is an environment for gatehouse serve on the mock provider with
// alice.
func mockEnv() env {
	return env{
		"GATEHOUSE_IDENTITY_PROVIDER":          "mock",
		"GATEHOUSE_IDENTITY_MOCK_FAST_HASHING": "true",
		"GATEHOUSE_IDENTITY_MOCK_ACCOUNTS":     `[{"username":"alice","password":"correct horse battery"}]`,
		"GATEHOUSE_SERVER_ADDR":                "127.0.0.1:0",
	}
}

// TestSlowloris: a client sending its headers a byte at a time, slower
// than read_header_timeout allows, is disconnected, by the API server and
// by the directory, while a normal client is served.
func TestSlowloris(t *testing.T) {
	servers := []struct {
		name string
		env  env
		args []string
	}{
		{"api", mockEnv(), []string{"serve"}},
		{"directory", env{
			"GATEHOUSE_DIRECTORY_DATABASE": t.TempDir() + "/directory.db",
			"GATEHOUSE_DIRECTORY_ADDR":     "127.0.0.1:0",
		}, []string{"directory", "serve"}},
	}
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			prefix := "GATEHOUSE_SERVER_"
			if s.name == "directory" {
				prefix = "GATEHOUSE_DIRECTORY_"
			}
			s.env[prefix+"READ_HEADER_TIMEOUT"] = "400ms"
			s.env[prefix+"READ_TIMEOUT"] = "400ms"
			addr, _, _ := startServer(t, s.env, s.args...)

			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			closed := make(chan time.Duration, 1)
			go func() {
				_, _ = io.Copy(io.Discard, conn) // returns when the server hangs up
				closed <- time.Since(start)
			}()
			slow := "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 100) + "\r\n\r\n"
			var took time.Duration
		send:
			for i := 0; i < len(slow); i++ {
				if _, err := conn.Write([]byte{slow[i]}); err != nil {
					break // the server has hung up
				}
				select {
				case took = <-closed:
					break send
				case <-time.After(100 * time.Millisecond):
				}
			}
			if took == 0 {
				select {
				case took = <-closed:
				case <-time.After(5 * time.Second):
					t.Fatal("the slow client was never disconnected")
				}
			}
			// 400 ms plus scheduling; sending everything would take 12 s.
			if took < 300*time.Millisecond || took > 3*time.Second {
				t.Errorf("slow client disconnected after %s, want about 400ms", took)
			}

			// A normal client still gets an answer.
			resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("normal client: %d", resp.StatusCode)
			}
		})
	}
}

// TestMaxHeaderBytes: headers beyond server.max_header_bytes get 431.
func TestMaxHeaderBytes(t *testing.T) {
	e := mockEnv()
	e["GATEHOUSE_SERVER_MAX_HEADER_BYTES"] = "4096"
	addr, _, _ := startServe(t, e)
	c := &http.Client{Timeout: 5 * time.Second}
	for _, tt := range []struct {
		size int
		want int
	}{{1000, http.StatusOK}, {16 << 10, http.StatusRequestHeaderFieldsTooLarge}} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/healthz", nil)
		req.Header.Set("X-Big", strings.Repeat("b", tt.size))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%d-byte header: %d, want %d", tt.size, resp.StatusCode, tt.want)
		}
	}
}

// attempt makes one Basic request to base/ as user, optionally with an
// X-Forwarded-For, and returns the status and Retry-After.
func attempt(t *testing.T, base, user, password, xff string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/", nil)
	req.SetBasicAuth(user, password)
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// TestServeRegulation: gatehouse serve regulates with regulation.*, the
// same for unknown logins, honours X-Forwarded-For only from
// server.trusted_proxies, and regulation.enabled turns it off.
func TestServeRegulation(t *testing.T) {
	e := mockEnv()
	e["GATEHOUSE_REGULATION_PAIR_MAX_FAILURES"] = "3"
	e["GATEHOUSE_REGULATION_PAIR_WINDOW"] = "2m"
	addr, _, _ := startServe(t, e)
	base := "http://" + addr
	for _, login := range []string{"alice", "nobody"} {
		for i := 0; i < 3; i++ {
			// X-Forwarded-For from an untrusted peer (loopback is not
			// trusted by default) changes nothing.
			if st, _ := attempt(t, base, login, "wrong password", fmt.Sprintf("198.51.100.%d", i)); st != http.StatusUnauthorized {
				t.Fatalf("%s failure %d: %d", login, i+1, st)
			}
		}
		st, ra := attempt(t, base, login, "correct horse battery", "198.51.100.99")
		if st != http.StatusTooManyRequests || (ra != "120" && ra != "119") {
			t.Errorf("%s 4th attempt: %d, Retry-After %q; want 429 after about 120 s", login, st, ra)
		}
	}

	// Behind a trusted proxy (here loopback), clients are told apart.
	e = mockEnv()
	e["GATEHOUSE_REGULATION_PAIR_MAX_FAILURES"] = "3"
	e["GATEHOUSE_SERVER_TRUSTED_PROXIES"] = "127.0.0.1/32, ::1"
	addr, _, _ = startServe(t, e)
	for i := 0; i < 3; i++ {
		attempt(t, "http://"+addr, "alice", "wrong password", "198.51.100.1")
	}
	if st, _ := attempt(t, "http://"+addr, "alice", "correct horse battery", "198.51.100.1"); st != http.StatusTooManyRequests {
		t.Errorf("the throttled client behind the proxy: %d", st)
	}
	if st, _ := attempt(t, "http://"+addr, "alice", "correct horse battery", "198.51.100.2"); st != http.StatusOK {
		t.Errorf("another client behind the proxy: %d", st)
	}

	// Off.
	e = mockEnv()
	e["GATEHOUSE_REGULATION_ENABLED"] = "false"
	addr, _, _ = startServe(t, e)
	for i := 0; i < 8; i++ {
		attempt(t, "http://"+addr, "alice", "wrong password", "")
	}
	if st, _ := attempt(t, "http://"+addr, "alice", "correct horse battery", ""); st != http.StatusOK {
		t.Errorf("regulation off: %d", st)
	}
}

// TestServeRegulationRedis: two API servers on one Redis share their
// counts. It needs GATEHOUSE_TEST_REDIS (a database it may write to).
func TestServeRegulationRedis(t *testing.T) {
	url := os.Getenv("GATEHOUSE_TEST_REDIS")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("GATEHOUSE_TEST_REDIS is not set, and CI=true: the Redis tests must run")
		}
		t.Skip("GATEHOUSE_TEST_REDIS is not set")
	}
	// An application of its own keeps the keys apart from other runs.
	app := fmt.Sprintf("regtest%016x", rand.Uint64())
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := client.Keys(ctx, "gatehouse:regulate:"+app+":*").Result()
		for _, k := range keys {
			client.Del(ctx, k)
		}
		client.Close()
	})

	e := mockEnv()
	e["GATEHOUSE_APPLICATION"] = app
	e["GATEHOUSE_REGULATION_REDIS_URL"] = url
	a, _, _ := startServe(t, e)
	b, _, _ := startServe(t, e)
	for i := 0; i < 5; i++ {
		srv := a
		if i%2 == 1 {
			srv = b
		}
		if st, _ := attempt(t, "http://"+srv, "alice", "wrong password", ""); st != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, st)
		}
	}
	for _, srv := range []string{a, b} {
		if st, _ := attempt(t, "http://"+srv, "alice", "correct horse battery", ""); st != http.StatusTooManyRequests {
			t.Errorf("6th attempt on %s: %d, want 429", srv, st)
		}
	}
	keys, err := client.Keys(t.Context(), "gatehouse:regulate:"+app+":*").Result()
	if err != nil || len(keys) != 2 {
		t.Errorf("keys in Redis: %v (%v)", keys, err)
	}
}

// TestServeRedisDown: an unreachable regulation.redis_url does not stop
// the server, and logins still work (fail open), regulated in memory.
func TestServeRedisDown(t *testing.T) {
	e := mockEnv()
	e["GATEHOUSE_REGULATION_REDIS_URL"] = "redis://:s3cret@" + freeAddr(t) + "/0"
	addr, logs, _ := startServe(t, e)
	if !strings.Contains(logs.String(), "regulation.redis_url does not answer") || strings.Contains(logs.String(), "s3cret") {
		t.Errorf("start-up log:\n%s", logs)
	}
	if st, _ := attempt(t, "http://"+addr, "alice", "correct horse battery", ""); st != http.StatusOK {
		t.Errorf("login with Redis down: %d", st)
	}
	for i := 0; i < 5; i++ {
		attempt(t, "http://"+addr, "alice", "wrong password", "")
	}
	if st, _ := attempt(t, "http://"+addr, "alice", "correct horse battery", ""); st != http.StatusTooManyRequests {
		t.Errorf("6th attempt with Redis down: %d, want 429 from the in-memory fallback", st)
	}
}

// TestDirectoryRegulation: the directory regulates its own login attempts
// (login-wide only), and an API server in front passes its 429 on.
func TestDirectoryRegulation(t *testing.T) {
	de := directoryEnv(t)
	de["GATEHOUSE_REGULATION_ACCOUNT_MAX_FAILURES"] = "4"
	id, secret := bootstrap(t, de, "shop")
	daddr, _, _ := startServer(t, de, "directory", "serve", "--addr", "127.0.0.1:0")

	e := remoteEnv(daddr, "shop", id, secret)
	e["GATEHOUSE_REGULATION_ENABLED"] = "false" // only the directory regulates
	e["GATEHOUSE_CACHE_ENABLED"] = "false"
	mustRun(t, e, "correct horse battery\n", "accounts", "create", "--username", "alice")
	addr, _, _ := startServe(t, e, "--addr", "127.0.0.1:0")
	for i := 0; i < 4; i++ {
		if st, _ := attempt(t, "http://"+addr, "alice", "wrong password", ""); st != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, st)
		}
	}
	st, ra := attempt(t, "http://"+addr, "alice", "correct horse battery", "")
	if st != http.StatusTooManyRequests || ra == "" {
		t.Errorf("5th attempt: %d, Retry-After %q; want 429 from the directory", st, ra)
	}
	// Another login is not affected.
	mustRun(t, e, "battery staple horse\n", "accounts", "create", "--username", "bob")
	if st, _ := attempt(t, "http://"+addr, "bob", "battery staple horse", ""); st != http.StatusOK {
		t.Errorf("bob: %d", st)
	}
}

// TestEveryKeyDocumented: every configuration key is in config.yaml (with
// its environment variable named in a comment) and in the README's table.
func TestEveryKeyDocumented(t *testing.T) {
	raw, err := os.ReadFile("../../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range defaults {
		if keyPresent(doc, d.Key) != nil {
			t.Errorf("config.yaml does not set %s", d.Key)
		}
		if !strings.Contains(string(raw), envName(d.Key)) {
			t.Errorf("config.yaml does not name %s", envName(d.Key))
		}
		// The row: | `key` | `default` | `ENV` | meaning |
		def := fmt.Sprint(d.Value)
		switch v := d.Value.(type) {
		case []string, []any:
			def = "`[]`"
		case string:
			if v != "" {
				def = "`" + v + "`"
			}
		default:
			def = "`" + def + "`"
		}
		row := "| `" + d.Key + "` | " + def + " | `" + envName(d.Key) + "` |"
		if def == "" {
			row = "| `" + d.Key + "` | | `" + envName(d.Key) + "` |"
		}
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md's table has no row starting %s", row)
		}
	}
}

// keyPresent reports (as nil) whether the dotted key exists in doc, even
// with an empty value (redis_url: "").
func keyPresent(doc map[string]any, key string) error {
	parts := strings.Split(key, ".")
	m := doc
	for i, part := range parts {
		v, ok := m[part]
		if !ok {
			return errors.New("missing")
		}
		if i == len(parts)-1 {
			return nil
		}
		if m, ok = v.(map[string]any); !ok {
			return errors.New("missing")
		}
	}
	return nil
}
