package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/apikey"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

// SeedAccount is one account of BulkCreateAccounts: what
// identity.Provider.CreateAccount takes, with PasswordHash set (Password
// must be empty: a bulk insert never runs the KDF), and the API keys the
// account starts with.
type SeedAccount struct {
	identity.AccountCreate
	APIKeys []SeedAPIKey
}

// SeedAPIKey is an API key of a SeedAccount. The caller mints it as the
// Provider does, and keeps the secret if it wants to use the key:
//
//	secret := apikey.NewSecret()
//	k := SeedAPIKey{ID: apikey.NewID(), SecretHash: apikey.HashSecret(secret)}
type SeedAPIKey struct {
	ID         string
	Name       string
	SecretHash []byte
}

// Bulk statements carry at most this many parameters: below SQLite's
// default limit of 32766 and PostgreSQL's of 65535, and large enough that
// the per-statement cost disappears.
const maxBulkParams = 15000

// BulkCreateAccounts stores accounts in the application with id appID in
// one transaction, for imports and load tests where CreateAccount, which
// runs the KDF for every password, would take hours. The input is checked
// by the rules CreateAccount applies (limits, zero fields taking
// identity.DefaultLimits; password hashes with password.CheckHash) and the
// rows written are those CreateAccount writes, so the accounts log in and
// are found as any other; all of them get the same creation time.
//
// Either every account is stored or none is: a bad field is
// identity.ErrInvalidInput, a username or email taken (by a stored account
// or earlier in accounts) identity.Conflict naming the field, too many keys
// identity.ErrLimitExceeded, each wrapped with the index of the account in
// accounts. A missing application is identity.NotFound("application").
// The accounts are returned in the order given.
func (db *DB) BulkCreateAccounts(ctx context.Context, appID string, limits identity.Limits, accounts []SeedAccount) ([]*identity.Account, error) {
	if appID == "" || !storable(appID) {
		return nil, identity.NotFound("application")
	}
	rows, err := prepareSeed(ctx, limits.WithDefaults(), accounts, time.Now().UTC().Truncate(time.Millisecond))
	if err != nil {
		return nil, err
	}
	if len(rows.accounts) == 0 {
		return []*identity.Account{}, nil
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM applications WHERE id = $1`+db.d.forShare, appID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return identity.NotFound("application")
		}
		if err != nil {
			return err
		}
		return db.insertSeed(ctx, tx, appID, rows)
	})
	if err != nil {
		return nil, fail(ctx, "bulk create accounts", err)
	}
	out := make([]*identity.Account, len(rows.accounts))
	for i, r := range rows.accounts {
		a := r.Account
		out[i] = &a
	}
	return out, nil
}

// seedRows are the checked rows of a bulk insert.
type seedRows struct {
	accounts []*store.AccountRecord
	logins   []seedLogin
	keys     []*store.APIKeyRecord
	data     []*store.AccountRecord // the accounts with custom data
}

type seedLogin struct {
	loginClaim
	account int // index in seedRows.accounts
}

// recorder is a store.Backend that keeps the account the Provider's
// CreateAccount would insert instead of inserting it: running CreateAccount
// over it applies every rule of the Provider and builds the very record it
// stores. A seed account carries a password hash, so no KDF runs.
// CreateAccount calls nothing else of the Backend, left nil.
type recorder struct {
	store.Backend
	rec *store.AccountRecord
}

func (r *recorder) InsertAccount(_ context.Context, a *store.AccountRecord) error {
	r.rec = a
	return nil
}

// prepareSeed checks every account as the Provider's CreateAccount and
// CreateAPIKey do, and builds the rows to insert. Login keys taken twice
// within the batch are reported here; keys taken by stored accounts only
// show when inserting.
func prepareSeed(ctx context.Context, limits identity.Limits, in []SeedAccount, now time.Time) (*seedRows, error) {
	rows := &seedRows{accounts: make([]*store.AccountRecord, 0, len(in)), logins: make([]seedLogin, 0, 2*len(in))}
	rec := &recorder{}
	p := store.New(rec, store.Options{Limits: limits, Now: func() time.Time { return now }})
	claimed := make(map[string]bool, 2*len(in))
	keyIDs := map[string]bool{}
	for i, a := range in {
		wrap := func(err error) error { return fmt.Errorf("account %d: %w", i, err) }
		// A password would cost a KDF run; CreateAccount checks the hash.
		switch {
		case a.Password != "":
			return nil, wrap(identity.Invalid("password", "A bulk insert takes password hashes, not passwords."))
		case a.PasswordHash == "":
			return nil, wrap(identity.Invalid("password_hash", "The password hash is required."))
		}
		if _, err := p.CreateAccount(ctx, a.AccountCreate); err != nil {
			return nil, wrap(err)
		}
		r := rec.rec
		if len(a.APIKeys) > limits.APIKeysPerAccount {
			return nil, wrap(identity.LimitExceeded("api_keys", "An account may hold at most %d API keys.", limits.APIKeysPerAccount))
		}
		claims := loginClaims(r)
		for _, c := range claims {
			if claimed[c.key] {
				return nil, wrap(identity.Conflict(c.field))
			}
		}
		for _, c := range claims {
			claimed[c.key] = true
			rows.logins = append(rows.logins, seedLogin{c, len(rows.accounts)})
		}
		for _, k := range a.APIKeys {
			name, err := limits.CheckName("name", k.Name)
			if err != nil {
				return nil, wrap(err)
			}
			if !apikey.IsID(k.ID) {
				return nil, wrap(identity.Invalid("api_key", "An API key id must be an apikey.NewID."))
			}
			if len(k.SecretHash) != sha256.Size {
				return nil, wrap(identity.Invalid("api_key", "An API key's secret hash must be an apikey.HashSecret."))
			}
			if keyIDs[k.ID] {
				return nil, wrap(identity.Conflict("api_key"))
			}
			keyIDs[k.ID] = true
			rows.keys = append(rows.keys, &store.APIKeyRecord{
				APIKey:     identity.APIKey{ID: k.ID, AccountID: r.ID, Name: name, Status: identity.StatusEnabled, CreatedAt: now},
				SecretHash: k.SecretHash,
			})
		}
		if r.CustomData != nil {
			rows.data = append(rows.data, r)
		}
		rows.accounts = append(rows.accounts, r)
	}
	return rows, nil
}

// insertSeed writes rows with multi-row INSERTs inside tx.
func (db *DB) insertSeed(ctx context.Context, tx *sql.Tx, appID string, rows *seedRows) error {
	err := db.bulkInsert(ctx, tx, `INSERT INTO accounts (`+accountInsertCols+`) VALUES `, "", accountInsertN, len(rows.accounts),
		func(i int, args []any) []any { return accountValues(args, appID, rows.accounts[i]) }, nil)
	if err != nil {
		return fmt.Errorf("insert accounts: %w", err)
	}
	// ON CONFLICT DO NOTHING, as claimLogins: a key another account holds
	// shows as a row not inserted, named below by its field.
	err = db.bulkInsert(ctx, tx, `INSERT INTO account_logins (app_id, login_key, account_id) VALUES `,
		` ON CONFLICT (app_id, login_key) DO NOTHING`, 3, len(rows.logins),
		func(i int, args []any) []any {
			l := rows.logins[i]
			return append(args, appID, l.key, rows.accounts[l.account].ID)
		},
		func(first, n int, inserted int64) error {
			if inserted == int64(n) {
				return nil
			}
			return db.takenLogin(ctx, tx, appID, rows, rows.logins[first:first+n])
		})
	if err != nil {
		return err
	}
	err = db.bulkInsert(ctx, tx, `INSERT INTO api_keys (`+apiKeyInsertCols+`) VALUES `, "", apiKeyInsertN, len(rows.keys),
		func(i int, args []any) []any { return apiKeyValues(args, appID, rows.keys[i]) }, nil)
	if isUniqueViolation(err) {
		return fmt.Errorf("insert api keys: %w", identity.Conflict("api_key"))
	}
	if err != nil {
		return fmt.Errorf("insert api keys: %w", err)
	}
	err = db.bulkInsert(ctx, tx, `INSERT INTO custom_data (account_id, data) VALUES `, "", 2, len(rows.data),
		func(i int, args []any) []any { return append(args, rows.data[i].ID, string(rows.data[i].CustomData)) }, nil)
	if err != nil {
		return fmt.Errorf("insert custom data: %w", err)
	}
	return nil
}

// takenLogin finds, among claims of which some were not inserted, the
// first whose key another account holds, and returns its conflict.
func (db *DB) takenLogin(ctx context.Context, tx *sql.Tx, appID string, rows *seedRows, claims []seedLogin) error {
	for _, c := range claims {
		var owner string
		err := tx.QueryRowContext(ctx, `SELECT account_id FROM account_logins WHERE app_id = $1 AND login_key = $2`,
			appID, c.key).Scan(&owner)
		if err != nil {
			return fmt.Errorf("find taken login: %w", err)
		}
		if owner != rows.accounts[c.account].ID {
			return fmt.Errorf("account %d: %w", c.account, identity.Conflict(c.field))
		}
	}
	return errors.New("find taken login: every login key is the claimant's")
}

// bulkInsert inserts n rows of cols columns each, as many per statement as
// maxBulkParams allows: head is the statement up to VALUES, tail what
// follows the rows, and row appends the values of row i. check, if not nil,
// is given the first row and count of each statement and the rows it
// inserted.
func (db *DB) bulkInsert(ctx context.Context, tx *sql.Tx, head, tail string, cols, n int,
	row func(i int, args []any) []any, check func(first, n int, inserted int64) error) error {
	// SQLite looks each numbered parameter up by name in a list, which makes
	// a statement with thousands of $N quadratic to compile; its anonymous
	// ? parameters are numbered in order for free. PostgreSQL knows only $N.
	numbered := db.d.name == DialectPostgres
	per := maxBulkParams / cols
	args := make([]any, 0, per*cols)
	var q strings.Builder
	for first := 0; first < n; first += per {
		count := min(per, n-first)
		q.Reset()
		q.WriteString(head)
		args = args[:0]
		for i := range count {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteByte('(')
			for c := range cols {
				if c > 0 {
					q.WriteByte(',')
				}
				if numbered {
					q.WriteByte('$')
					q.WriteString(strconv.Itoa(i*cols + c + 1))
				} else {
					q.WriteByte('?')
				}
			}
			q.WriteByte(')')
			args = row(first+i, args)
		}
		q.WriteString(tail)
		res, err := tx.ExecContext(ctx, q.String(), args...)
		if err != nil {
			return err
		}
		if check != nil {
			inserted, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if err := check(first, count, inserted); err != nil {
				return err
			}
		}
	}
	return nil
}
