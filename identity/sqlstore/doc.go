// Package sqlstore persists Gatehouse's identity records in SQLite
// (modernc.org/sqlite, pure Go) or PostgreSQL (pgx), through database/sql.
// It implements store.Backend; store.Provider supplies the rules on top.
//
//	db, err := sqlstore.Open(ctx, "gatehouse.db")                           // SQLite
//	db, err := sqlstore.Open(ctx, "postgres://gatehouse@db/gatehouse")      // PostgreSQL
//	p, err := db.Provider(ctx, "my-app", store.Options{})
//
// # Applications
//
// One database holds many applications. Every table carries the id of the
// application a row belongs to (directly, or through the account or group it
// hangs from), and every query of a Backend is scoped by it, so two
// applications may have the same usernames and never see each other's
// records. Record ids (accounts, keys, groups) are random and globally
// unique, which lets child tables reference them by id alone.
//
// # Schema choices
//
// Login namespace: a username and an email share one namespace of login keys
// (store.Backend's contract). The account_logins table holds one row per
// folded login key of an account (one row when the email is empty or folds
// to the username), with primary key (app_id, login_key). Uniqueness is thus
// enforced by the database, atomically, never by check-then-insert; the rows
// are inserted one per statement, in a fixed (sorted) order with ON CONFLICT
// DO NOTHING, so a taken key is reported for the field it came from
// (identity.Conflict("username") before "email", as the in-memory backend
// does) without aborting a PostgreSQL transaction and without lock-order
// deadlocks between concurrent inserts.
//
// Ordering: accounts, API keys and signing keys have a seq column (a rowid
// alias in SQLite, an identity column in PostgreSQL) used only to order rows
// by insertion, which is the order "by creation" the Provider promises
// whatever the clock did. Groups are ordered by their folded name, compared
// bytewise (COLLATE "C" in PostgreSQL, SQLite's default BINARY collation).
//
// Times are stored as BIGINT unix milliseconds, UTC, in both dialects: the
// Provider truncates every time it writes to milliseconds, so values read
// back (time.UnixMilli(v).UTC()) equal the values written. A zero time is
// stored as NULL where it means "none" (a signing key's retire_at).
//
// Custom data is stored as the exact JSON text the Provider produced (TEXT,
// not JSONB, which would reorder keys). Passwords are stored only as the
// hash the Provider computed, API key secrets only as their hash.
//
// # Directory
//
// The directory server (identity/directory) keeps two more things here,
// beside the applications' records: admin API keys (CreateAdminKey,
// AuthenticateAdminKey; only the SHA-256 of each secret is stored, compared
// in constant time), and the answers of writes sent with an Idempotency-Key
// (BeginIdempotent, CompleteIdempotent, AbandonIdempotent,
// PurgeIdempotent). An idempotency entry is claimed with INSERT … ON
// CONFLICT DO NOTHING, so exactly one of several concurrent repeats runs
// the write; the others poll until its answer is stored or the claim is
// released. Entries older than IdempotencyTTL count as absent.
//
// # Migrations
//
// Versioned SQL migrations are embedded in the binary and applied in order
// by Open, each in its own transaction, and recorded in schema_migrations.
// In PostgreSQL each migration transaction first takes a transaction-level
// advisory lock, and in SQLite a write transaction (BEGIN IMMEDIATE), so
// processes opening the same database at once apply each migration exactly
// once. Opening an up-to-date database changes nothing.
//
// # Concurrency
//
// SQLite connections run in WAL mode with a busy timeout, foreign keys on
// and synchronous=NORMAL, set through the DSN so every pooled connection
// gets them. Write transactions start with BEGIN IMMEDIATE (no deadlocking
// lock upgrade) and are serialized within the process, so concurrent
// writers queue instead of spinning on SQLITE_BUSY; readers run in parallel.
// In PostgreSQL, read-modify-write operations lock the row they depend on
// (SELECT … FOR UPDATE), so concurrent updates never lose one another.
//
// # Errors
//
// Domain errors are those of the in-memory backend (identity.NotFound,
// identity.Conflict, identity.LimitExceeded). Database errors are wrapped
// with the operation that failed; a context's cancellation comes through so
// that errors.Is(err, context.Canceled) holds, and an unreachable database
// (refused or dropped connection, server shutting down, SQLite busy beyond
// the timeout) is wrapped as identity.Unavailable.
package sqlstore
