package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/apikey"
	"github.com/gatehouse-id/gatehouse/identity/password"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

const seedPassword = "a seeded account's password"

// seedFixture is a fresh application with a Provider over it and the
// shared hash seeded accounts get.
type seedFixture struct {
	db   *DB
	app  *Application
	p    *store.Provider
	hash string
}

func newSeedFixture(t *testing.T, dialect string) *seedFixture {
	t.Helper()
	db := openTestDB(t, dialect)
	app := newTestApp(t, db)
	hasher := password.NewHasher(password.InsecureFastParams)
	hash, err := hasher.Hash(seedPassword)
	must(t, "Hash", err)
	return &seedFixture{db: db, app: app, p: store.New(db.Backend(app.ID), store.Options{Hasher: hasher, Application: app.Name}), hash: hash}
}

// seedAccounts returns n accounts "<prefix>N" with emails, each with keys
// API keys, and the secrets of those keys by key id.
func (f *seedFixture) seedAccounts(prefix string, n, keys int) ([]SeedAccount, map[string]string) {
	secrets := map[string]string{}
	out := make([]SeedAccount, n)
	for i := range out {
		out[i] = SeedAccount{AccountCreate: identity.AccountCreate{
			Username: fmt.Sprintf("%s%d", prefix, i), Email: fmt.Sprintf("%s%d@Example.COM", prefix, i),
			GivenName: "Seed", Surname: fmt.Sprint(i), PasswordHash: f.hash,
		}}
		for range keys {
			secret := apikey.NewSecret()
			k := SeedAPIKey{ID: apikey.NewID(), Name: "seed", SecretHash: apikey.HashSecret(secret)}
			secrets[k.ID] = secret
			out[i].APIKeys = append(out[i].APIKeys, k)
		}
	}
	return out, secrets
}

// counts returns how many accounts, login keys and API keys the
// application holds.
func (f *seedFixture) counts(t *testing.T) [3]int {
	t.Helper()
	var c [3]int
	for i, table := range []string{"accounts", "account_logins", "api_keys"} {
		err := f.db.sql.QueryRow(`SELECT COUNT(*) FROM `+table+` WHERE app_id = $1`, f.app.ID).Scan(&c[i])
		must(t, "count "+table, err)
	}
	return c
}

// TestBulkCreateAccounts seeds accounts with keys and uses one of them
// through the normal Provider: log in by username and by email, find it,
// read it, verify its keys, list it.
func TestBulkCreateAccounts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		f := newSeedFixture(t, dialect)
		ctx := context.Background()
		in, secrets := f.seedAccounts("Seed-Ä", 40, 2)
		in[7].CustomData = identity.CustomData{"plan": "gold"}
		got, err := f.db.BulkCreateAccounts(ctx, f.app.ID, identity.Limits{}, in)
		must(t, "BulkCreateAccounts", err)
		if len(got) != len(in) {
			t.Fatalf("got %d accounts, want %d", len(got), len(in))
		}
		if c := f.counts(t); c != [3]int{40, 80, 80} {
			t.Fatalf("accounts, logins, keys = %v, want [40 80 80]", c)
		}
		seeded := got[7]
		if seeded.Username != "Seed-Ä7" || seeded.Email != "Seed-Ä7@Example.COM" || seeded.Status != identity.StatusEnabled {
			t.Fatalf("returned account: %+v", seeded)
		}

		acc, err := f.p.Authenticate(ctx, "SEED-ä7", seedPassword)
		must(t, "Authenticate by username", err)
		if acc.ID != seeded.ID {
			t.Fatalf("Authenticate found %s, want %s", acc.ID, seeded.ID)
		}
		acc, err = f.p.Authenticate(ctx, "seed-ä7@example.com", seedPassword)
		must(t, "Authenticate by email", err)
		if acc.ID != seeded.ID {
			t.Fatalf("Authenticate by email found %s, want %s", acc.ID, seeded.ID)
		}
		if _, err := f.p.Authenticate(ctx, "seed-ä7", "not the password at all"); !errors.Is(err, identity.ErrInvalidCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
		found, err := f.p.FindAccount(ctx, "SEED-Ä7@EXAMPLE.COM")
		must(t, "FindAccount", err)
		byID, err := f.p.Account(ctx, seeded.ID)
		must(t, "Account", err)
		for _, a := range []*identity.Account{found, byID} {
			if a.ID != seeded.ID || a.Username != seeded.Username || a.Email != seeded.Email ||
				a.GivenName != "Seed" || a.Surname != "7" || !a.CreatedAt.Equal(seeded.CreatedAt) ||
				!a.PasswordModifiedAt.Equal(seeded.CreatedAt) {
				t.Fatalf("read back %+v, want %+v", a, seeded)
			}
		}
		for _, k := range in[7].APIKeys {
			acc, key, err := f.p.AuthenticateAPIKey(ctx, k.ID, secrets[k.ID])
			must(t, "AuthenticateAPIKey", err)
			if acc.ID != seeded.ID || key.ID != k.ID || key.Name != "seed" || key.Status != identity.StatusEnabled {
				t.Fatalf("AuthenticateAPIKey: %+v %+v", acc, key)
			}
		}
		if _, _, err := f.p.AuthenticateAPIKey(ctx, in[7].APIKeys[0].ID, secrets[in[8].APIKeys[0].ID]); !errors.Is(err, identity.ErrInvalidCredentials) {
			t.Fatalf("another key's secret: %v", err)
		}
		keys, err := f.p.ListAPIKeys(ctx, seeded.ID)
		must(t, "ListAPIKeys", err)
		if len(keys) != 2 || keys[0].ID != in[7].APIKeys[0].ID {
			t.Fatalf("ListAPIKeys: %+v", keys)
		}
		data, err := f.p.CustomData(ctx, seeded.ID)
		must(t, "CustomData", err)
		if data["plan"] != "gold" {
			t.Fatalf("custom data: %v", data)
		}
		for _, filter := range []identity.AccountFilter{{Username: "seed-ä7"}, {Email: "SEED-ä7@example.com"}, {Query: "ä7@"}} {
			list, err := f.p.ListAccounts(ctx, filter)
			must(t, "ListAccounts", err)
			if list.Total != 1 || len(list.Items) != 1 || list.Items[0].ID != seeded.ID {
				t.Fatalf("ListAccounts(%+v): %+v", filter, list)
			}
		}
		// Seeded accounts are in creation order, after none and before the
		// next one created normally.
		all, err := f.p.ListAccounts(ctx, identity.AccountFilter{Page: identity.Page{Limit: 100}})
		must(t, "ListAccounts", err)
		for i, a := range all.Items {
			if a.ID != got[i].ID {
				t.Fatalf("account %d in the list is %s, want %s", i, a.ID, got[i].ID)
			}
		}
		// The seeded login keys hold their namespace against the normal path.
		_, err = f.p.CreateAccount(ctx, identity.AccountCreate{Username: "seed-ä3@example.com", Password: "another long password"})
		wantErr(t, "CreateAccount with a seeded email as username", err, identity.Conflict("username"))
	})
}

