package regulate_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/mock"
	"github.com/gatehouse-id/gatehouse/identity/regulate"
)

// redisURL returns GATEHOUSE_TEST_REDIS (e.g. redis://127.0.0.1:6379/15, a
// database the tests may write to), skipping the test without it, or
// failing it in CI.
func redisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("GATEHOUSE_TEST_REDIS")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("GATEHOUSE_TEST_REDIS is not set, and CI=true: the Redis tests must run")
		}
		t.Skip("GATEHOUSE_TEST_REDIS is not set")
	}
	return u
}

// redisPrefix returns a key prefix of its own for one test, and deletes
// its keys when the test ends. Tests of several runs can share a database.
func redisPrefix(t *testing.T, url string) (string, *redis.Client) {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	prefix := fmt.Sprintf("gatehouse-test:regulate:%016x:", rand.Uint64())
	t.Cleanup(func() {
		ctx := context.Background()
		var keys []string
		iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		for _, k := range keys {
			client.Del(ctx, k)
		}
		client.Close()
	})
	return prefix, client
}

func openRedis(t *testing.T, url, prefix string) *regulate.Redis {
	t.Helper()
	r, err := regulate.OpenRedis(url, regulate.RedisConfig{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if err := r.Ping(t.Context()); err != nil {
		t.Fatalf("redis at %s: %v", url, err)
	}
	return r
}

// TestRedis runs the whole suite with the counters in Redis. The suite
// tests what is counted, not how long Redis may take: its connections get
// timeouts of seconds, so that a loaded machine (CI under -race) does not
// time an Add out, which would fail open and let an extra guess through.
func TestRedis(t *testing.T) {
	url := withQuery(redisURL(t), "read_timeout=5s&write_timeout=5s&pool_timeout=5s")
	runSuite(t, func(t *testing.T) regulate.Counters {
		prefix, _ := redisPrefix(t, url)
		return openRedis(t, url, prefix)
	})
}

// withQuery adds query parameters to a URL.
func withQuery(url, query string) string {
	if strings.Contains(url, "?") {
		return url + "&" + query
	}
	return url + "?" + query
}

// TestRedisShared: two Regulators (two API servers) on one Redis share
// their counts: 3 failures on one and 2 on the other throttle the pair on
// both, and the login-wide lock is shared too.
func TestRedisShared(t *testing.T) {
	url := redisURL(t)
	prefix, _ := redisPrefix(t, url)
	m := mock.New(mock.WithFastHashing())
	if _, err := m.CreateAccount(t.Context(), identity.AccountCreate{Username: "alice", Password: alicePassword}); err != nil {
		t.Fatal(err)
	}
	c := newClock()
	cfg := regulate.Config{Now: c.Now, AccountMaxFailures: 20}
	a := &fixture{t: t, mock: m, clock: c, reg: regulate.New(m, cfg, openRedis(t, url, prefix))}
	b := &fixture{t: t, mock: m, clock: c, reg: regulate.New(m, cfg, openRedis(t, url, prefix))}

	const ip = "203.0.113.1"
	for i := 0; i < 3; i++ {
		mustFail(t, a.try(ip, "alice", "wrong password"), "failure on A")
	}
	for i := 0; i < 2; i++ {
		mustFail(t, b.try(ip, "alice", "wrong password"), "failure on B")
	}
	mustThrottle(t, a.try(ip, "alice", alicePassword), 5*time.Minute, "6th attempt, on A")
	mustThrottle(t, b.try(ip, "alice", alicePassword), 5*time.Minute, "6th attempt, on B")

	// 15 more failures from other IPs, alternating: 20 in all lock alice.
	for i := 0; i < 15; i++ {
		f := a
		if i%2 == 1 {
			f = b
		}
		mustFail(t, f.try(fmt.Sprintf("10.0.0.%d", i), "alice", "wrong password"), "distributed failure")
	}
	mustThrottle(t, a.try("192.0.2.1", "alice", alicePassword), time.Second, "locked, on A")
	mustThrottle(t, b.try("192.0.2.1", "alice", alicePassword), time.Second, "locked, on B")
	if got := m.Calls(mock.OpAuthenticate); got != 20 {
		t.Errorf("provider calls %d, want 20", got)
	}
}

// TestRedisKeys: keys carry no login and expire with their window.
func TestRedisKeys(t *testing.T) {
	url := redisURL(t)
	prefix, client := redisPrefix(t, url)
	f := newFixture(t, openRedis(t, url, prefix), regulate.Config{})
	mustFail(t, f.try("203.0.113.1", "Alice@Example.com", "wrong password"), "failure")
	keys, err := client.Keys(t.Context(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("keys %v, want a pair log and a login log", keys)
	}
	for _, k := range keys {
		if strings.Contains(strings.ToLower(k), "alice") {
			t.Errorf("key %q shows the login", k)
		}
		ttl, err := client.PTTL(t.Context(), k).Result()
		if err != nil || ttl <= 0 || ttl > time.Hour {
			t.Errorf("key %q: TTL %s (%v)", k, ttl, err)
		}
	}
}

// TestRedisOutage: with Redis unreachable the Regulator fails open quickly
// (nobody is locked out by the outage), and regulates with its fallback.
func TestRedisOutage(t *testing.T) {
	down, err := regulate.OpenRedis("redis://127.0.0.1:1/0", regulate.RedisConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()

	f := newFixture(t, down, regulate.Config{})
	start := time.Now()
	for i := 0; i < 8; i++ {
		mustFail(t, f.try("203.0.113.1", "alice", "wrong password"), "redis down")
	}
	mustPass(t, f.try("203.0.113.1", "alice", alicePassword), "redis down")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("9 attempts with Redis down took %s", d)
	}
	if s := f.reg.Stats(); s.CounterErrors == 0 || s.Blocks != 0 {
		t.Errorf("stats %+v", s)
	}

	f = newFixture(t, down, regulate.Config{Fallback: regulate.NewMemory(regulate.MemoryConfig{})})
	for i := 0; i < 5; i++ {
		mustFail(t, f.try("203.0.113.1", "alice", "wrong password"), "redis down, fallback")
	}
	mustThrottle(t, f.try("203.0.113.1", "alice", alicePassword), 5*time.Minute, "fallback regulates")
}
