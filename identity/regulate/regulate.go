// Package regulate is failed-login regulation in front of any
// identity.Provider: a decorator that counts failed password logins and
// refuses further attempts, with identity.ErrThrottled and how long to wait,
// when there were too many.
//
// What is counted, and the defaults (every one a field of Config):
//
//   - Per pair of login and client network: 5 failures within 5 minutes,
//     and the pair is refused until the oldest of those 5 leaves the
//     window (a sliding window: at most 5 guesses in any 5 minutes). The
//     network is the client's IPv4 address, or its IPv6 /64 (one host
//     usually holds a whole /64, so counting single IPv6 addresses would
//     give it billions of budgets). The client IP comes from
//     identity.ClientIP; without one, attempts count under "unknown".
//   - Per login, from anywhere: 100 failures within an hour (NIST SP
//     800-63B's ceiling) lock the login. The lock starts at 1 s after the
//     100th failure and doubles with every further failure (2 s, 4 s, …),
//     capped at 15 minutes; in between, one attempt at a time is let
//     through. The lock lifts as the failures leave the window (it never
//     outlasts them), so a distributed guesser gets at most about 112
//     failures in any hour (100, then one per lock: 1 s … 512 s, 900 s,
//     900 s), hour after hour, however many addresses it has (OWASP ASVS
//     2.2.1 asks for about 100), while a lock on the real user, who is
//     locked out too, starts short.
//   - A success clears the pair's count, so a user who mistypes a few times
//     and then gets it right starts afresh. It does not clear the login's
//     count: if it did, an attacker could ride on the real user's regular
//     logins and get a fresh 100 guesses after each of them.
//   - Only identity.ErrInvalidCredentials counts as a failure. A refused
//     (throttled) attempt does not: it never reaches the provider, costs
//     no password verification, and does not lengthen the lock. Nor do an
//     unavailable provider or an internal error.
//
// Regulation reveals nothing. Logins are counted by their folded form
// (identity.FoldKey), not by account id, so an unknown login is counted,
// refused and timed exactly like an existing one, and no account lookup is
// made. (The flip side: a username and an email of the same account are
// two logins with two budgets.) Other logins behind the same IP are not
// affected by the pair limit, and the same login from another network is
// not affected by it either; only the login-wide lock affects everyone
// trying that login.
//
// Every attempt is recorded before the provider is called and taken back
// afterwards unless it failed, so a burst of simultaneous guesses cannot
// slip through together: the limit holds under concurrency.
//
// Counters hold the logs: Memory (the default) for one process, Redis for
// replicas sharing them. When the counters fail (Redis down), the Regulator
// fails open: it lets the attempt through rather than lock every user out,
// logs the error and counts it in Stats, and leaves the counters alone for
// 2 s before trying again (so an outage costs one timeout every 2 s, not
// one per login). Meanwhile it uses Config.Fallback, when set (local
// counters, say), so regulation degrades to per-process counting rather
// than to none. Logs carry a SHA-256 of the folded login, never the login
// itself.
//
// API key authentication is not regulated: key secrets have 256 bits of
// entropy, so guessing them is hopeless, and a client with a key is usually
// a program whose retries should not lock anyone out.
package regulate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
)

// Defaults of Config.
const (
	DefaultPairMaxFailures    = 5
	DefaultPairWindow         = 5 * time.Minute
	DefaultAccountMaxFailures = 100
	DefaultAccountWindow      = time.Hour
	DefaultFirstLockout       = time.Second
	DefaultMaxLockout         = 15 * time.Minute
)

// Config configures a Regulator. Zero fields take the defaults named on
// them.
type Config struct {
	// PairMaxFailures failures of one login from one client network
	// within PairWindow refuse that pair until the oldest of them leaves
	// the window. Default 5; negative: no pair limit (for a server that
	// does not know its clients' addresses).
	PairMaxFailures int
	// PairWindow is the pair limit's sliding window. Default 5 min.
	PairWindow time.Duration
	// AccountMaxFailures failures of one login from anywhere within
	// AccountWindow lock it, for FirstLockout after the last failure,
	// doubling with each further failure up to MaxLockout. Default 100;
	// negative: no login-wide limit.
	AccountMaxFailures int
	// AccountWindow is the login-wide limit's sliding window. Default 1 h.
	AccountWindow time.Duration
	// FirstLockout is the lock after the AccountMaxFailures-th failure.
	// Default 1 s.
	FirstLockout time.Duration
	// MaxLockout caps the lock. Default 15 min.
	MaxLockout time.Duration
	// Namespace separates the logins of different applications sharing
	// one set of counters. Default "".
	Namespace string
	// Fallback, when set, is used while the counters fail (a Redis
	// outage), so regulation degrades to what Fallback knows rather than
	// to nothing. Default: none.
	Fallback Counters
	// Logger receives counter failures (at most one line a second) and
	// refused attempts. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.PairMaxFailures == 0 {
		c.PairMaxFailures = DefaultPairMaxFailures
	}
	if c.PairWindow <= 0 {
		c.PairWindow = DefaultPairWindow
	}
	if c.AccountMaxFailures == 0 {
		c.AccountMaxFailures = DefaultAccountMaxFailures
	}
	if c.AccountWindow <= 0 {
		c.AccountWindow = DefaultAccountWindow
	}
	if c.FirstLockout <= 0 {
		c.FirstLockout = DefaultFirstLockout
	}
	if c.MaxLockout <= 0 {
		c.MaxLockout = DefaultMaxLockout
	}
	c.MaxLockout = max(c.MaxLockout, c.FirstLockout)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Stats are a Regulator's counters since it was made.
