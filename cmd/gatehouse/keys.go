package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/seal"
	"github.com/gatehouse-id/gatehouse/identity/sqlstore"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

// Statuses of a signing key, as keys list shows them.
const (
	keyCurrent   = "current"   // signs new tokens
	keyPublished = "published" // in the JWKS until retire_at, for tokens it signed
	keyRetired   = "retired"   // out of the JWKS
)

// directoryDBFlags adds the flags every command working on the directory's
// database directly takes: --application and --database.
func directoryDBFlags(cmd *cobra.Command) {
	cmd.Flags().String("application", "", "the application's name (overrides the application key)")
	cmd.Flags().String("database", "", "the SQL database: a SQLite path or a postgres:// DSN (overrides directory.database; give identity.local.database for an API server with the local provider)")
}

// dirApp is the application a directory command works on, in its open
// database.
type dirApp struct {
	cfg *Config
	db  *sqlstore.DB
	app *sqlstore.Application
}

// withDirectoryApp loads the configuration with the command's --application
// and --database, opens the database and finds the application (without
// creating it: a misspelt name must not make a new one), runs fn and closes
// the database.
func (a *app) withDirectoryApp(cmd *cobra.Command, fn func(ctx context.Context, d dirApp) error) error {
	return a.withDirectoryDB(cmd, func(ctx context.Context, cfg *Config, db *sqlstore.DB) error {
		app, err := db.Application(ctx, cfg.Application, false)
		if errors.Is(err, identity.ErrNotFound) {
			return &cliError{err: err, msg: fmt.Sprintf("application %q does not exist in %s; bootstrap creates it (not_found)",
				cfg.Application, redactDSN(cfg.Directory.Database))}
		}
		if err != nil {
			return fmt.Errorf("application %q in %s: %w", cfg.Application, redactDSN(cfg.Directory.Database), describe(err))
		}
		return fn(ctx, dirApp{cfg: cfg, db: db, app: app})
	})
}

// withDirectoryDB loads the configuration with the command's --application
// and --database, opens the database, runs fn and closes the database.
//
// The flags are bound here, when the command runs, not when it is built:
// viper keeps one flag per key, and directory bootstrap binds its own
// --application to the same key.
func (a *app) withDirectoryDB(cmd *cobra.Command, fn func(ctx context.Context, cfg *Config, db *sqlstore.DB) error) (err error) {
	if cmd.Flags().Lookup("application") != nil {
		a.bind("application", cmd.Flags(), "application")
	}
	a.bind("directory.database", cmd.Flags(), "database")
	cfg, _, err := a.load(cmd)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	db, err := openDirectoryDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close directory.database: %w", cerr))
		}
	}()
	return describe(fn(ctx, cfg, db))
}

func (a *app) directoryKeysCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "List, rotate and reseal the keys that sign an application's access tokens",
		Long: `The keys that sign an application's access tokens, in the directory's
database (directory.database, or --database). Verifiers (API servers, and
anyone reading the application's JWKS) accept a token while the key that
signed it is published.

These commands work on the database directly, like bootstrap: run them
where it can be reached. For an API server with the local provider, give
its database: --database "$GATEHOUSE_IDENTITY_LOCAL_DATABASE".

With encryption.key set, the keys' private parts are encrypted in the
database; reseal encrypts those stored before.`,
	}
	cmd.AddCommand(a.keysListCommand(), a.keysRotateCommand(), a.keysResealCommand())
	return cmd
}

// applicationProvider is the store provider of one application of db, as the
// directory serves it: opts with the application's name.
func applicationProvider(db *sqlstore.DB, app *sqlstore.Application, opts store.Options) *store.Provider {
	opts.Application = app.Name
	return store.New(db.Backend(app.ID), opts)
}

// checkSigningKeys loads p's signing keys, so that one encrypted with a key
// this process does not have (encryption.key unset or different) stops
// start-up with a configuration error rather than failing token requests.
// where names the database's configuration key.
func checkSigningKeys(ctx context.Context, p *store.Provider, where string) error {
	err := p.CheckSigningKeys(ctx)
	if seal.CannotOpen(err) {
		return usagef("config: encryption.key: cannot decrypt the token signing keys in %s: %w", where, err)
	}
	if err != nil {
		return fmt.Errorf("%s: signing keys: %w", where, err)
	}
	return nil
}

