package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/ids"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

// Dialect names, as returned by DB.Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// dialect holds everything that differs between the two databases, apart
// from the migration files.
type dialect struct {
	name   string
	driver string
	// forUpdate and forShare are appended to a SELECT that must lock the
	// rows it reads until the transaction ends. SQLite needs none: its write
	// transactions hold the database's single write lock from BEGIN
	// IMMEDIATE on.
	forUpdate string
	forShare  string
	// readTx are the options of a transaction that only reads but needs one
	// snapshot across its statements (a count and a page).
	readTx sql.TxOptions
	// cacheStmts keeps prepared statements of the constant queries: SQLite
	// spends more time preparing a point lookup than running it. (pgx keeps
	// its own per-connection statement cache.)
	cacheStmts bool
	// migrationLock, when not empty, is run at the start of every migration
	// transaction to keep concurrent processes from migrating at once.
	migrationLock string
}

var (
	sqliteDialect = dialect{
		name:   DialectSQLite,
		driver: "sqlite",
		// ReadOnly makes the driver issue a plain (deferred) BEGIN instead of
		// the BEGIN IMMEDIATE the DSN asks for, so readers take no write lock.
		readTx:     sql.TxOptions{ReadOnly: true},
		cacheStmts: true,
	}
	postgresDialect = dialect{
		name:          DialectPostgres,
		driver:        "pgx",
		forUpdate:     " FOR UPDATE",
		forShare:      " FOR SHARE",
		readTx:        sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
		migrationLock: "SELECT pg_advisory_xact_lock(7451801296417342521)", // any constant, unique to Gatehouse
	}
)

// DB is an open Gatehouse database: a pool of connections shared by every
// application it holds. It is safe for concurrent use.
type DB struct {
	sql *sql.DB
	d   dialect
	// wsem serializes write transactions within the process (SQLite only;
	// nil for PostgreSQL). SQLite has a single writer anyway: queuing here,
	// where a context can cancel the wait, beats sleeping in its busy handler.
	wsem chan struct{}
	// busyTimeout bounds the wait for another process's SQLite write lock.
	busyTimeout time.Duration

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt // by query text, when d.cacheStmts
}

// Option configures Open.
type Option func(*config)

type config struct {
	maxOpenConns int
	busyTimeout  time.Duration
}

// WithMaxOpenConns bounds the connection pool. The defaults are 10 for
// PostgreSQL, 8 for a SQLite file (readers run in parallel, writers take
// turns) and 1 for an in-memory SQLite database, which must keep its single
// connection to keep its data.
func WithMaxOpenConns(n int) Option { return func(c *config) { c.maxOpenConns = n } }

// WithBusyTimeout sets how long a SQLite statement waits for a lock held by
// another process before failing with identity.ErrUnavailable. Default 5 s.
// It has no effect on PostgreSQL.
func WithBusyTimeout(d time.Duration) Option { return func(c *config) { c.busyTimeout = d } }

// Open opens the database named by dsn and applies pending migrations. A
// dsn starting with postgres:// or postgresql:// is a PostgreSQL connection
// string (as pgx understands it); anything else is a SQLite file path or
// file: URI, ":memory:" included (a private in-memory database, for tests).
//
// Open pings the database first: if it cannot be reached, the error matches
// identity.ErrUnavailable.
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	cfg := config{busyTimeout: 5 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	db := &DB{busyTimeout: cfg.busyTimeout}
	var driverDSN string
	memory := false
	if isPostgres(dsn) {
		db.d = postgresDialect
		driverDSN = dsn
		if cfg.maxOpenConns == 0 {
			cfg.maxOpenConns = 10
		}
	} else {
		db.d = sqliteDialect
		var err error
		if driverDSN, err = sqliteDSN(dsn, cfg.busyTimeout); err != nil {
			return nil, err
		}
		memory = isMemory(dsn)
		if memory {
			cfg.maxOpenConns = 1
		} else if cfg.maxOpenConns == 0 {
			cfg.maxOpenConns = 8
		}
		db.wsem = make(chan struct{}, 1)
	}
	sdb, err := sql.Open(db.d.driver, driverDSN)
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", db.d.name, err)
	}
	db.sql = sdb
	sdb.SetMaxOpenConns(cfg.maxOpenConns)
	sdb.SetMaxIdleConns(cfg.maxOpenConns)
	if memory {
		// Closing the only connection would drop the database.
		sdb.SetConnMaxLifetime(0)
		sdb.SetConnMaxIdleTime(0)
	} else {
		sdb.SetConnMaxIdleTime(5 * time.Minute)
	}
	if err := db.pingOpen(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("open %s database: %w", db.d.name, err)
	}
	if err := db.migrate(ctx); err != nil {
		sdb.Close()
		return nil, err
	}
	return db, nil
}