type Stats struct {
	// Blocks is the number of attempts refused with ErrThrottled, of which
	// PairBlocks by the pair limit and AccountBlocks by the login-wide
	// lock (an attempt refused by both counts in both).
	Blocks, PairBlocks, AccountBlocks uint64
	// Failures is the number of failed logins recorded.
	Failures uint64
	// CounterErrors is the number of times the counters failed, each
	// time failing open (or over to Config.Fallback).
	CounterErrors uint64
}

// Regulator is an identity.Provider that regulates Authenticate of the
// Provider it wraps; every other method passes through.
type Regulator struct {
	identity.Provider
	cfg      Config
	counters Counters

	blocks, pairBlocks, accountBlocks, failures, counterErrors atomic.Uint64
	lastErrLog                                                 atomic.Int64
	// countersDownUntil (Unix ns, real time) is when to try the counters
	// again after they failed; until then the fallback, or nothing, is used.
	countersDownUntil atomic.Int64
}

// countersRetry is how long failed counters are left alone before the next
// try: an outage then costs one timeout every countersRetry instead of one
// per login.
const countersRetry = 2 * time.Second

var _ identity.Provider = (*Regulator)(nil)

// New wraps p with failed-login regulation, keeping its logs in counters
// (nil: new in-memory counters with the default bound).
func New(p identity.Provider, cfg Config, counters Counters) *Regulator {
	cfg = cfg.withDefaults()
	if counters == nil {
		counters = NewMemory(MemoryConfig{})
	}
	return &Regulator{Provider: p, cfg: cfg, counters: counters}
}

// Unwrap returns the wrapped provider, so callers can find its optional
// capabilities (identity.FindRevocationFeed).
func (r *Regulator) Unwrap() identity.Provider { return r.Provider }

// Stats returns the counters.
func (r *Regulator) Stats() Stats {
	return Stats{
		Blocks: r.blocks.Load(), PairBlocks: r.pairBlocks.Load(), AccountBlocks: r.accountBlocks.Load(),
		Failures: r.failures.Load(), CounterErrors: r.counterErrors.Load(),
	}
}

// bookkeepingTimeout bounds the counter updates made after the provider
// answered; they run even if the caller has gone, so that a failure is
// never lost to a cancelled request.
const bookkeepingTimeout = 2 * time.Second

// Authenticate implements identity.Provider with regulation.
func (r *Regulator) Authenticate(ctx context.Context, login, password string) (*identity.Account, error) {
	pairOn, accountOn := r.cfg.PairMaxFailures > 0, r.cfg.AccountMaxFailures > 0
	if !pairOn && !accountOn {
		return r.Provider.Authenticate(ctx, login, password)
	}
	pair, account := r.keys(login, identity.ClientIP(ctx))
	var keys []Key
	if pairOn {
		keys = append(keys, pair)
	}
	if accountOn {
		keys = append(keys, account)
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Name
	}

	now := r.cfg.Now()
	id := rand.Uint64()
	counters, logs, err := r.add(ctx, now, id, keys)
	if err != nil {
		return nil, err // the caller has gone
	}
	if counters != nil {
		var pairWait, accountWait time.Duration
		if pairOn {
			pairWait = r.pairWait(now, logs[0])
		}
		if accountOn {
			accountWait = r.accountWait(now, logs[len(logs)-1])
		}
		if wait := max(pairWait, accountWait); wait > 0 {
			// A refused attempt is not a failure: take it back.
			r.bookkeep(ctx, func(ctx context.Context) error { return counters.Remove(ctx, id, names...) })
			r.blocks.Add(1)
			limit := "pair"
			if pairWait > 0 {
				r.pairBlocks.Add(1)
			}
			if accountWait > 0 {
				r.accountBlocks.Add(1)
				limit = "login"
			}
			r.cfg.Logger.InfoContext(ctx, "login attempt throttled", "limit", limit,
				"network", network(identity.ClientIP(ctx)), "retry_after", wait.String())
			return nil, identity.Throttled(wait)
		}
	}

	acc, err := r.Provider.Authenticate(ctx, login, password)
	if counters == nil {
		return acc, err // failing open: nothing to record
	}
	switch {
	case err == nil:
		// The pair starts afresh; the login-wide log keeps its failures
		// but not this attempt. When the pair had no failures (the usual
		// success), taking this attempt back is all there is to do: one
		// call instead of two.
		r.bookkeep(ctx, func(ctx context.Context) error {
			if !pairOn || logs[0].Count == 0 {
				return counters.Remove(ctx, id, names...)
			}
			errs := []error{counters.Reset(ctx, pair.Name)}
			if accountOn {
				errs = append(errs, counters.Remove(ctx, id, account.Name))
			}
			return errors.Join(errs...)
		})
	case errors.Is(err, identity.ErrInvalidCredentials):
		r.failures.Add(1) // the entry stays
	default:
		// Unavailable, throttled further down, internal, cancelled: not a
		// failed guess.
		r.bookkeep(ctx, func(ctx context.Context) error { return counters.Remove(ctx, id, names...) })
	}
	return acc, err
}

