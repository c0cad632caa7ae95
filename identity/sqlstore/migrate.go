package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// migration is one versioned schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the migrations of a dialect in version order. Files
// are named NNNN_description.sql.
func migrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s: name is not NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s have the same version", out[i-1].name, out[i].name)
		}
	}
	return out, nil
}

// migrate applies the migrations the database lacks, each in its own
// transaction, serialized against other processes.
func (db *DB) migrate(ctx context.Context) error {
	all, err := migrations(db.d.name)
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	latest := all[len(all)-1].version
	for _, m := range all {
		err := db.write(ctx, func(tx *sql.Tx) error {
			if db.d.migrationLock != "" {
				if _, err := tx.ExecContext(ctx, db.d.migrationLock); err != nil {
					return fmt.Errorf("lock: %w", err)
				}
			}
			if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
				version    BIGINT NOT NULL PRIMARY KEY,
				applied_at BIGINT NOT NULL
			)`); err != nil {
				return fmt.Errorf("create schema_migrations: %w", err)
			}
			var newest sql.NullInt64
			if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&newest); err != nil {
				return err
			}
			if newest.Valid && int(newest.Int64) > latest {
				return errTooNew{have: int(newest.Int64), want: latest}
			}
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM schema_migrations WHERE version = $1`, m.version).Scan(&one)
			if err == nil {
				return nil // applied already
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("apply: %w", err)
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
				m.version, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			var tooNew errTooNew
			if errors.As(err, &tooNew) {
				return err
			}
			return fmt.Errorf("migration %s: %w", m.name, classify(ctx, err))
		}
	}
	return nil
}

// errTooNew refuses a database migrated by a newer Gatehouse, whose schema
// this build does not know.
type errTooNew struct{ have, want int }

func (e errTooNew) Error() string {
	return fmt.Sprintf("database schema version %d is newer than this build supports (%d)", e.have, e.want)
}
