package regulate

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisPrefix is the default of RedisConfig.Prefix.
const DefaultRedisPrefix = "gatehouse:regulate:"

// RedisConfig configures NewRedis and OpenRedis.
type RedisConfig struct {
	// Prefix starts every key, so several applications (or other users)
	// can share one Redis database. Default DefaultRedisPrefix.
	Prefix string
}

// Redis is Counters in Redis, shared by every API server pointed at the
// same database, so a client cannot multiply its budget by spreading its
// guesses over replicas.
//
// Each log is a sorted set (score: the time in ms; member: the attempt id)
// with a TTL of its window, so Redis drops idle logs by itself. Add runs as
// one Lua script over both logs of an attempt, which is atomic; the keys of
// one login share a hash tag, so the script also runs on Redis Cluster.
// Times come from the callers' clocks: replicas should be NTP-synchronised,
// and a skew of seconds is harmless against windows of minutes.
type Redis struct {
	client redis.UniversalClient
	prefix string
	owned  bool
}

var _ Counters = (*Redis)(nil)

// NewRedis returns counters in the database client talks to. Close does
// not close client.
func NewRedis(client redis.UniversalClient, cfg RedisConfig) *Redis {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultRedisPrefix
	}
	return &Redis{client: client, prefix: cfg.Prefix}
}

// Timeouts OpenRedis uses unless the URL sets them (dial_timeout,
// read_timeout, write_timeout, pool_timeout, max_retries): short, because a
// login waits for them, and a Redis that does not answer quickly is treated
// as down (the Regulator fails open). One retry survives a pooled
// connection that broke (a Redis restart); a failed dial is not retried.
const (
	redisDialTimeout = time.Second
	redisIOTimeout   = 500 * time.Millisecond
	redisPoolTimeout = time.Second
	redisMaxRetries  = 1
)

// OpenRedis connects to the Redis at rawURL (redis://[user:password@]host:port/db,
// rediss:// for TLS, or unix://), with short timeouts, and returns its
// counters; Close disconnects. It does not contact Redis: see Ping.
func OpenRedis(rawURL string, cfg RedisConfig) (*Redis, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("regulate: redis URL: %w", err)
	}
	q := url.Values{}
	if u, err := url.Parse(rawURL); err == nil {
		q = u.Query()
	}
	if !q.Has("dial_timeout") {
		opts.DialTimeout = redisDialTimeout
	}
	if !q.Has("read_timeout") {
		opts.ReadTimeout = redisIOTimeout
	}
	if !q.Has("write_timeout") {
		opts.WriteTimeout = redisIOTimeout
	}
	if !q.Has("pool_timeout") {
		opts.PoolTimeout = redisPoolTimeout
	}
	if !q.Has("max_retries") {
		opts.MaxRetries = redisMaxRetries
	}
	opts.DialerRetries = 1 // go-redis's default dials 5 times, 100 ms apart
	r := NewRedis(redis.NewClient(opts), cfg)
	r.owned = true
	return r, nil
}

// Ping checks that Redis answers.
func (r *Redis) Ping(ctx context.Context) error { return r.client.Ping(ctx).Err() }

// Close disconnects, when OpenRedis made the connection.
func (r *Redis) Close() error {
	if r.owned {
		return r.client.Close()
	}
	return nil
}

// addScript is Add: for each key, drop what left the window, read the
// count and the Nth newest entry, then add the attempt and renew the TTL.
// ARGV: now (ms), the attempt id, then for each key its window (ms) and
// Nth. It returns count and Nth's score (-1 for none) per key.
var addScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local member = ARGV[2]
local out = {}
for i, key in ipairs(KEYS) do
  local a = 3 + (i - 1) * 2
  local window = tonumber(ARGV[a])
  local nth = tonumber(ARGV[a + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  local at = -1
  if nth > 0 and count >= nth then
    local r = redis.call('ZRANGE', key, -nth, -nth, 'WITHSCORES')
    at = tonumber(r[2])
  end
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window)
  out[#out + 1] = count
  out[#out + 1] = at
end
return out
`)

// Add implements Counters.
func (r *Redis) Add(ctx context.Context, now time.Time, id uint64, keys ...Key) ([]Log, error) {
	names := make([]string, len(keys))
	args := make([]any, 0, 2+2*len(keys))
	args = append(args, now.UnixMilli(), member(id))
	for i, k := range keys {
		names[i] = r.prefix + k.Name
		args = append(args, max(1, k.Window.Milliseconds()), k.Nth)
	}
	res, err := addScript.Run(ctx, r.client, names, args...).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("regulate: redis: %w", err)
	}
	if len(res) != 2*len(keys) {
		return nil, errors.New("regulate: redis: unexpected answer to the add script")
	}
	out := make([]Log, len(keys))
	for i := range keys {
		out[i].Count = int(res[2*i])
		if at := res[2*i+1]; at >= 0 {
			out[i].Nth = time.UnixMilli(at)
		}
	}
	return out, nil
}

// Remove implements Counters.
func (r *Redis) Remove(ctx context.Context, id uint64, names ...string) error {
	if len(names) == 0 {
		return nil
	}
	m := member(id)
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, n := range names {
			p.ZRem(ctx, r.prefix+n, m)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("regulate: redis: %w", err)
	}
	return nil
}

// Reset implements Counters.
func (r *Redis) Reset(ctx context.Context, names ...string) error {
	if len(names) == 0 {
		return nil
	}
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = r.prefix + n
	}
	// One DEL per key: on Redis Cluster, a multi-key DEL must stay within
	// one slot, which the names of one login do, but nothing requires it.
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, k)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("regulate: redis: %w", err)
	}
	return nil
}

func member(id uint64) string { return strconv.FormatUint(id, 36) }