// add records the attempt in the counters, or in the fallback when they
// fail. It returns the counters that took it (nil when none did: fail
// open) and the logs as they were before; an error only when ctx ended,
// which says nothing about the counters (a client hanging up must not
// trip the fail-over).
func (r *Regulator) add(ctx context.Context, now time.Time, id uint64, keys []Key) (Counters, []Log, error) {
	if time.Now().UnixNano() >= r.countersDownUntil.Load() {
		logs, err := r.counters.Add(ctx, now, id, keys...)
		if err == nil {
			return r.counters, logs, nil
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		r.counterError(ctx, err)
	}
	if r.cfg.Fallback != nil {
		if logs, err := r.cfg.Fallback.Add(ctx, now, id, keys...); err == nil {
			return r.cfg.Fallback, logs, nil
		}
	}
	return nil, nil, nil
}

// bookkeep runs fn on a context that outlives the request, and logs its
// failure.
func (r *Regulator) bookkeep(ctx context.Context, fn func(context.Context) error) {
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	if err := fn(bctx); err != nil {
		r.counterError(ctx, err)
	}
}

// counterError counts a failure of the counters and logs it, at most once
// a second so an outage under load does not flood the log.
func (r *Regulator) counterError(ctx context.Context, err error) {
	r.counterErrors.Add(1)
	now := time.Now().UnixNano()
	r.countersDownUntil.Store(now + int64(countersRetry))
	last := r.lastErrLog.Load()
	if now-last < int64(time.Second) || !r.lastErrLog.CompareAndSwap(last, now) {
		return
	}
	r.cfg.Logger.WarnContext(ctx, "failed-login counters unavailable; failing open",
		"fallback", r.cfg.Fallback != nil, "errors", r.counterErrors.Load(), "error", err)
}

// pairWait is how long the pair must still wait, given its log before this
// attempt: until the PairMaxFailures-th newest failure leaves the window.
func (r *Regulator) pairWait(now time.Time, l Log) time.Duration {
	if l.Count < r.cfg.PairMaxFailures || l.Nth.IsZero() {
		return 0
	}
	return max(0, l.Nth.Add(r.cfg.PairWindow).Sub(now))
}

// accountWait is how long the login is still locked, given its log before
// this attempt: Lockout(count) after its newest failure.
func (r *Regulator) accountWait(now time.Time, l Log) time.Duration {
	if l.Count < r.cfg.AccountMaxFailures || l.Nth.IsZero() {
		return 0
	}
	return max(0, l.Nth.Add(r.Lockout(l.Count)).Sub(now))
}

// Lockout returns how long a login with failures failures in the window is
// locked after the newest: 0 below AccountMaxFailures, then FirstLockout
// doubling with each further failure, capped at MaxLockout.
func (r *Regulator) Lockout(failures int) time.Duration {
	if r.cfg.AccountMaxFailures <= 0 || failures < r.cfg.AccountMaxFailures {
		return 0
	}
	d := r.cfg.FirstLockout
	for i := r.cfg.AccountMaxFailures; i < failures && d < r.cfg.MaxLockout; i++ {
		d *= 2
	}
	return min(d, r.cfg.MaxLockout)
}

// keys returns the log keys of an attempt. Both carry a hash of the
// namespace and folded login, in braces: a Redis Cluster hash tag, so the
// two logs of a login live in one slot.
func (r *Regulator) keys(login, ip string) (pair, account Key) {
	h := sha256.Sum256([]byte(r.cfg.Namespace + "\x00" + identity.FoldKey(login)))
	tag := "{" + hex.EncodeToString(h[:16]) + "}"
	pair = Key{Name: tag + ":p:" + network(ip), Window: r.cfg.PairWindow, Nth: r.cfg.PairMaxFailures}
	account = Key{Name: tag + ":a", Window: r.cfg.AccountWindow, Nth: 1}
	return pair, account
}

// network is what the pair limit counts a client IP under: the IPv4
// address (IPv4-mapped IPv6 included), the IPv6 /64, "unknown" without an
// address, and a hash of anything that is not an address.
func network(ip string) string {
	if ip == "" {
		return "unknown"
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		h := sha256.Sum256([]byte(ip))
		return "x" + hex.EncodeToString(h[:8])
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
