package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-id/gatehouse/identity/directory"
	"github.com/gatehouse-id/gatehouse/identity/password"
	"github.com/gatehouse-id/gatehouse/identity/sqlstore"
	"github.com/gatehouse-id/gatehouse/identity/store"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

const scaleUsage = `usage: gatehouse-bench scale [flags]

Measures what the directory's look-ups cost as its database grows. For each
size, a throwaway database is seeded with that many accounts (as the seed
command does: one shared argon2id hash, API keys with their own ids and
secrets) and served by a directory in-process on loopback. Then each
operation an API server calls runs at every size, one size right after the
other, against accounts drawn at random from all those seeded:

  account by id          GET  /v1/accounts/{id}
  account by username    GET  /v1/applications/{id}/accounts?username=…&limit=1
  account by email       GET  /v1/applications/{id}/accounts?email=…&limit=1
  API key verification   POST /v1/applications/{id}/apiKeyAttempts?expand=account,apiKey

and the cost of an operation (1 / its req/s) at each size is divided by its
cost at the first size measured just before. With -rounds, an operation's
rounds run back to back and every figure is the median across rounds (the
cost ratio the median of the rounds' ratios, not the ratio of the medians).

-database sqlite (the default) seeds one temporary SQLite file per size. A
postgres:// DSN names a server and a database to connect to: one database
gatehouse_bench_<pid>_<size> is created on that server per size and dropped
afterwards.

`

// scaleOp is one operation measured at every size.
type scaleOp struct {
	name string
	// request makes a request for one seeded account; check is a string
	// its answer contains (so a 200 that found nothing is caught).
	request func(t *scaleTarget, a seededAccount) *http.Request
	check   func(a seededAccount) string
}

var scaleOps = []scaleOp{
	{
		name: "account by id",
		request: func(t *scaleTarget, a seededAccount) *http.Request {
			return t.get(wire.AccountPath(a.ID, ""), nil)
		},
		check: func(a seededAccount) string { return a.ID },
	},
	{
		name: "account by username",
		request: func(t *scaleTarget, a seededAccount) *http.Request {
			return t.get(wire.ApplicationPath(t.appID, "accounts"), url.Values{"username": {a.Username}, "limit": {"1"}})
		},
		check: func(a seededAccount) string { return a.ID },
	},
	{
		name: "account by email",
		request: func(t *scaleTarget, a seededAccount) *http.Request {
			return t.get(wire.ApplicationPath(t.appID, "accounts"), url.Values{"email": {a.Email}, "limit": {"1"}})
		},
		check: func(a seededAccount) string { return a.ID },
	},
	{
		name: "API key verification",
		request: func(t *scaleTarget, a seededAccount) *http.Request {
			return attempt(t.url+wire.ApplicationPath(t.appID, "apiKeyAttempts")+"?expand=account,apiKey", t.auth, a.KeyID, a.KeySecret)()
		},
		check: func(a seededAccount) string { return a.KeyID },
	},
}

// ScaleResult is one operation measured at one size.
type ScaleResult struct {
	Operation string  `json:"operation"`
	Accounts  int     `json:"accounts"`
	Requests  int     `json:"requests"`
	Errors    int     `json:"errors"`
	RPS       float64 `json:"rps"`
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
	// CostRatio is the cost of one operation (1/RPS) at this size over its
	// cost at the smallest size, measured in the same round.
	CostRatio float64 `json:"cost_ratio"`
}

// scaleTarget is a seeded database served by a directory.
type scaleTarget struct {
	accounts int
	url      string
	appID    string
	auth     string
	sample   []seededAccount
	seed     *seedResult
	close    func()
}

func (t *scaleTarget) get(path string, q url.Values) *http.Request {
	u := t.url + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", t.auth)
	return req
}

func runScale(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gatehouse-bench scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, scaleUsage); fs.PrintDefaults() }
	var (
		o        options
		so       seedOptions
		database string
		sizeList string
	)
	o.flags(fs)
	fs.StringVar(&database, "database", "sqlite", `"sqlite" (temporary files) or a postgres:// DSN of the server to create throwaway databases on`)
	fs.StringVar(&sizeList, "sizes", "1000,1000000", "comma-separated account counts; the first is the reference")
	fs.IntVar(&so.keysPerAccount, "keys-per-account", 1, "API keys per seeded account")
	fs.IntVar(&so.batch, "batch", 50000, "accounts per seeding transaction")
	fs.IntVar(&so.sample, "sample", 20000, "accounts (chosen at random among those seeded) the requests are spread over")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	so.prefix = "user"
	so.accounts = 1
	if err := so.check(); err != nil {
		return err
	}
	if so.keysPerAccount < 1 {
		return errors.New("scale: -keys-per-account must be at least 1 to verify keys")
	}
	if so.sample < 1 {
		return errors.New("scale: -sample must be at least 1")
	}
	var sizes []int
	for _, s := range strings.Split(sizeList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("scale: -sizes: %q is not a positive count", s)
		}
		sizes = append(sizes, n)
	}
	if database != "sqlite" && !isPostgres(database) {
		return errors.New(`scale: -database must be "sqlite" or a postgres:// DSN`)
	}

	hash, err := password.NewHasher(password.DefaultParams).Hash(benchPassword)
	if err != nil {
		return err
	}
	var targets []*scaleTarget
	defer func() {
		for _, t := range targets {
			t.close()
		}
	}()
	for _, n := range sizes {
		so.accounts = n
		fmt.Fprintf(stderr, "seeding %d accounts (%d API keys each)...\n", n, so.keysPerAccount)
		t, err := newScaleTarget(ctx, database, so, hash)
		if err != nil {
			return err
		}
		targets = append(targets, t)
		fmt.Fprintf(stderr, "  seeded in %.1f s (%.0f accounts/s)\n", t.seed.Seconds, t.seed.PerSec)
	}

	client := newClient(o.concurrency)
	for _, t := range targets {
		if err := checkOps(ctx, client, t); err != nil {
			return err
		}
	}
	// The sizes of an operation are measured one right after the other, and
	// its rounds follow at once: on a shared machine the capacity drifts
	// within seconds, and only measurements this close compare.
	var results []ScaleResult
	for _, op := range scaleOps {
		if !selected(o.only, op.name) {
			continue
		}
		var rounds [][]ScaleResult
		for round := range o.rounds {
			var ref float64
			var bySize []ScaleResult
			for i, t := range targets {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				fmt.Fprintf(stderr, "running %s at %d accounts (round %d of %d)...\n", op.name, t.accounts, round+1, o.rounds)
				s := Scenario{Name: op.name, Want: http.StatusOK, New: func() *http.Request {
					return op.request(t, t.sample[rand.IntN(len(t.sample))])
				}}
				if o.warmup > 0 {
					run(ctx, client, s, o.concurrency, o.warmup)
				}
				r := run(ctx, client, s, o.concurrency, o.duration)
				time.Sleep(settle)
				sr := ScaleResult{Operation: op.name, Accounts: t.accounts, Requests: r.Requests, Errors: r.Errors, RPS: r.RPS, P50: r.P50, P99: r.P99}
				if i == 0 {
					ref = r.RPS
				}
				if r.RPS > 0 {
					sr.CostRatio = ref / r.RPS
				}
				bySize = append(bySize, sr)
			}
			rounds = append(rounds, bySize)
		}
		results = append(results, scaleMedians(rounds)...)
	}

	seeding := make([]*seedResult, len(targets))
	for i, t := range targets {
		seeding[i] = t.seed
	}
	dialect := "sqlite"
	if database != "sqlite" {
		dialect = "postgres"
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{
			"database": dialect, "duration": o.duration.String(), "concurrency": o.concurrency,
			"seeding": seeding, "results": results,
		})
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "database: %s, concurrency %d, %s per run\n", dialect, o.concurrency, o.duration)
	for _, s := range seeding {
		fmt.Fprintf(tw, "seeded %d accounts, %d API keys in %.1f s (%.0f accounts/s)\n", s.Accounts, s.Keys, s.Seconds, s.PerSec)
	}
	fmt.Fprintf(tw, "\noperation\taccounts\treq/s\tp50 ms\tp99 ms\tcost vs %d\terrors\n", sizes[0])
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.3f\t%.3f\t%.3f\t%d\n", r.Operation, r.Accounts, r.RPS, r.P50, r.P99, r.CostRatio, r.Errors)
	}
	return tw.Flush()
}

