package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

// backend is the store.Backend of one application.
type backend struct {
	db  *DB
	app string
}

var _ store.Backend = (*backend)(nil)

// accountCols are the columns scanAccount reads, in its order.
const accountCols = `id, username, username_key, email, email_key, given_name, surname, status,
	password_hash, created_at, modified_at, password_modified_at`

// qualified prefixes every column of a column list with a table alias.
func qualified(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

type scanner interface{ Scan(dest ...any) error }

// storable reports whether s can be a stored text value. PostgreSQL rejects
// text that is not UTF-8 or holds NUL, and the Provider stores no such id,
// key or name, so a lookup of one finds nothing, as in the in-memory
// backend, instead of failing.
func storable(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

func scanAccount(s scanner) (*store.AccountRecord, error) {
	var (
		r                    store.AccountRecord
		status               string
		created, mod, pwdMod int64
	)
	if err := s.Scan(&r.ID, &r.Username, &r.UsernameKey, &r.Email, &r.EmailKey, &r.GivenName, &r.Surname,
		&status, &r.PasswordHash, &created, &mod, &pwdMod); err != nil {
		return nil, err
	}
	r.Status = identity.Status(status)
	r.CreatedAt, r.ModifiedAt, r.PasswordModifiedAt = fromMS(created), fromMS(mod), fromMS(pwdMod)
	return &r, nil
}

// scanAll reads every row of rows with scan, and closes rows.
func scanAll[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// accountInsertCols are the columns of an accounts row, in the order
// accountValues gives their values; accountInsertN counts them.
const (
	accountInsertCols = `id, app_id, username, username_key, email, email_key,
		given_name, given_name_key, surname, surname_key, status, password_hash,
		created_at, modified_at, password_modified_at`
	accountInsertN = 15
)

// accountValues appends the values of the accounts row of a, in
// application app.
func accountValues(args []any, app string, a *store.AccountRecord) []any {
	return append(args, a.ID, app, a.Username, a.UsernameKey, a.Email, a.EmailKey,
		a.GivenName, identity.FoldKey(a.GivenName), a.Surname, identity.FoldKey(a.Surname),
		string(a.Status), a.PasswordHash, ms(a.CreatedAt), ms(a.ModifiedAt), ms(a.PasswordModifiedAt))
}

// InsertAccount implements store.Backend.
func (b *backend) InsertAccount(ctx context.Context, a *store.AccountRecord) error {
	err := b.db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO accounts (`+accountInsertCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			accountValues(make([]any, 0, accountInsertN), b.app, a)...)
		if err != nil {
			return err
		}
		if err := b.claimLogins(ctx, tx, a); err != nil {
			return err
		}
		if len(a.CustomData) == 0 {
			return nil
		}
		// In the same transaction: an account never exists without the
		// custom data it was created with, even if the process dies.
		_, err = tx.ExecContext(ctx, `INSERT INTO custom_data (account_id, data) VALUES ($1, $2)`, a.ID, string(a.CustomData))
		return err
	})
	return fail(ctx, "insert account", err)
}

// loginClaim is a login key an account holds, and the field it comes from.
type loginClaim struct{ key, field string }

// loginClaims returns the login keys of r: its username's, and its email's
// unless it has none or it is the username's.
func loginClaims(r *store.AccountRecord) []loginClaim {
	claims := []loginClaim{{r.UsernameKey, "username"}}
	if r.EmailKey != "" && r.EmailKey != r.UsernameKey {
		claims = append(claims, loginClaim{r.EmailKey, "email"})
	}
	return claims
}

// claimLogins inserts the login keys of r, one statement each, and returns
// identity.Conflict naming the field of a key another account holds
// ("username" first, as the in-memory backend checks it first). Keys are
// inserted in sorted order, so two transactions claiming the same keys wait
// for each other instead of deadlocking; ON CONFLICT DO NOTHING reports a
// taken key without aborting a PostgreSQL transaction.
func (b *backend) claimLogins(ctx context.Context, tx *sql.Tx, r *store.AccountRecord) error {
	claims := loginClaims(r)
	sort.Slice(claims, func(i, j int) bool { return claims[i].key < claims[j].key })
	taken := map[string]bool{}
	for _, c := range claims {
		res, err := tx.ExecContext(ctx, `INSERT INTO account_logins (app_id, login_key, account_id)
			VALUES ($1, $2, $3) ON CONFLICT (app_id, login_key) DO NOTHING`, b.app, c.key, r.ID)
		if isUniqueViolation(err) {
			return identity.Conflict(c.field)
		}
		if err != nil {
			return fmt.Errorf("claim %s: %w", c.field, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			taken[c.field] = true
		}
	}
	for _, field := range []string{"username", "email"} {
		if taken[field] {
			return identity.Conflict(field)
		}
	}
	return nil
}

// AccountByID implements store.Backend.
func (b *backend) AccountByID(ctx context.Context, id string) (*store.AccountRecord, error) {
	if !storable(id) {
		return nil, identity.NotFound("account")
	}
	r, err := scanAccount(b.db.queryRow(ctx,
		`SELECT `+accountCols+` FROM accounts WHERE app_id = $1 AND id = $2`, b.app, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, identity.NotFound("account")
	}
	if err != nil {
		return nil, fail(ctx, "get account", err)
	}
	return r, nil
}

// AccountByLogin implements store.Backend.
func (b *backend) AccountByLogin(ctx context.Context, key string) (*store.AccountRecord, error) {
	if !storable(key) {
		return nil, identity.NotFound("account")
	}
	r, err := scanAccount(b.db.queryRow(ctx, `SELECT `+qualified("a", accountCols)+`
		FROM account_logins l JOIN accounts a ON a.id = l.account_id
		WHERE l.app_id = $1 AND l.login_key = $2`, b.app, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, identity.NotFound("account")
	}
	if err != nil {
		return nil, fail(ctx, "find account by login", err)
	}
	return r, nil
}

// escapeLike escapes the LIKE wildcards of s, with backslash as the escape
// character.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// ListAccounts implements store.Backend.
func (b *backend) ListAccounts(ctx context.Context, f identity.AccountFilter) ([]*store.AccountRecord, int, error) {
	for _, v := range []string{f.Username, f.Email, f.Query, string(f.Status)} {
		if !storable(v) {
			return []*store.AccountRecord{}, 0, nil // matches nothing stored
		}
	}
	args := []any{b.app}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := "app_id = $1"
	if f.Username != "" {
		where += " AND username_key = " + arg(f.Username)
	}
	if f.Email != "" {
		where += " AND email_key = " + arg(f.Email)
	}
	if f.Status != "" {
		where += " AND status = " + arg(string(f.Status))
	}
	if f.Query != "" {
		p := arg("%" + escapeLike(f.Query) + "%")
		var conds []string
		for _, col := range []string{"username_key", "email_key", "given_name_key", "surname_key"} {
			conds = append(conds, col+" LIKE "+p+` ESCAPE '\'`)
		}
		where += " AND (" + strings.Join(conds, " OR ") + ")"
	}
	var (
		total int
		recs  []*store.AccountRecord
	)
	err := b.db.read(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE `+where, args...).Scan(&total); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		q := `SELECT ` + accountCols + ` FROM accounts WHERE ` + where +
			` ORDER BY seq LIMIT ` + arg(f.Limit) + ` OFFSET ` + arg(f.Offset)
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		recs, err = scanAll(rows, scanAccount)
		return err
	})
	if err != nil {
		return nil, 0, fail(ctx, "list accounts", err)
	}
	return recs, total, nil
}

// lockAccount checks that the account exists in this application and, in
// PostgreSQL, locks its row with lock (forUpdate or forShare) until the
// transaction ends.
func (b *backend) lockAccount(ctx context.Context, tx *sql.Tx, id, lock string) error {
	if !storable(id) {
		return identity.NotFound("account")
	}
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM accounts WHERE app_id = $1 AND id = $2`+lock, b.app, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return identity.NotFound("account")
	}
	return err
}

// lockGroup is lockAccount for a group.
func (b *backend) lockGroup(ctx context.Context, tx *sql.Tx, id, lock string) error {
	if !storable(id) {
		return identity.NotFound("group")
	}
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM groups WHERE app_id = $1 AND id = $2`+lock, b.app, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return identity.NotFound("group")
	}
	return err
}

// UpdateAccount implements store.Backend.
func (b *backend) UpdateAccount(ctx context.Context, id string, fn func(*store.AccountRecord) error) (*store.AccountRecord, error) {
	if !storable(id) {
		return nil, identity.NotFound("account")
	}
	var next store.AccountRecord
	err := b.db.write(ctx, func(tx *sql.Tx) error {
		cur, err := scanAccount(tx.QueryRowContext(ctx,
			`SELECT `+accountCols+` FROM accounts WHERE app_id = $1 AND id = $2`+b.db.d.forUpdate, b.app, id))
		if errors.Is(err, sql.ErrNoRows) {
			return identity.NotFound("account")
		}
		if err != nil {
			return err
		}
		next = *cur
		if err := fn(&next); err != nil {
			return callerError{err}
		}
		next.ID = id
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET username = $3, username_key = $4, email = $5,
			email_key = $6, given_name = $7, given_name_key = $8, surname = $9, surname_key = $10,
			status = $11, password_hash = $12, created_at = $13, modified_at = $14, password_modified_at = $15
			WHERE app_id = $1 AND id = $2`,
			b.app, id, next.Username, next.UsernameKey, next.Email, next.EmailKey,
			next.GivenName, identity.FoldKey(next.GivenName), next.Surname, identity.FoldKey(next.Surname),
			string(next.Status), next.PasswordHash, ms(next.CreatedAt), ms(next.ModifiedAt), ms(next.PasswordModifiedAt),
		); err != nil {
			return err
		}
		if next.UsernameKey == cur.UsernameKey && next.EmailKey == cur.EmailKey {
			return nil
		}
		// Release every old key, then claim the new set: this also handles
		// an account swapping its username and email.
		if _, err := tx.ExecContext(ctx, `DELETE FROM account_logins WHERE app_id = $1 AND account_id = $2`, b.app, id); err != nil {
			return err
		}
		return b.claimLogins(ctx, tx, &next)
	})
	if err != nil {
		return nil, fail(ctx, "update account", err)
	}
	return &next, nil
}