// TestBulkCreateAccountsRows compares the rows of a seeded account with
// those CreateAccount writes for the same input.
func TestBulkCreateAccountsRows(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		f := newSeedFixture(t, dialect)
		ctx := context.Background()
		in := identity.AccountCreate{Username: "Ångström", Email: " Ang@Example.ORG ", GivenName: "Ände", Surname: "Straße", PasswordHash: f.hash}
		normal, err := f.p.CreateAccount(ctx, in)
		must(t, "CreateAccount", err)
		in.Username, in.Email = "Ångström2", "Ang2@Example.ORG"
		got, err := f.db.BulkCreateAccounts(ctx, f.app.ID, identity.Limits{}, []SeedAccount{{AccountCreate: in}})
		must(t, "BulkCreateAccounts", err)
		row := func(id string) []string {
			var cols [11]string
			err := f.db.sql.QueryRow(`SELECT username, username_key, email, email_key, given_name, given_name_key,
				surname, surname_key, status, password_hash, CAST(created_at = modified_at AND modified_at = password_modified_at AS TEXT)
				FROM accounts WHERE id = $1`, id).Scan(&cols[0], &cols[1], &cols[2], &cols[3], &cols[4], &cols[5],
				&cols[6], &cols[7], &cols[8], &cols[9], &cols[10])
			must(t, "read row", err)
			var logins []string
			rows, err := f.db.sql.Query(`SELECT login_key FROM account_logins WHERE account_id = $1 ORDER BY login_key`, id)
			must(t, "read logins", err)
			defer rows.Close()
			for rows.Next() {
				var k string
				must(t, "scan login", rows.Scan(&k))
				logins = append(logins, k)
			}
			return append(cols[:], logins...)
		}
		want := row(normal.ID)
		want[0], want[1], want[2], want[3] = "Ångström2", identity.FoldKey("Ångström2"), "Ang2@Example.ORG", "ang2@example.org"
		want[11], want[12] = "ang2@example.org", identity.FoldKey("Ångström2")
		if g := row(got[0].ID); strings.Join(g, "|") != strings.Join(want, "|") {
			t.Fatalf("seeded row\n%q\nwant\n%q", g, want)
		}
	})
}

