package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/apikey"
)

// This file holds what the directory server (identity/directory) needs
// beyond the per-application Backend: looking applications up by id, the
// admin keys API servers authenticate with, and the stored answers of
// idempotent writes. The directory adapts these methods to its own
// interfaces; this package does not import it.

// ApplicationByID returns the application with id. A missing application
// (or an id that cannot be one) is identity.NotFound("application").
func (db *DB) ApplicationByID(ctx context.Context, id string) (*Application, error) {
	if id == "" || !storable(id) {
		return nil, identity.NotFound("application")
	}
	a, err := scanApplication(db.queryRow(ctx, `SELECT `+applicationCols+` FROM applications WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, identity.NotFound("application")
	}
	if err != nil {
		return nil, fail(ctx, "find application", err)
	}
	return a, nil
}

// AdminKey is an admin API key as listed, without its secret (which is not
// stored anywhere).
type AdminKey struct {
	ID        string
	AppID     string
	Status    identity.Status
	CreatedAt time.Time
}

// CreateAdminKey makes a new admin key for the application with id appID
// and returns its id and secret. The secret is returned here only: the
// database keeps its SHA-256 (apikey.HashSecret). Ids and secrets have the
// shapes of account API keys. A missing application is
// identity.NotFound("application").
func (db *DB) CreateAdminKey(ctx context.Context, appID string) (id, secret string, err error) {
	if appID == "" || !storable(appID) {
		return "", "", identity.NotFound("application")
	}
	id, secret = apikey.NewID(), apikey.NewSecret()
	err = db.write(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM applications WHERE id = $1`+db.d.forShare, appID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return identity.NotFound("application")
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO admin_keys (id, app_id, secret_hash, status, created_at)
			VALUES ($1, $2, $3, $4, $5)`, id, appID, apikey.HashSecret(secret), string(identity.StatusEnabled), ms(time.Now()))
		return err
	})
	if err != nil {
		return "", "", fail(ctx, "create admin key", err)
	}
	return id, secret, nil
}

// dummyAdminHash is compared with the secret of an unknown admin key id, so
// that an unknown id costs the same as a wrong secret.
var dummyAdminHash = apikey.HashSecret("gks_" + "unknownAdminKeyDummySecretNeverIssued00000")

// AuthenticateAdminKey checks an admin key id and secret and returns the id
// of the application the key belongs to. Every failure (unknown id, wrong
// secret, disabled key, malformed input) is identity.ErrInvalidCredentials,
// with the reason kept for logs only; the secret is compared in constant time
// and an unknown id costs a comparison too. An unreachable database is
// identity.ErrUnavailable, never a credentials failure.
func (db *DB) AuthenticateAdminKey(ctx context.Context, id, secret string) (appID string, err error) {
	if !apikey.IsID(id) {
		apikey.Matches(dummyAdminHash, secret)
		return "", identity.InvalidCredentials(identity.ReasonUnknownKey)
	}
	var (
		hash   []byte
		status string
	)
	err = db.queryRow(ctx, `SELECT app_id, secret_hash, status FROM admin_keys WHERE id = $1`, id).
		Scan(&appID, &hash, &status)
	if errors.Is(err, sql.ErrNoRows) {
		apikey.Matches(dummyAdminHash, secret)
		return "", identity.InvalidCredentials(identity.ReasonUnknownKey)
	}
	if err != nil {
		return "", fail(ctx, "authenticate admin key", err)
	}
	if !apikey.Matches(hash, secret) {
		return "", identity.InvalidCredentials(identity.ReasonWrongSecret)
	}
	if identity.Status(status) != identity.StatusEnabled {
		return "", identity.InvalidCredentials(identity.ReasonKeyDisabled)
	}
	return appID, nil
}

// AdminKeys returns the admin keys of the application with id appID, oldest
// first, without secrets.
func (db *DB) AdminKeys(ctx context.Context, appID string) ([]*AdminKey, error) {
	if !storable(appID) {
		return []*AdminKey{}, nil
	}
	rows, err := db.queryRows(ctx, `SELECT id, app_id, status, created_at FROM admin_keys
		WHERE app_id = $1 ORDER BY created_at, id`, appID)
	if err != nil {
		return nil, fail(ctx, "list admin keys", err)
	}
	out, err := scanAll(rows, func(s scanner) (*AdminKey, error) {
		var (
			k       AdminKey
			status  string
			created int64
		)
		err := s.Scan(&k.ID, &k.AppID, &status, &created)
		k.Status, k.CreatedAt = identity.Status(status), fromMS(created)
		return &k, err
	})
	if err != nil {
		return nil, fail(ctx, "list admin keys", err)
	}
	return out, nil
}

// DeleteAdminKey removes an admin key, which stops authenticating at once.
// A missing key is identity.NotFound("admin_key").
func (db *DB) DeleteAdminKey(ctx context.Context, id string) error {
	if !storable(id) {
		return identity.NotFound("admin_key")
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM admin_keys WHERE id = $1`, id)
		return requireRow(res, err, identity.NotFound("admin_key"))
	})
	return fail(ctx, "delete admin key", err)
}