// DeleteAccount implements store.Backend.
func (b *backend) DeleteAccount(ctx context.Context, id string) error {
	err := b.db.write(ctx, func(tx *sql.Tx) error {
		if err := b.lockAccount(ctx, tx, id, b.db.d.forUpdate); err != nil {
			return err
		}
		// The foreign keys cascade too; explicit deletes do not depend on
		// them being enforced.
		for _, q := range []string{
			`DELETE FROM memberships WHERE account_id = $1`,
			`DELETE FROM custom_data WHERE account_id = $1`,
			`DELETE FROM api_keys WHERE account_id = $1`,
			`DELETE FROM account_logins WHERE account_id = $1`,
			`DELETE FROM accounts WHERE id = $1`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
	return fail(ctx, "delete account", err)
}

// apiKeyCols are the columns scanAPIKey reads, in its order.
const apiKeyCols = `id, account_id, name, status, secret_hash, created_at`

func scanAPIKey(s scanner) (*store.APIKeyRecord, error) {
	var (
		k       store.APIKeyRecord
		status  string
		created int64
	)
	if err := s.Scan(&k.ID, &k.AccountID, &k.Name, &status, &k.SecretHash, &created); err != nil {
		return nil, err
	}
	k.Status = identity.Status(status)
	k.CreatedAt = fromMS(created)
	return &k, nil
}

// apiKeyInsertCols are the columns of an api_keys row, in the order
// apiKeyValues gives their values; apiKeyInsertN counts them.
const (
	apiKeyInsertCols = `id, app_id, account_id, name, status, secret_hash, created_at`
	apiKeyInsertN    = 7
)

// apiKeyValues appends the values of the api_keys row of k, in application
// app.
func apiKeyValues(args []any, app string, k *store.APIKeyRecord) []any {
	return append(args, k.ID, app, k.AccountID, k.Name, string(k.Status), k.SecretHash, ms(k.CreatedAt))
}

// InsertAPIKey implements store.Backend.
func (b *backend) InsertAPIKey(ctx context.Context, k *store.APIKeyRecord, maxPerAccount int) error {
	err := b.db.write(ctx, func(tx *sql.Tx) error {
		// Locking the account serializes concurrent inserts for it, so the
		// count below stays true until the insert.
		if err := b.lockAccount(ctx, tx, k.AccountID, b.db.d.forUpdate); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys WHERE account_id = $1`, k.AccountID).Scan(&n); err != nil {
			return err
		}
		if n >= maxPerAccount {
			return identity.LimitExceeded("api_keys", "An account may hold at most %d API keys.", maxPerAccount)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (`+apiKeyInsertCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, apiKeyValues(make([]any, 0, apiKeyInsertN), b.app, k)...)
		return err
	})
	return fail(ctx, "insert api key", err)
}

// APIKey implements store.Backend.
func (b *backend) APIKey(ctx context.Context, id string) (*store.APIKeyRecord, error) {
	if !storable(id) {
		return nil, identity.NotFound("api_key")
	}
	k, err := scanAPIKey(b.db.queryRow(ctx,
		`SELECT `+apiKeyCols+` FROM api_keys WHERE app_id = $1 AND id = $2`, b.app, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, identity.NotFound("api_key")
	}
	if err != nil {
		return nil, fail(ctx, "get api key", err)
	}
	return k, nil
}

// ListAPIKeys implements store.Backend.
func (b *backend) ListAPIKeys(ctx context.Context, accountID string) ([]*store.APIKeyRecord, error) {
	var out []*store.APIKeyRecord
	err := b.db.read(ctx, func(tx *sql.Tx) error {
		if err := b.lockAccount(ctx, tx, accountID, ""); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys
			WHERE app_id = $1 AND account_id = $2 ORDER BY seq`, b.app, accountID)
		if err != nil {
			return err
		}
		out, err = scanAll(rows, scanAPIKey)
		return err
	})
	if err != nil {
		return nil, fail(ctx, "list api keys", err)
	}
	return out, nil
}

// SetAPIKeyStatus implements store.Backend.
func (b *backend) SetAPIKeyStatus(ctx context.Context, id string, status identity.Status) (*store.APIKeyRecord, error) {
	if !storable(id) {
		return nil, identity.NotFound("api_key")
	}
	var k *store.APIKeyRecord
	err := b.db.write(ctx, func(tx *sql.Tx) error {
		var err error
		k, err = scanAPIKey(tx.QueryRowContext(ctx, `UPDATE api_keys SET status = $3
			WHERE app_id = $1 AND id = $2 RETURNING `+apiKeyCols, b.app, id, string(status)))
		if errors.Is(err, sql.ErrNoRows) {
			return identity.NotFound("api_key")
		}
		return err
	})
	if err != nil {
		return nil, fail(ctx, "set api key status", err)
	}
	return k, nil
}

// DeleteAPIKey implements store.Backend.
func (b *backend) DeleteAPIKey(ctx context.Context, id string) error {
	if !storable(id) {
		return identity.NotFound("api_key")
	}
	err := b.db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM api_keys WHERE app_id = $1 AND id = $2`, b.app, id)
		return requireRow(res, err, identity.NotFound("api_key"))
	})
	return fail(ctx, "delete api key", err)
}

// requireRow returns the error of an Exec, or notFound if it affected no
// row.
func requireRow(res sql.Result, err, notFound error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// CustomData implements store.Backend.
func (b *backend) CustomData(ctx context.Context, accountID string) ([]byte, error) {
	if !storable(accountID) {
		return nil, identity.NotFound("account")
	}
	var data []byte
	err := b.db.queryRow(ctx, `SELECT c.data FROM accounts a
		LEFT JOIN custom_data c ON c.account_id = a.id
		WHERE a.app_id = $1 AND a.id = $2`, b.app, accountID).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, identity.NotFound("account")
	}
	if err != nil {
		return nil, fail(ctx, "get custom data", err)
	}
	return data, nil
}

// UpdateCustomData implements store.Backend. The account's row is locked
// (PostgreSQL) or the database's write lock held (SQLite) from the read to
// the write, so concurrent updates take turns and none is lost. When fn
// returns nil, the stored object is removed.
func (b *backend) UpdateCustomData(ctx context.Context, accountID string, fn func(old []byte) ([]byte, error)) error {
	err := b.db.write(ctx, func(tx *sql.Tx) error {
		if err := b.lockAccount(ctx, tx, accountID, b.db.d.forUpdate); err != nil {
			return err
		}
		var old []byte
		err := tx.QueryRowContext(ctx, `SELECT data FROM custom_data WHERE account_id = $1`, accountID).Scan(&old)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		next, err := fn(old)
		if err != nil {
			return callerError{err}
		}
		if next == nil {
			_, err = tx.ExecContext(ctx, `DELETE FROM custom_data WHERE account_id = $1`, accountID)
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO custom_data (account_id, data) VALUES ($1, $2)
			ON CONFLICT (account_id) DO UPDATE SET data = excluded.data`, accountID, string(next))
		return err
	})
	return fail(ctx, "update custom data", err)
}

// groupCols are the columns scanGroup reads, in its order.
const groupCols = `id, name, name_key, description, created_at, modified_at`

func scanGroup(s scanner) (*store.GroupRecord, error) {
	var (
		g            store.GroupRecord
		created, mod int64
	)
	if err := s.Scan(&g.ID, &g.Name, &g.NameKey, &g.Description, &created, &mod); err != nil {
		return nil, err
	}
	g.CreatedAt, g.ModifiedAt = fromMS(created), fromMS(mod)
	return &g, nil
}

// InsertGroup implements store.Backend.
func (b *backend) InsertGroup(ctx context.Context, g *store.GroupRecord) error {
	err := b.db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO groups (id, app_id, name, name_key, description, created_at, modified_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			g.ID, b.app, g.Name, g.NameKey, g.Description, ms(g.CreatedAt), ms(g.ModifiedAt))
		if isUniqueViolation(err) {
			return identity.Conflict("name")
		}
		return err
	})
	return fail(ctx, "insert group", err)
}

// Group implements store.Backend.
func (b *backend) Group(ctx context.Context, id string) (*store.GroupRecord, error) {
	if !storable(id) {
		return nil, identity.NotFound("group")
	}
	g, err := scanGroup(b.db.queryRow(ctx,
		`SELECT `+groupCols+` FROM groups WHERE app_id = $1 AND id = $2`, b.app, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, identity.NotFound("group")
	}
	if err != nil {
		return nil, fail(ctx, "get group", err)
	}
	return g, nil
}

// ListGroups implements store.Backend.
func (b *backend) ListGroups(ctx context.Context, f identity.GroupFilter) ([]*store.GroupRecord, int, error) {
	if !storable(f.Name) {
		return []*store.GroupRecord{}, 0, nil // matches nothing stored
	}
	where, args := "app_id = $1", []any{b.app}
	if f.Name != "" {
		where += " AND name_key = $2"
		args = append(args, f.Name)
	}
	var (
		total int
		out   []*store.GroupRecord
	)
	err := b.db.read(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM groups WHERE `+where, args...).Scan(&total); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		n := len(args)
		rows, err := tx.QueryContext(ctx, `SELECT `+groupCols+` FROM groups WHERE `+where+
			` ORDER BY name_key LIMIT $`+strconv.Itoa(n+1)+` OFFSET $`+strconv.Itoa(n+2),
			append(args, f.Limit, f.Offset)...)
		if err != nil {
			return err
		}
		out, err = scanAll(rows, scanGroup)
		return err
	})
	if err != nil {
		return nil, 0, fail(ctx, "list groups", err)
	}
	return out, total, nil
}

// DeleteGroup implements store.Backend.
func (b *backend) DeleteGroup(ctx context.Context, id string) error {
	err := b.db.write(ctx, func(tx *sql.Tx) error {
		if err := b.lockGroup(ctx, tx, id, b.db.d.forUpdate); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM memberships WHERE group_id = $1`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM groups WHERE id = $1`, id)
		return err
	})
	return fail(ctx, "delete group", err)
}

// AddMember implements store.Backend.
func (b *backend) AddMember(ctx context.Context, accountID, groupID string) error {
	err := b.db.write(ctx, func(tx *sql.Tx) error {
		if err := b.lockAccount(ctx, tx, accountID, b.db.d.forShare); err != nil {
			return err
		}
		if err := b.lockGroup(ctx, tx, groupID, b.db.d.forShare); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO memberships (account_id, group_id) VALUES ($1, $2)
			ON CONFLICT (account_id, group_id) DO NOTHING`, accountID, groupID)
		return err
	})
	return fail(ctx, "add member", err)
}

// RemoveMember implements store.Backend.
func (b *backend) RemoveMember(ctx context.Context, accountID, groupID string) error {
	err := b.db.write(ctx, func(tx *sql.Tx) error {
		if err := b.lockAccount(ctx, tx, accountID, b.db.d.forShare); err != nil {
			return err
		}
		if err := b.lockGroup(ctx, tx, groupID, b.db.d.forShare); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM memberships WHERE account_id = $1 AND group_id = $2`,
			accountID, groupID)
		return requireRow(res, err, identity.NotFound("membership"))
	})
	return fail(ctx, "remove member", err)
}