// TestBulkCreateAccountsAllOrNothing checks that a bad account anywhere in
// a batch, or a login key taken by a stored account or earlier in the
// batch, fails the whole batch and stores none of it.
func TestBulkCreateAccountsAllOrNothing(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		f := newSeedFixture(t, dialect)
		ctx := context.Background()
		_, err := f.p.CreateAccount(ctx, identity.AccountCreate{Username: "stored", Email: "stored@example.com", PasswordHash: f.hash})
		must(t, "CreateAccount", err)
		before := f.counts(t)

		tooMany := make([]SeedAPIKey, 101)
		for i := range tooMany {
			tooMany[i] = SeedAPIKey{ID: apikey.NewID(), SecretHash: apikey.HashSecret(apikey.NewSecret())}
		}
		cases := []struct {
			name   string
			n      int
			change func([]SeedAccount)
			want   error
			index  int // of the account the error names
		}{
			{"duplicate username in the batch", 10, func(a []SeedAccount) { a[7].Username = "BATCH2" }, identity.Conflict("username"), 7},
			{"username of an earlier email", 10, func(a []SeedAccount) { a[5].Username = "Batch1@example.com" }, identity.Conflict("username"), 5},
			{"email of an earlier username", 10, func(a []SeedAccount) { a[1].Username = "one@x.org"; a[6].Email = "ONE@x.org" }, identity.Conflict("email"), 6},
			{"username of a stored account", 10, func(a []SeedAccount) { a[4].Username = "STORED" }, identity.Conflict("username"), 4},
			{"email of a stored account", 10, func(a []SeedAccount) { a[9].Email = "Stored@Example.com" }, identity.Conflict("email"), 9},
			// Past the first statement of each table (1000 accounts, 5000
			// login keys per statement).
			{"stored username in a later statement", 2600, func(a []SeedAccount) { a[2555].Username = "stored@example.com" }, identity.Conflict("username"), 2555},
			{"plain password", 10, func(a []SeedAccount) { a[3].Password = "a long enough password" }, identity.ErrInvalidInput, 3},
			{"no hash", 10, func(a []SeedAccount) { a[3].PasswordHash = "" }, identity.ErrInvalidInput, 3},
			{"bad hash", 10, func(a []SeedAccount) { a[3].PasswordHash = "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g" }, identity.ErrInvalidInput, 3},
			{"bad username", 10, func(a []SeedAccount) { a[6].Username = "gk_looks_like_a_key" }, identity.ErrInvalidInput, 6},
			{"bad email", 10, func(a []SeedAccount) { a[6].Email = "not an address" }, identity.ErrInvalidInput, 6},
			{"bad status", 10, func(a []SeedAccount) { a[6].Status = "ASLEEP" }, identity.ErrInvalidInput, 6},
			{"bad key id", 10, func(a []SeedAccount) { a[2].APIKeys[0].ID = "gk_short" }, identity.ErrInvalidInput, 2},
			{"bad key hash", 10, func(a []SeedAccount) { a[2].APIKeys[0].SecretHash = []byte("secret") }, identity.ErrInvalidInput, 2},
			{"key id twice", 10, func(a []SeedAccount) { a[8].APIKeys[0].ID = a[1].APIKeys[0].ID }, identity.ErrConflict, 8},
			{"too many keys", 10, func(a []SeedAccount) { a[2].APIKeys = tooMany }, identity.ErrLimitExceeded, 2},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				in, _ := f.seedAccounts("batch", c.n, 1)
				c.change(in)
				_, err := f.db.BulkCreateAccounts(ctx, f.app.ID, identity.Limits{}, in)
				wantErr(t, "BulkCreateAccounts", err, c.want)
				if want := fmt.Sprintf("account %d:", c.index); !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
				if after := f.counts(t); after != before {
					t.Fatalf("failed batch left rows: %v, had %v", after, before)
				}
			})
		}

		// A key id already stored fails in the database, inside the
		// transaction.
		in, _ := f.seedAccounts("ok", 3, 1)
		_, err = f.db.BulkCreateAccounts(ctx, f.app.ID, identity.Limits{}, in)
		must(t, "BulkCreateAccounts", err)
		before = f.counts(t)
		again, _ := f.seedAccounts("again", 3, 1)
		again[2].APIKeys[0].ID = in[0].APIKeys[0].ID
		_, err = f.db.BulkCreateAccounts(ctx, f.app.ID, identity.Limits{}, again)
		wantErr(t, "reused key id", err, identity.ErrConflict)
		if after := f.counts(t); after != before {
			t.Fatalf("failed batch left rows: %v, had %v", after, before)
		}

		_, err = f.db.BulkCreateAccounts(ctx, "no-such-app", identity.Limits{}, again)
		wantErr(t, "missing application", err, identity.NotFound("application"))
		got, err := f.db.BulkCreateAccounts(ctx, f.app.ID, identity.Limits{}, nil)
		if err != nil || len(got) != 0 {
			t.Fatalf("empty batch: %v, %v", got, err)
		}
	})
}