// resealView is what keys reseal prints.
type resealView struct {
	Applications int `json:"applications"`
	store.ResealResult
}

func (a *app) keysResealCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "reseal [--database DSN]",
		Short: "Encrypt every signing key of the database with encryption.key",
		Long: `Encrypt the private part of every signing key in the database, of every
application, retired keys included, with encryption.key: the keys stored in
the clear before encryption.key was set, and those encrypted with one of
encryption.previous_keys. Keys already encrypted with encryption.key are
left as they are, so running it again, or on two hosts at once, is harmless.
Retiring keys that no configured key decrypts (a lost key) are counted as
unreadable and left; they are no longer published.

To start encrypting: set encryption.key on every process that opens the
database, restart them, then run reseal. To change the key: make the old
one the only entry of encryption.previous_keys and the new one
encryption.key everywhere, restart, run reseal, then remove the previous
key. A process without the key that encrypted a signing key cannot load it.

JSON: {"applications", "resealed", "unchanged", "unreadable"}.`,
		Example: `  GATEHOUSE_ENCRYPTION_KEY="$(cat /run/secrets/gatehouse-encryption-key)" gatehouse directory keys reseal
  gatehouse directory keys reseal --database gatehouse.db   # the local provider's store`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withDirectoryDB(cmd, func(ctx context.Context, cfg *Config, db *sqlstore.DB) error {
				if cfg.Encryption.Key == "" {
					return usagef("encryption.key is not set: there is nothing to encrypt with (GATEHOUSE_ENCRYPTION_KEY)")
				}
				apps, err := db.Applications(ctx)
				if err != nil {
					return err
				}
				v := resealView{Applications: len(apps)}
				opts := storeOptions(cfg, nil) // one Sealer for every application
				for _, app := range apps {
					r, err := applicationProvider(db, app, opts).ResealSigningKeys(ctx)
					v.Resealed += r.Resealed
					v.Unchanged += r.Unchanged
					v.Unreadable += r.Unreadable
					if seal.CannotOpen(err) {
						return usagef("application %q: %w; is the key that encrypted it in encryption.previous_keys? (%d keys resealed before this)", app.Name, err, v.Resealed)
					}
					if err != nil {
						return fmt.Errorf("application %q: %w (%d keys resealed before this)", app.Name, err, v.Resealed)
					}
				}
				if a.output == outputJSON {
					return a.printJSON(v)
				}
				return a.fields(
					[2]string{"Applications", strconv.Itoa(v.Applications)},
					[2]string{"Resealed", strconv.Itoa(v.Resealed)},
					[2]string{"Unchanged", strconv.Itoa(v.Unchanged)},
					[2]string{"Unreadable", strconv.Itoa(v.Unreadable)},
				)
			})
		},
	}
	cmd.Flags().String("database", "", "the SQL database: a SQLite path or a postgres:// DSN (overrides directory.database; give identity.local.database for an API server with the local provider)")
	return cmd
}

// signingKeyView is a signing key as keys list prints it.
type signingKeyView struct {
	KID       string     `json:"kid"`
	Status    string     `json:"status"`
	CreatedAt time.Time  `json:"created_at"`
	RetireAt  *time.Time `json:"retire_at"` // null while current
}

func signingKeyViews(keys []sqlstore.SigningKeyInfo, now time.Time) []signingKeyView {
	out := make([]signingKeyView, 0, len(keys))
	for _, k := range keys {
		v := signingKeyView{KID: k.ID, Status: keyCurrent, CreatedAt: k.CreatedAt.UTC()}
		if !k.RetireAt.IsZero() {
			r := k.RetireAt.UTC()
			v.RetireAt = &r
			v.Status = keyPublished
			if !r.After(now) {
				v.Status = keyRetired
			}
		}
		out = append(out, v)
	}
	return out
}

