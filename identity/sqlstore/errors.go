package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse-id/gatehouse/identity"
)

// callerError carries an error returned by a caller's update closure out of
// a transaction, so that it is returned exactly as the caller made it.
type callerError struct{ err error }

func (e callerError) Error() string { return e.err.Error() }
func (e callerError) Unwrap() error { return e.err }

// fail turns an error from a transaction or query into what a Backend
// returns: a caller's error and a domain error (NotFound, Conflict, …) as
// they are, like the in-memory backend; anything else classified and
// wrapped with the operation that failed.
func fail(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var ce callerError
	if errors.As(err, &ce) {
		return ce.err
	}
	var de *identity.Error
	if errors.As(err, &de) && de.Code != identity.CodeUnavailable {
		return err
	}
	return fmt.Errorf("%s: %w", op, classify(ctx, err))
}

// classify makes the errors callers act on recognisable: a cancelled or
// expired context comes through (whatever the driver made of it), and a
// database that cannot be reached becomes identity.Unavailable. Any other
// error is returned unchanged: it is an internal error.
func classify(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case ctx.Err() != nil:
		// The driver reported the interruption its own way (SQLite says
		// "interrupted"); keep both.
		return fmt.Errorf("%w: %w", ctx.Err(), err)
	case errors.Is(err, identity.ErrUnavailable):
		return err
	case unreachable(err):
		return identity.Unavailable(err)
	}
	return err
}

// unreachable reports whether err means the database cannot be used right
// now, as opposed to a statement being wrong: a refused, reset or dropped
// connection, a server shutting down or out of connections, or a SQLite
// database locked by another process beyond the busy timeout.
func unreachable(err error) bool {
	var (
		netErr  net.Error
		connErr *pgconn.ConnectError
		pgErr   *pgconn.PgError
		sqlErr  *sqlite.Error
	)
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.As(err, &netErr), errors.As(err, &connErr), pgconn.SafeToRetry(err):
		return true
	case errors.As(err, &pgErr):
		// Class 08: connection exception; 53: insufficient resources (too
		// many connections, out of memory or disk); 57P0x: the server is
		// shutting down or starting up.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "53") ||
			pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	case errors.As(err, &sqlErr):
		switch sqlErr.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL:
			return true
		}
	}
	return false
}

// isUniqueViolation reports whether err is a unique or primary key
// constraint violation.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqlErr *sqlite.Error
	if errors.As(err, &sqlErr) {
		c := sqlErr.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// isBusy reports whether err is SQLite's "database is locked" by another
// connection.
func isBusy(err error) bool {
	var sqlErr *sqlite.Error
	return errors.As(err, &sqlErr) && sqlErr.Code()&0xff == sqlite3.SQLITE_BUSY
}
