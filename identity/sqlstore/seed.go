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
	"github.com/gatehouse-id/gatehouse/identity/ids"
	"github.com/gatehouse-id/gatehouse/identity/password"
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
	rows, err := prepareSeed(limits.WithDefaults(), accounts, time.Now().UTC().Truncate(time.Millisecond))
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
		a := r.acc
		out[i] = &a
	}
	return out, nil
}

// seedRows are the checked rows of a bulk insert.
type seedRows struct {
	accounts []seedAccount
	logins   []seedLogin
	keys     []seedKey
	data     []seedData
}

type seedAccount struct {
	acc                   identity.Account
	usernameKey, emailKey string
	givenKey, surnameKey  string
	passwordHash          string
}

type seedLogin struct {
	key, field string
	account    int // index in seedRows.accounts
}

type seedKey struct {
	id, accountID, name string
	hash                []byte
	createdAt           time.Time
}

type seedData struct {
	accountID string
	data      []byte
}

// prepareSeed checks every account as the Provider's CreateAccount and
// CreateAPIKey do, and builds the rows to insert. Login keys taken twice
// within the batch are reported here; keys taken by stored accounts only
// show when inserting.
func prepareSeed(limits identity.Limits, in []SeedAccount, now time.Time) (*seedRows, error) {
	rows := &seedRows{accounts: make([]seedAccount, 0, len(in)), logins: make([]seedLogin, 0, 2*len(in))}
	claimed := make(map[string]bool, 2*len(in))
	keyIDs := map[string]bool{}
	for i, a := range in {
		wrap := func(err error) error { return fmt.Errorf("account %d: %w", i, err) }
		username, err := limits.NormalizeUsername(a.Username)
		if err != nil {
			return nil, wrap(err)
		}
		email, err := identity.NormalizeEmail(a.Email)
		if err != nil {
			return nil, wrap(err)
		}
		given, err := limits.CheckName("given_name", a.GivenName)
		if err != nil {
			return nil, wrap(err)
		}
		surname, err := limits.CheckName("surname", a.Surname)
		if err != nil {
			return nil, wrap(err)
		}
		status := a.Status
		if status == "" {
			status = identity.StatusEnabled
		}
		if err := identity.CheckStatus(status); err != nil {
			return nil, wrap(err)
		}
		switch {
		case a.Password != "":
			return nil, wrap(identity.Invalid("password", "A bulk insert takes password hashes, not passwords."))
		case a.PasswordHash == "":
			return nil, wrap(identity.Invalid("password_hash", "The password hash is required."))
		}
		if err := password.CheckHash(a.PasswordHash); err != nil {
			return nil, wrap(identity.Invalid("password_hash", "The password hash is not a supported argon2id or bcrypt hash."))
		}
		var data []byte
		if len(a.CustomData) > 0 {
			if data, err = limits.CheckCustomData(a.CustomData); err != nil {
				return nil, wrap(err)
			}
		}
		if len(a.APIKeys) > limits.APIKeysPerAccount {
			return nil, wrap(identity.LimitExceeded("api_keys", "An account may hold at most %d API keys.", limits.APIKeysPerAccount))
		}
		r := seedAccount{
			acc: identity.Account{
				ID: ids.New(), Username: username, Email: email, GivenName: given, Surname: surname,
				Status: status, CreatedAt: now, ModifiedAt: now, PasswordModifiedAt: now,
			},
			usernameKey:  identity.FoldKey(username),
			givenKey:     identity.FoldKey(given),
			surnameKey:   identity.FoldKey(surname),
			passwordHash: a.PasswordHash,
		}
		if email != "" {
			r.emailKey = identity.FoldKey(email)
		}
		// The same claims, in the same order of fields, as claimLogins.
		claims := []seedLogin{{r.usernameKey, "username", len(rows.accounts)}}
		if r.emailKey != "" && r.emailKey != r.usernameKey {
			claims = append(claims, seedLogin{r.emailKey, "email", len(rows.accounts)})
		}
		for _, c := range claims {
			if claimed[c.key] {
				return nil, wrap(identity.Conflict(c.field))
			}
		}
		for _, c := range claims {
			claimed[c.key] = true
		}
		rows.logins = append(rows.logins, claims...)
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
			rows.keys = append(rows.keys, seedKey{id: k.ID, accountID: r.acc.ID, name: name, hash: k.SecretHash, createdAt: now})
		}
		if data != nil {
			rows.data = append(rows.data, seedData{accountID: r.acc.ID, data: data})
		}
		rows.accounts = append(rows.accounts, r)
	}
	return rows, nil
}

// insertSeed writes rows with multi-row INSERTs inside tx.
func (db *DB) insertSeed(ctx context.Context, tx *sql.Tx, appID string, rows *seedRows) error {
	err := db.bulkInsert(ctx, tx, `INSERT INTO accounts (id, app_id, username, username_key, email, email_key,
		given_name, given_name_key, surname, surname_key, status, password_hash,
		created_at, modified_at, password_modified_at) VALUES `, "", 15, len(rows.accounts),
		func(i int, args []any) []any {
			r := &rows.accounts[i]
			return append(args, r.acc.ID, appID, r.acc.Username, r.usernameKey, r.acc.Email, r.emailKey,
				r.acc.GivenName, r.givenKey, r.acc.Surname, r.surnameKey, string(r.acc.Status), r.passwordHash,
				ms(r.acc.CreatedAt), ms(r.acc.ModifiedAt), ms(r.acc.PasswordModifiedAt))
		}, nil)
	if err != nil {
		return fmt.Errorf("insert accounts: %w", err)
	}
	// ON CONFLICT DO NOTHING, as claimLogins: a key another account holds
	// shows as a row not inserted, named below by its field.
	err = db.bulkInsert(ctx, tx, `INSERT INTO account_logins (app_id, login_key, account_id) VALUES `,
		` ON CONFLICT (app_id, login_key) DO NOTHING`, 3, len(rows.logins),
		func(i int, args []any) []any {
			l := rows.logins[i]
			return append(args, appID, l.key, rows.accounts[l.account].acc.ID)
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
	err = db.bulkInsert(ctx, tx, `INSERT INTO api_keys (id, app_id, account_id, name, status, secret_hash, created_at) VALUES `,
		"", 7, len(rows.keys),
		func(i int, args []any) []any {
			k := rows.keys[i]
			return append(args, k.id, appID, k.accountID, k.name, string(identity.StatusEnabled), k.hash, ms(k.createdAt))
		}, nil)
	if isUniqueViolation(err) {
		return fmt.Errorf("insert api keys: %w", identity.Conflict("api_key"))
	}
	if err != nil {
		return fmt.Errorf("insert api keys: %w", err)
	}
	err = db.bulkInsert(ctx, tx, `INSERT INTO custom_data (account_id, data) VALUES `, "", 2, len(rows.data),
		func(i int, args []any) []any { return append(args, rows.data[i].accountID, string(rows.data[i].data)) }, nil)
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
		if owner != rows.accounts[c.account].acc.ID {
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