// AccountGroups implements store.Backend.
func (b *backend) AccountGroups(ctx context.Context, accountID string) ([]*store.GroupRecord, error) {
	var out []*store.GroupRecord
	err := b.db.read(ctx, func(tx *sql.Tx) error {
		if err := b.lockAccount(ctx, tx, accountID, ""); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+qualified("g", groupCols)+`
			FROM memberships m JOIN groups g ON g.id = m.group_id
			WHERE m.account_id = $1 ORDER BY g.name_key`, accountID)
		if err != nil {
			return err
		}
		out, err = scanAll(rows, scanGroup)
		return err
	})
	if err != nil {
		return nil, fail(ctx, "list account groups", err)
	}
	return out, nil
}

// GroupMembers implements store.Backend.
func (b *backend) GroupMembers(ctx context.Context, groupID string, p identity.Page) ([]*store.AccountRecord, int, error) {
	var (
		total int
		out   []*store.AccountRecord
	)
	err := b.db.read(ctx, func(tx *sql.Tx) error {
		if err := b.lockGroup(ctx, tx, groupID, ""); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM memberships WHERE group_id = $1`, groupID).Scan(&total); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+qualified("a", accountCols)+`
			FROM memberships m JOIN accounts a ON a.id = m.account_id
			WHERE m.group_id = $1 ORDER BY a.seq LIMIT $2 OFFSET $3`, groupID, p.Limit, p.Offset)
		if err != nil {
			return err
		}
		out, err = scanAll(rows, scanAccount)
		return err
	})
	if err != nil {
		return nil, 0, fail(ctx, "list group members", err)
	}
	return out, total, nil
}

// RevokeToken implements store.Backend. Revoking a token again keeps the
// later expiry, and with it the later revocation time, so pollers of the
// feed see the change. Token ids are stored as bytes: the Provider accepts
// any 1 to 128 bytes, which PostgreSQL's text would not.
func (b *backend) RevokeToken(ctx context.Context, tokenID string, expiresAt, revokedAt time.Time) error {
	err := b.db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO revoked_tokens (app_id, jti, expires_at, revoked_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (app_id, jti) DO UPDATE SET
				revoked_at = CASE WHEN excluded.expires_at > revoked_tokens.expires_at THEN excluded.revoked_at ELSE revoked_tokens.revoked_at END,
				expires_at = CASE WHEN excluded.expires_at > revoked_tokens.expires_at THEN excluded.expires_at ELSE revoked_tokens.expires_at END`,
			b.app, []byte(tokenID), ms(expiresAt), ms(revokedAt))
		return err
	})
	return fail(ctx, "revoke token", err)
}

// RevokeTokenOnce implements store.Backend: one upsert, which replaces only
// a revocation that has expired, so the database decides which of two
// racing callers was first (the row lock in PostgreSQL, the write lock in
// SQLite).
func (b *backend) RevokeTokenOnce(ctx context.Context, tokenID string, expiresAt, revokedAt time.Time) (bool, error) {
	var first bool
	err := b.db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO revoked_tokens (app_id, jti, expires_at, revoked_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (app_id, jti) DO UPDATE SET expires_at = excluded.expires_at, revoked_at = excluded.revoked_at
			WHERE revoked_tokens.expires_at <= excluded.revoked_at`,
			b.app, []byte(tokenID), ms(expiresAt), ms(revokedAt))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		first = n == 1
		return err
	})
	return first, fail(ctx, "revoke token once", err)
}

// RevokedSince implements store.Backend.
func (b *backend) RevokedSince(ctx context.Context, since, now time.Time, limit int) ([]identity.Revocation, error) {
	rows, err := b.db.queryRows(ctx, `SELECT jti, expires_at, revoked_at FROM revoked_tokens
		WHERE app_id = $1 AND revoked_at >= $2 AND expires_at > $3
		ORDER BY revoked_at, jti LIMIT $4`, b.app, ms(since), ms(now), limit)
	if err != nil {
		return nil, fail(ctx, "list revocations", err)
	}
	out, err := scanAll(rows, func(s scanner) (identity.Revocation, error) {
		var (
			jti            []byte
			exp, revokedAt int64
		)
		err := s.Scan(&jti, &exp, &revokedAt)
		return identity.Revocation{TokenID: string(jti), ExpiresAt: fromMS(exp), RevokedAt: fromMS(revokedAt)}, err
	})
	if err != nil {
		return nil, fail(ctx, "list revocations", err)
	}
	return out, nil
}

// TokenRevoked implements store.Backend.
func (b *backend) TokenRevoked(ctx context.Context, tokenID string, now time.Time) (bool, error) {
	var one int
	err := b.db.queryRow(ctx, `SELECT 1 FROM revoked_tokens
		WHERE app_id = $1 AND jti = $2 AND expires_at > $3`, b.app, []byte(tokenID), ms(now)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fail(ctx, "check token revocation", err)
	}
	return true, nil
}

// SigningKeys implements store.Backend. Keys come newest first in the order
// they were stored, whatever their CreatedAt says.
func (b *backend) SigningKeys(ctx context.Context, now time.Time) ([]store.SigningKeyRecord, error) {
	rows, err := b.db.queryRows(ctx, `SELECT id, private_key, created_at, retire_at FROM signing_keys
		WHERE app_id = $1 AND (retire_at IS NULL OR retire_at > $2) ORDER BY seq DESC`, b.app, ms(now))
	if err != nil {
		return nil, fail(ctx, "list signing keys", err)
	}
	out, err := scanAll(rows, func(s scanner) (store.SigningKeyRecord, error) {
		var (
			k       store.SigningKeyRecord
			created int64
			retired sql.NullInt64
		)
		err := s.Scan(&k.ID, &k.PrivateKey, &created, &retired)
		k.CreatedAt, k.RetireAt = fromMS(created), retireTime(retired)
		return k, err
	})
	if err != nil {
		return nil, fail(ctx, "list signing keys", err)
	}
	return out, nil
}

// retireTime converts a stored retire_at back: NULL, for a current key, is
// the zero time.
func retireTime(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

// RotateSigningKey implements store.Backend. The application's row is
// locked first, so concurrent rotations take turns and exactly one key is
// current afterwards.
func (b *backend) RotateSigningKey(ctx context.Context, k store.SigningKeyRecord, retireAt time.Time) error {
	err := b.db.write(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM applications WHERE id = $1`+b.db.d.forUpdate, b.app).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return identity.NotFound("application")
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE signing_keys SET retire_at = $2
			WHERE app_id = $1 AND retire_at IS NULL`, b.app, ms(retireAt)); err != nil {
			return err
		}
		var retire sql.NullInt64
		if !k.RetireAt.IsZero() {
			retire = sql.NullInt64{Int64: ms(k.RetireAt), Valid: true}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO signing_keys (app_id, id, private_key, created_at, retire_at)
			VALUES ($1, $2, $3, $4, $5)`, b.app, k.ID, k.PrivateKey, ms(k.CreatedAt), retire)
		return err
	})
	return fail(ctx, "rotate signing key", err)
}