func isPostgres(dsn string) bool {
	l := strings.ToLower(dsn)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

func isMemory(dsn string) bool {
	path, query, _ := strings.Cut(dsn, "?")
	return path == ":memory:" || path == "file::memory:" || path == "" ||
		strings.Contains(query, "mode=memory")
}

// sqlitePragmas are set on every connection, in this order: the busy
// timeout first, so that switching to WAL waits for other processes.
var sqlitePragmas = []struct{ name, value string }{
	{"busy_timeout", ""}, // value from the configuration
	{"foreign_keys", "1"},
	{"journal_mode", "WAL"},
	{"synchronous", "NORMAL"},
}

// sqliteDSN adds the connection settings to a SQLite path or URI, through
// the driver's _pragma and _txlock parameters, so that every connection the
// pool opens gets them. Settings already in dsn are kept.
func sqliteDSN(dsn string, busy time.Duration) (string, error) {
	_, rawQuery, _ := strings.Cut(dsn, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", fmt.Errorf("sqlite dsn: %w", err)
	}
	has := func(name string) bool {
		for _, p := range q["_pragma"] {
			if strings.HasPrefix(strings.ToLower(strings.TrimSpace(p)), name) {
				return true
			}
		}
		return q.Has("_" + name)
	}
	var add []string
	for _, p := range sqlitePragmas {
		if has(p.name) {
			continue
		}
		v := p.value
		if p.name == "busy_timeout" {
			v = fmt.Sprint(busy.Milliseconds())
		}
		add = append(add, "_pragma="+url.QueryEscape(p.name+"("+v+")"))
	}
	if !q.Has("_txlock") {
		add = append(add, "_txlock=immediate")
	}
	if len(add) == 0 {
		return dsn, nil
	}
	switch {
	case !strings.Contains(dsn, "?"):
		dsn += "?"
	case !strings.HasSuffix(dsn, "?") && !strings.HasSuffix(dsn, "&"):
		dsn += "&"
	}
	return dsn + strings.Join(add, "&"), nil
}

// Dialect returns DialectSQLite or DialectPostgres.
func (db *DB) Dialect() string { return db.d.name }

// Close closes the connection pool.
func (db *DB) Close() error {
	db.stmtMu.Lock()
	for q, st := range db.stmts {
		st.Close()
		delete(db.stmts, q)
	}
	db.stmtMu.Unlock()
	return db.sql.Close()
}

// queryRow runs a single-row query outside a transaction, through a cached
// prepared statement where the dialect benefits from one. query must be a
// constant (the cache is keyed by its text).
func (db *DB) queryRow(ctx context.Context, query string, args ...any) scanner {
	if !db.d.cacheStmts {
		return db.sql.QueryRowContext(ctx, query, args...)
	}
	st, err := db.stmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// queryRows is queryRow for a query returning rows.
func (db *DB) queryRows(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if !db.d.cacheStmts {
		return db.sql.QueryContext(ctx, query, args...)
	}
	st, err := db.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (db *DB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	if st, ok := db.stmts[query]; ok {
		return st, nil
	}
	st, err := db.sql.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if db.stmts == nil {
		db.stmts = map[string]*sql.Stmt{}
	}
	db.stmts[query] = st
	return st, nil
}

// errRow is a row whose Scan fails with err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// Ping checks that the database can be reached; when it cannot, the error
// matches identity.ErrUnavailable.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.sql.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", classify(ctx, err))
	}
	return nil
}

// pingOpen is Ping for Open. A new SQLite connection runs the pragmas, and
// switching a fresh file to WAL needs an exclusive lock. When several
// connections do that at once (processes starting together), SQLite fails
// all but one with SQLITE_BUSY at once instead of calling the busy handler,
// because waiting could deadlock. Those are retried here, for as long as the
// busy timeout allows; by then the file is in WAL and the pragma is a no-op.
func (db *DB) pingOpen(ctx context.Context) error {
	deadline := time.Now().Add(db.busyTimeout)
	wait := time.Millisecond
	for {
		err := db.sql.PingContext(ctx)
		if err == nil {
			return nil
		}
		if !isBusy(err) || time.Now().After(deadline) {
			return fmt.Errorf("ping: %w", classify(ctx, err))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ping: %w", classify(ctx, ctx.Err()))
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// Application is one tenant of the database: a named set of accounts, keys,
// groups and signing keys.
type Application struct {
	// ID is the opaque id that scopes the application's records.
	ID string
	// Name is the unique name callers know the application by; it is the
	// audience of the application's tokens.
	Name string
	// CreatedAt is when the application was created, in UTC.
	CreatedAt time.Time
}

// Application returns the application called name. With create, it is
// created if missing (safely when several processes do so at once);
// without, a missing application is identity.NotFound("application").
func (db *DB) Application(ctx context.Context, name string, create bool) (*Application, error) {
	if name == "" {
		return nil, identity.Invalid("application", "The application name is required.")
	}
	if create {
		err := db.write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx,
				`INSERT INTO applications (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
				ids.New(), name, ms(time.Now()))
			return err
		})
		if err != nil {
			return nil, fail(ctx, "create application", err)
		}
	}
	a, err := scanApplication(db.sql.QueryRowContext(ctx,
		`SELECT `+applicationCols+` FROM applications WHERE name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, identity.NotFound("application")
	}
	if err != nil {
		return nil, fail(ctx, "find application", err)
	}
	return a, nil
}

// applicationCols are the columns scanApplication reads, in its order.
const applicationCols = `id, name, created_at`

func scanApplication(s scanner) (*Application, error) {
	var (
		a       Application
		created int64
	)
	if err := s.Scan(&a.ID, &a.Name, &created); err != nil {
		return nil, err
	}
	a.CreatedAt = fromMS(created)
	return &a, nil
}

// Applications returns every application, ordered by name.
func (db *DB) Applications(ctx context.Context) ([]*Application, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+applicationCols+` FROM applications ORDER BY name`)
	if err != nil {
		return nil, fail(ctx, "list applications", err)
	}
	out, err := scanAll(rows, scanApplication)
	if err != nil {
		return nil, fail(ctx, "list applications", err)
	}
	return out, nil
}

// DeleteApplication removes the application called name and every record
// it holds. A missing application is identity.NotFound("application").
func (db *DB) DeleteApplication(ctx context.Context, name string) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		var id string
		err := tx.QueryRowContext(ctx, `SELECT id FROM applications WHERE name = $1`+db.d.forUpdate, name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return identity.NotFound("application")
		}
		if err != nil {
			return err
		}
		// Children first: the foreign keys cascade too, but explicit deletes
		// do not depend on them being enforced.
		for _, q := range []string{
			`DELETE FROM memberships WHERE group_id IN (SELECT id FROM groups WHERE app_id = $1)`,
			`DELETE FROM custom_data WHERE account_id IN (SELECT id FROM accounts WHERE app_id = $1)`,
			`DELETE FROM api_keys WHERE app_id = $1`,
			`DELETE FROM account_logins WHERE app_id = $1`,
			`DELETE FROM accounts WHERE app_id = $1`,
			`DELETE FROM groups WHERE app_id = $1`,
			`DELETE FROM revoked_tokens WHERE app_id = $1`,
			`DELETE FROM signing_keys WHERE app_id = $1`,
			`DELETE FROM admin_keys WHERE app_id = $1`,
			`DELETE FROM idempotency_keys WHERE app_id = $1`,
			`DELETE FROM applications WHERE id = $1`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
	return fail(ctx, "delete application", err)
}

// Backend returns the store.Backend of the application with id appID (an
// Application's ID, not its name).
func (db *DB) Backend(appID string) store.Backend { return &backend{db: db, app: appID} }

// Provider returns an identity provider for the application called name,
// creating the application if needed. opts.Application defaults to name.
func (db *DB) Provider(ctx context.Context, name string, opts store.Options) (*store.Provider, error) {
	app, err := db.Application(ctx, name, true)
	if err != nil {
		return nil, err
	}
	if opts.Application == "" {
		opts.Application = name
	}
	return store.New(db.Backend(app.ID), opts), nil
}

// PurgeRevokedTokens deletes, in every application, the revocations of
// tokens that expired before before (they are dead anyway) and returns how
// many it deleted. Run it from time to time; nothing else removes them.
func (db *DB) PurgeRevokedTokens(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM revoked_tokens WHERE expires_at <= $1`, ms(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fail(ctx, "purge revoked tokens", err)
	}
	return n, nil
}

// write runs fn in a write transaction and commits it if fn returns nil.
// In SQLite the transaction begins IMMEDIATE (from the DSN) and write
// transactions of this process take turns.
func (db *DB) write(ctx context.Context, fn func(*sql.Tx) error) error {
	if db.wsem == nil {
		return db.inTx(ctx, nil, fn)
	}
	select {
	case db.wsem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-db.wsem }()
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	tx, err := db.beginImmediate(ctx, conn)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return commit(tx, fn(tx))
}

// beginImmediate begins a SQLite write transaction on conn, waiting for
// another process's write lock for at most the busy timeout. SQLite's own
// busy handler ignores interruptions, so the wait happens here, where the
// context can end it: the connection's busy timeout is off while beginning
// and restored inside the transaction.
func (db *DB) beginImmediate(ctx context.Context, conn *sql.Conn) (*sql.Tx, error) {
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(db.busyTimeout)
	wait := time.Millisecond
	for {
		tx, err := conn.BeginTx(ctx, nil)
		if err == nil {
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", db.busyTimeout.Milliseconds())); err != nil {
				_ = tx.Rollback()
				return nil, err
			}
			return tx, nil
		}
		if !isBusy(err) || time.Now().After(deadline) {
			_, _ = conn.ExecContext(context.Background(), fmt.Sprintf("PRAGMA busy_timeout = %d", db.busyTimeout.Milliseconds()))
			return nil, err
		}
		select {
		case <-ctx.Done():
			_, _ = conn.ExecContext(context.Background(), fmt.Sprintf("PRAGMA busy_timeout = %d", db.busyTimeout.Milliseconds()))
			return nil, ctx.Err()
		case <-time.After(min(wait, time.Until(deadline)+time.Millisecond)):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// read runs fn in a read-only transaction that sees one snapshot.
func (db *DB) read(ctx context.Context, fn func(*sql.Tx) error) error {
	opts := db.d.readTx
	return db.inTx(ctx, &opts, fn)
}

func (db *DB) inTx(ctx context.Context, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	tx, err := db.sql.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return commit(tx, fn(tx))
}

// commit commits tx if err (what the transaction's work returned) is nil,
// and rolls it back otherwise.
func commit(tx *sql.Tx, err error) error {
	if err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// ms converts a time to the stored form, unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// fromMS converts a stored time back, in UTC.
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }
