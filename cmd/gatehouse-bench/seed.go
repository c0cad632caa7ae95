package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/apikey"
	"github.com/gatehouse-id/gatehouse/identity/password"
	"github.com/gatehouse-id/gatehouse/identity/sqlstore"
)

const seedUsage = `usage: gatehouse-bench seed -database PATH_OR_DSN [flags]

Bulk-loads accounts with API keys into an application of a Gatehouse
database (a SQLite path or a postgres:// DSN; migrated first), through
sqlstore's BulkCreateAccounts, in batches of one transaction each.

Account i is "<prefix><i>" with email "<prefix><i>@example.com" (i padded
to the width of the count). Every seeded account has the password
"` + benchPassword + `": the argon2id hash (default parameters)
is computed once and shared by all of them, since a KDF run per account would
take hours. Each API key has its own id and random secret; the secret of one
sample key is printed, the others are not kept.

`

// seedOptions say what to seed.
type seedOptions struct {
	accounts       int
	keysPerAccount int
	batch          int
	prefix         string
	// sample is how many seeded accounts to remember (with the secret of
	// their first key), chosen uniformly among all of them.
	sample int
}

func (o seedOptions) check() error {
	switch {
	case o.accounts < 1:
		return errors.New("-accounts must be at least 1")
	case o.keysPerAccount < 0 || o.keysPerAccount > identity.DefaultLimits().APIKeysPerAccount:
		return fmt.Errorf("-keys-per-account must be 0 to %d", identity.DefaultLimits().APIKeysPerAccount)
	case o.batch < 1:
		return errors.New("-batch must be at least 1")
	case o.prefix == "":
		return errors.New("-prefix must not be empty")
	}
	return nil
}

// seededAccount is a seeded account the caller may use: its key's secret
// is known.
type seededAccount struct {
	ID, Username, Email string
	KeyID, KeySecret    string // empty without keys
}

// seedResult is what seeding did.
type seedResult struct {
	Accounts int           `json:"accounts"`
	Keys     int           `json:"keys"`
	Elapsed  time.Duration `json:"-"`
	Seconds  float64       `json:"seconds"`
	PerSec   float64       `json:"accounts_per_s"`
	sample   []seededAccount
}

func runSeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gatehouse-bench seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, seedUsage); fs.PrintDefaults() }
	var (
		o        seedOptions
		database string
		appName  string
	)
	fs.StringVar(&database, "database", "", "SQLite path or postgres:// DSN to seed (required)")
	fs.StringVar(&appName, "application", "bench", "application to seed (created if missing)")
	fs.IntVar(&o.accounts, "accounts", 1000, "accounts to create")
	fs.IntVar(&o.keysPerAccount, "keys-per-account", 1, "API keys per account")
	fs.IntVar(&o.batch, "batch", 50000, "accounts per transaction")
	fs.StringVar(&o.prefix, "prefix", "user", "username prefix")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if database == "" {
		return errors.New("seed: -database is required")
	}
	if err := o.check(); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	o.sample = 1
	db, err := sqlstore.Open(ctx, seedDSN(database))
	if err != nil {
		return err
	}
	defer db.Close()
	app, err := db.Application(ctx, appName, true)
	if err != nil {
		return err
	}
	hash, err := password.NewHasher(password.DefaultParams).Hash(benchPassword)
	if err != nil {
		return err
	}
	res, err := seedAccounts(ctx, db, app.ID, hash, o, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded %d accounts and %d API keys into application %q (%s) in %.1f s (%.0f accounts/s)\n",
		res.Accounts, res.Keys, app.Name, db.Dialect(), res.Seconds, res.PerSec)
	s := res.sample[0]
	fmt.Fprintf(stdout, "every account's password: %s\nsample account: %s (%s, id %s)\n", benchPassword, s.Username, s.Email, s.ID)
	if s.KeyID != "" {
		fmt.Fprintf(stdout, "sample API key: %s:%s\n", s.KeyID, s.KeySecret)
	}
	return nil
}

// seedDSN is the DSN to seed database through: for SQLite, with a page
// cache large enough to hold the indexes of a million accounts, which are
// keyed by random ids and so written all over (the default 2 MB cache makes
// seeding a million accounts twice as slow). PostgreSQL's DSN is unchanged.
func seedDSN(database string) string {
	if isPostgres(database) || strings.Contains(database, "cache_size") {
		return database
	}
	sep := "?"
	if strings.Contains(database, "?") {
		sep = "&"
	}
	return database + sep + "_pragma=cache_size(-524288)"
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// seedAccounts creates o.accounts accounts with o.keysPerAccount keys each
// in the application appID, all with the password hash hash, in batches.
// The next batch is built while the database stores the current one.
// Progress goes to progress about every ten seconds.
func seedAccounts(ctx context.Context, db *sqlstore.DB, appID, hash string, o seedOptions, progress io.Writer) (*seedResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type batch struct {
		first   int
		in      []sqlstore.SeedAccount
		secrets []string // of each account's first key
	}
	width := len(strconv.Itoa(o.accounts - 1))
	batches := make(chan batch, 1)
	go func() {
		defer close(batches)
		for first := 0; first < o.accounts; first += o.batch {
			b := batch{first: first, in: make([]sqlstore.SeedAccount, min(o.batch, o.accounts-first))}
			b.secrets = make([]string, len(b.in))
			for j := range b.in {
				name := fmt.Sprintf("%s%0*d", o.prefix, width, first+j)
				a := sqlstore.SeedAccount{AccountCreate: identity.AccountCreate{
					Username: name, Email: name + "@example.com", GivenName: "Seeded", Surname: name, PasswordHash: hash,
				}}
				for k := range o.keysPerAccount {
					secret := apikey.NewSecret()
					if k == 0 {
						b.secrets[j] = secret
					}
					a.APIKeys = append(a.APIKeys, sqlstore.SeedAPIKey{ID: apikey.NewID(), Name: "seeded", SecretHash: apikey.HashSecret(secret)})
				}
				b.in[j] = a
			}
			select {
			case batches <- b:
			case <-ctx.Done():
				return
			}
		}
	}()

	res := &seedResult{}
	start, lastReport := time.Now(), time.Now()
	// Reservoir sampling: every account has the same chance to be kept.
	seen := 0
	for b := range batches {
		accs, err := db.BulkCreateAccounts(ctx, appID, identity.Limits{}, b.in)
		if err != nil {
			return nil, fmt.Errorf("seed accounts %d to %d: %w", b.first, b.first+len(b.in)-1, err)
		}
		res.Accounts += len(accs)
		for j, a := range accs {
			res.Keys += len(b.in[j].APIKeys)
			s := seededAccount{ID: a.ID, Username: a.Username, Email: a.Email}
			if len(b.in[j].APIKeys) > 0 {
				s.KeyID, s.KeySecret = b.in[j].APIKeys[0].ID, b.secrets[j]
			}
			seen++
			if len(res.sample) < o.sample {
				res.sample = append(res.sample, s)
			} else if r := rand.IntN(seen); r < o.sample {
				res.sample[r] = s
			}
		}
		if time.Since(lastReport) > 10*time.Second {
			lastReport = time.Now()
			fmt.Fprintf(progress, "  %d of %d accounts seeded (%.0f/s)\n", res.Accounts, o.accounts, float64(res.Accounts)/time.Since(start).Seconds())
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.Elapsed = time.Since(start)
	res.Seconds = res.Elapsed.Seconds()
	res.PerSec = float64(res.Accounts) / res.Seconds
	return res, nil
}