func (a *app) keysListCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list [--application NAME] [--database DSN]",
		Short: "List an application's signing keys, newest first",
		Long: `List an application's token-signing keys, newest first, with their
status: current (signs new tokens), published (no longer signs, but stays in
the JWKS until its retire time so that the tokens it signed verify) or
retired (out of the JWKS). An application that has issued no token yet has
no key.

JSON: {"application", "items": [{"kid", "status", "created_at", "retire_at"}]},
retire_at null for the current key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withDirectoryApp(cmd, func(ctx context.Context, d dirApp) error {
				keys, err := d.db.SigningKeyHistory(ctx, d.app.ID)
				if err != nil {
					return err
				}
				views := signingKeyViews(keys, time.Now())
				if a.output == outputJSON {
					return a.printJSON(map[string]any{"application": d.app.Name, "items": views})
				}
				rows := [][]string{{"KID", "STATUS", "CREATED", "RETIRES"}}
				for _, v := range views {
					retire := ""
					if v.RetireAt != nil {
						retire = timestamp(*v.RetireAt)
					}
					rows = append(rows, []string{v.KID, v.Status, timestamp(v.CreatedAt), retire})
				}
				return a.table(rows)
			})
		},
	}
	directoryDBFlags(cmd)
	return cmd
}

func (a *app) keysRotateCommand() *cobra.Command {
	var overlap time.Duration
	cmd := &cobra.Command{
		Use:   "rotate [--application NAME] [--database DSN] [--overlap DURATION]",
		Short: "Make a new signing key; the current one stays published for the overlap",
		Long: `Make a new key that signs the application's tokens from now on. The
current key stops signing but stays published in the JWKS for the overlap,
so that every token it signed keeps verifying until it expires.

The overlap defaults to the longest lifetime a token can be issued with
(24h); --overlap may make it longer (for verifiers that refresh their key
sets rarely), never shorter. Directories and API servers sharing the
database pick the new key up within 30 s, and the old key stays published
that much longer as well.

JSON: {"application", "kid", "previous_kid", "previous_retire_at"}, the
previous fields null when the application had no key.`,
		Example: `  gatehouse directory keys rotate --application myapp
  gatehouse directory keys rotate --application myapp --overlap 72h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withDirectoryApp(cmd, func(ctx context.Context, d dirApp) error {
				p := applicationProvider(d.db, d.app, storeOptions(d.cfg, nil))
				if !cmd.Flags().Changed("overlap") {
					overlap = p.MaxTokenTTL()
				}
				if overlap < p.MaxTokenTTL() {
					return usagef("--overlap: %s is shorter than the longest lifetime of a token (%s): tokens the current key signed would stop verifying before they expire", overlap, p.MaxTokenTTL())
				}
				if overlap > store.MaxSigningKeyOverlap {
					return usagef("--overlap: %s is longer than %s", overlap, store.MaxSigningKeyOverlap)
				}
				before, err := d.db.SigningKeyHistory(ctx, d.app.ID)
				if err != nil {
					return err
				}
				kid, err := p.RotateSigningKeyOverlap(ctx, overlap)
				if err != nil {
					return err
				}
				after, err := d.db.SigningKeyHistory(ctx, d.app.ID)
				if err != nil {
					return err
				}
				return a.printRotation(d.app.Name, kid, before, after)
			})
		},
	}
	directoryDBFlags(cmd)
	cmd.Flags().DurationVar(&overlap, "overlap", 0, "how long the current key stays published after the rotation (default and minimum: the longest token lifetime, 24h)")
	return cmd
}

// rotationView is what keys rotate prints.
type rotationView struct {
	Application      string     `json:"application"`
	KID              string     `json:"kid"`
	PreviousKID      *string    `json:"previous_kid"`
	PreviousRetireAt *time.Time `json:"previous_retire_at"`
}

// printRotation shows the new key and until when the one it replaced stays
// published; before and after are the keys around the rotation.
func (a *app) printRotation(app, kid string, before, after []sqlstore.SigningKeyInfo) error {
	v := rotationView{Application: app, KID: kid}
	for _, k := range before {
		if k.RetireAt.IsZero() {
			id := k.ID
			v.PreviousKID = &id
			break
		}
	}
	if v.PreviousKID != nil {
		for _, k := range after {
			if k.ID == *v.PreviousKID && !k.RetireAt.IsZero() {
				r := k.RetireAt.UTC()
				v.PreviousRetireAt = &r
			}
		}
	}
	if a.output == outputJSON {
		return a.printJSON(v)
	}
	pairs := [][2]string{{"Application", app}, {"New key", kid}}
	if v.PreviousKID != nil {
		pairs = append(pairs, [2]string{"Previous key", *v.PreviousKID})
		if v.PreviousRetireAt != nil {
			pairs = append(pairs, [2]string{"Published until", timestamp(*v.PreviousRetireAt)})
		}
	}
	return a.fields(pairs...)
}