// ReplaceSigningKeyPrivate implements store.Backend.
func (b *backend) ReplaceSigningKeyPrivate(ctx context.Context, id string, old, new []byte) (bool, error) {
	var replaced bool
	err := b.db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE signing_keys SET private_key = $4
			WHERE app_id = $1 AND id = $2 AND private_key = $3`, b.app, id, old, new)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if replaced = n == 1; replaced {
			return nil
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM signing_keys WHERE app_id = $1 AND id = $2`, b.app, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return identity.NotFound("signing key")
		}
		return err
	})
	return replaced, fail(ctx, "replace signing key", err)
}

// SigningKeyInfo describes a token signing key without its private part.
type SigningKeyInfo struct {
	ID        string
	CreatedAt time.Time
	// RetireAt is when the key leaves the published key set; zero while the
	// key is current.
	RetireAt time.Time
}

// SigningKeyHistory returns every signing key of the application with id
// appID, retired ones included, newest first. Unlike the Backend's
// SigningKeys it reads no private key: it is for operators listing keys.
func (db *DB) SigningKeyHistory(ctx context.Context, appID string) ([]SigningKeyInfo, error) {
	if !storable(appID) {
		return []SigningKeyInfo{}, nil
	}
	rows, err := db.queryRows(ctx, `SELECT id, created_at, retire_at FROM signing_keys
		WHERE app_id = $1 ORDER BY seq DESC`, appID)
	if err != nil {
		return nil, fail(ctx, "list signing keys", err)
	}
	out, err := scanAll(rows, func(s scanner) (SigningKeyInfo, error) {
		var (
			k       SigningKeyInfo
			created int64
			retired sql.NullInt64
		)
		err := s.Scan(&k.ID, &created, &retired)
		k.CreatedAt, k.RetireAt = fromMS(created), retireTime(retired)
		return k, err
	})
	if err != nil {
		return nil, fail(ctx, "list signing keys", err)
	}
	return out, nil
}