// checkOps sends every operation once, for the first sampled account, and
// fails unless the answer is a 200 naming it.
func checkOps(ctx context.Context, client *http.Client, t *scaleTarget) error {
	a := t.sample[0]
	for _, op := range scaleOps {
		resp, err := client.Do(op.request(t, a).WithContext(ctx))
		if err != nil {
			return fmt.Errorf("%s: %w", op.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(op.check(a))) {
			return fmt.Errorf("%s at %d accounts: %d %s", op.name, t.accounts, resp.StatusCode, body)
		}
	}
	return nil
}

// newScaleTarget creates a database for o.accounts accounts, seeds it and
// serves a directory over it.
func newScaleTarget(ctx context.Context, database string, o seedOptions, hash string) (_ *scaleTarget, err error) {
	var cleanups []func()
	t := &scaleTarget{accounts: o.accounts, close: func() {
		for _, c := range slices.Backward(cleanups) {
			c()
		}
	}}
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	dsn, drop, err := createDatabase(ctx, database, o.accounts)
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, drop)
	seedDB, err := sqlstore.Open(ctx, seedDSN(dsn))
	if err != nil {
		return nil, err
	}
	app, err := seedDB.Application(ctx, "bench", true)
	if err == nil {
		t.seed, err = seedAccounts(ctx, seedDB, app.ID, hash, o, io.Discard)
	}
	seedDB.Close()
	if err != nil {
		return nil, err
	}
	t.sample = t.seed.sample
	if err := analyze(ctx, database, dsn); err != nil {
		return nil, err
	}
	// Served as deployed: with the default settings, not seeding's.
	db, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { db.Close() })
	adminID, adminSecret, err := db.CreateAdminKey(ctx, app.ID)
	if err != nil {
		return nil, err
	}
	hasher := password.NewHasher(password.DefaultParams)
	srv := httptest.NewServer(directory.New(directory.Config{}, directory.SQLTenant(db, store.Options{Hasher: hasher}), nil))
	cleanups = append(cleanups, srv.Close)
	t.url, t.appID, t.auth = srv.URL, app.ID, basic(adminID, adminSecret)
	return t, nil
}

// createDatabase makes an empty database for one size and returns its DSN
// and how to remove it.
func createDatabase(ctx context.Context, database string, size int) (dsn string, drop func(), err error) {
	if database == "sqlite" {
		dir, err := os.MkdirTemp("", "gatehouse-bench-scale-")
		if err != nil {
			return "", nil, err
		}
		return filepath.Join(dir, fmt.Sprintf("scale-%d.db", size)), func() { _ = os.RemoveAll(dir) }, nil
	}
	u, err := url.Parse(database)
	if err != nil {
		return "", nil, fmt.Errorf("-database: %w", err)
	}
	admin, err := sql.Open("pgx", database)
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("gatehouse_bench_%d_%d", os.Getpid(), size)
	// The name is made of digits and a fixed prefix: nothing to quote.
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u.Path = "/" + name
	return u.String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "gatehouse-bench: drop database %s: %v\n", name, err)
		}
		admin.Close()
	}, nil
}

// analyze does after seeding what PostgreSQL's autovacuum does some time
// after a bulk load (planner statistics, visibility map), so that the
// measurement does not depend on when it runs. SQLite needs nothing.
func analyze(ctx context.Context, database, dsn string) error {
	if database == "sqlite" {
		return nil
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM (ANALYZE)"); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	return nil
}

// scaleMedians is medians for scale results: every figure's median across
// rounds, errors summed.
func scaleMedians(rounds [][]ScaleResult) []ScaleResult {
	out := slices.Clone(rounds[len(rounds)/2])
	for i := range out {
		pick := func(f func(ScaleResult) float64) float64 {
			v := make([]float64, len(rounds))
			for r := range rounds {
				v[r] = f(rounds[r][i])
			}
			slices.Sort(v)
			return v[len(v)/2]
		}
		out[i].RPS = pick(func(x ScaleResult) float64 { return x.RPS })
		out[i].P50 = pick(func(x ScaleResult) float64 { return x.P50 })
		out[i].P99 = pick(func(x ScaleResult) float64 { return x.P99 })
		out[i].CostRatio = pick(func(x ScaleResult) float64 { return x.CostRatio })
		errs := 0
		for _, round := range rounds {
			errs += round[i].Errors
		}
		out[i].Errors = errs
	}
	return out
}