// IdempotencyTTL is how long the answer to an idempotent write is kept. An
// entry older than this counts as absent, and PurgeIdempotent removes it.
const IdempotencyTTL = 24 * time.Hour

// idempotencyLease bounds how long an entry may stay "running". A process
// that dies between BeginIdempotent and Complete/Abandon leaves its entry
// running; past the lease a repeat takes the key over instead of waiting
// for an answer that will never come. Directory writes take milliseconds,
// so the lease is far beyond any real request.
const idempotencyLease = 2 * time.Minute

// idempotencyPoll is how often a repeat checks whether the first request
// with its key has finished.
var idempotencyPoll = 40 * time.Millisecond

// IdempotentResponse is the stored answer to a write sent with an
// Idempotency-Key.
type IdempotentResponse struct {
	Status   int
	Location string
	Body     []byte
}

// idemRow is an idempotency entry as read.
type idemRow struct {
	fingerprint []byte
	status      sql.NullInt64
	location    string
	body        []byte
	created     int64
}

// BeginIdempotent claims key, in the application appID, for a request whose
// fingerprint (a hash of its method, path and body) is fp.
//
//   - If the key is new (or its entry expired), the key is claimed and
//     BeginIdempotent returns (nil, nil): the caller runs the request and
//     then calls CompleteIdempotent or AbandonIdempotent.
//   - If a completed answer is stored for the same fingerprint, it is
//     returned.
//   - If the first request with the key is still running, BeginIdempotent
//     waits, polling, until it completes (its answer is returned) or is
//     abandoned (the key is claimed for this caller), or until ctx ends.
//   - A different fingerprint under the same key is
//     identity.Invalid("Idempotency-Key", …).
func (db *DB) BeginIdempotent(ctx context.Context, appID, key string, fp []byte) (*IdempotentResponse, error) {
	if key == "" || !storable(key) {
		return nil, identity.Invalid("Idempotency-Key", "The idempotency key must be 1 to 255 printable ASCII characters.")
	}
	for {
		// Look first without taking the write lock, so that waiting for a
		// running request only reads.
		row, err := db.readIdempotent(ctx, appID, key)
		if err != nil {
			return nil, err
		}
		if row == nil || db.idemExpired(row) {
			claimed, resp, err := db.claimIdempotent(ctx, appID, key, fp)
			if err != nil || claimed || resp != nil {
				return resp, err
			}
			// Someone else claimed it between the read and the claim: wait
			// for them like for any running request.
		} else {
			resp, running, err := idemAnswer(row, fp)
			if !running {
				return resp, err
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(idempotencyPoll):
		}
	}
}

// idemExpired reports whether an entry counts as absent: past the TTL, or
// running past the lease.
func (db *DB) idemExpired(r *idemRow) bool {
	age := time.Since(fromMS(r.created))
	return age >= IdempotencyTTL || (!r.status.Valid && age >= idempotencyLease)
}

// idemAnswer interprets an existing, live entry for a request with
// fingerprint fp: its stored answer, a mismatch error, or running.
func idemAnswer(r *idemRow, fp []byte) (resp *IdempotentResponse, running bool, err error) {
	if !bytes.Equal(r.fingerprint, fp) {
		return nil, false, identity.Invalid("Idempotency-Key", "The idempotency key was already used for a different request.")
	}
	if !r.status.Valid {
		return nil, true, nil
	}
	body := r.body
	if body == nil {
		body = []byte{}
	}
	return &IdempotentResponse{Status: int(r.status.Int64), Location: r.location, Body: body}, false, nil
}

// selectIdempotent reads the entry of a key; scanIdempotent scans it.
const selectIdempotent = `SELECT fingerprint, status, location, body, created_at FROM idempotency_keys
	WHERE app_id = $1 AND key = $2`

func scanIdempotent(s scanner) (*idemRow, error) {
	var r idemRow
	if err := s.Scan(&r.fingerprint, &r.status, &r.location, &r.body, &r.created); err != nil {
		return nil, err
	}
	return &r, nil
}

func (db *DB) readIdempotent(ctx context.Context, appID, key string) (*idemRow, error) {
	r, err := scanIdempotent(db.queryRow(ctx, selectIdempotent, appID, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fail(ctx, "read idempotency key", err)
	}
	return r, nil
}

// claimIdempotent removes an expired entry for key and inserts a running
// one, in one transaction. If a live entry is there instead, it reports its
// answer, or neither claimed nor an answer when it is running.
func (db *DB) claimIdempotent(ctx context.Context, appID, key string, fp []byte) (claimed bool, resp *IdempotentResponse, err error) {
	now := time.Now()
	err = db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE app_id = $1 AND key = $2
			AND (created_at <= $3 OR (status IS NULL AND created_at <= $4))`,
			appID, key, ms(now.Add(-IdempotencyTTL)), ms(now.Add(-idempotencyLease))); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (app_id, key, fingerprint, created_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT (app_id, key) DO NOTHING`, appID, key, fp, ms(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 1 {
			claimed = true
			return nil
		}
		r, err := scanIdempotent(tx.QueryRowContext(ctx, selectIdempotent, appID, key))
		if err != nil {
			return err
		}
		var aerr error
		resp, _, aerr = idemAnswer(r, fp)
		if aerr != nil {
			return callerError{aerr}
		}
		return nil
	})
	if err != nil {
		if isForeignKeyViolation(err) {
			return false, nil, identity.NotFound("application")
		}
		return false, nil, fail(ctx, "claim idempotency key", err)
	}
	return claimed, resp, nil
}

// CompleteIdempotent stores the answer to the request that claimed key. It
// does nothing if the key is no longer claimed (its entry expired and was
// taken over).
func (db *DB) CompleteIdempotent(ctx context.Context, appID, key string, r IdempotentResponse) error {
	if !storable(key) {
		return nil
	}
	body := r.Body
	if body == nil {
		body = []byte{}
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET status = $1, location = $2, body = $3
			WHERE app_id = $4 AND key = $5 AND status IS NULL`, r.Status, r.Location, body, appID, key)
		return err
	})
	return fail(ctx, "complete idempotency key", err)
}

// AbandonIdempotent releases a claimed key without an answer (after a
// failure worth retrying), so that a repeat runs the request again.
func (db *DB) AbandonIdempotent(ctx context.Context, appID, key string) error {
	if !storable(key) {
		return nil
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE app_id = $1 AND key = $2 AND status IS NULL`, appID, key)
		return err
	})
	return fail(ctx, "abandon idempotency key", err)
}

// PurgeIdempotent deletes, in every application, the idempotency entries
// created before before and returns how many it deleted. Entries older than
// IdempotencyTTL already count as absent; run this from time to time (with
// time.Now().Add(-IdempotencyTTL)) to reclaim their space.
func (db *DB) PurgeIdempotent(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, ms(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fail(ctx, "purge idempotency keys", err)
	}
	return n, nil
}

// isForeignKeyViolation reports whether err is a foreign key constraint
// violation (a row naming an application that does not exist).
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23503"
	}
	var sqlErr *sqlite.Error
	return errors.As(err, &sqlErr) && sqlErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}
