package sqlstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/ids"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

func TestDSNDetection(t *testing.T) {
	for dsn, pg := range map[string]bool{
		"postgres://u@h/db":       true,
		"POSTGRESQL://u@h/db":     true,
		"gatehouse.db":            false,
		"file:gatehouse.db?x=1":   false,
		":memory:":                false,
		"postgres.db":             false,
		"/var/lib/postgres/x.db":  false,
		"postgresql:/not-a-url":   false,
		"file::memory:?cache=shr": false,
	} {
		if got := isPostgres(dsn); got != pg {
			t.Errorf("isPostgres(%q) = %v, want %v", dsn, got, pg)
		}
	}
	got, err := sqliteDSN("x.db", 5*time.Second)
	must(t, "sqliteDSN", err)
	want := "x.db?_pragma=busy_timeout%285000%29&_pragma=foreign_keys%281%29&_pragma=journal_mode%28WAL%29&_pragma=synchronous%28NORMAL%29&_txlock=immediate"
	if got != want {
		t.Errorf("sqliteDSN = %q, want %q", got, want)
	}
	// Settings already in the DSN are kept, not doubled.
	got, err = sqliteDSN("file:x.db?mode=rwc&_pragma=journal_mode(DELETE)&_txlock=exclusive", time.Second)
	must(t, "sqliteDSN", err)
	if strings.Count(got, "journal_mode") != 1 || strings.Count(got, "_txlock") != 1 || !strings.Contains(got, "busy_timeout%281000%29") {
		t.Errorf("sqliteDSN kept settings wrongly: %q", got)
	}
}

// TestSQLitePragmas checks that every pooled connection, not only the first,
// has the settings.
func TestSQLitePragmas(t *testing.T) {
	db := openTestDB(t, DialectSQLite)
	ctx := context.Background()
	conns := make([]interface{ Close() error }, 0, 4)
	for i := 0; i < 4; i++ {
		c, err := db.sql.Conn(ctx)
		must(t, "Conn", err)
		conns = append(conns, c)
		for pragma, want := range map[string]string{
			"foreign_keys": "1", "journal_mode": "wal", "busy_timeout": "5000", "synchronous": "1",
		} {
			var got string
			must(t, pragma, c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got))
			if got != want {
				t.Errorf("connection %d: PRAGMA %s = %s, want %s", i, pragma, got, want)
			}
		}
	}
	for _, c := range conns {
		c.Close()
	}
}

// TestNumberedPlaceholders checks that both drivers take $N placeholders,
// reused and out of order.
func TestNumberedPlaceholders(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		db := openTestDB(t, dialect)
		var a, b, c string
		err := db.sql.QueryRow(`SELECT $2, $1, $2 || $1`, "x", "y").Scan(&a, &b, &c)
		must(t, "query", err)
		if a != "y" || b != "x" || c != "yx" {
			t.Fatalf("got %q %q %q, want y x yx", a, b, c)
		}
	})
}

func TestMemoryDatabase(t *testing.T) {
	db := openDSN(t, ":memory:")
	app := newTestApp(t, db)
	b := db.Backend(app.ID)
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.InsertAccount(context.Background(), newAccount(fmt.Sprint("user", i), "")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	_, total, err := b.ListAccounts(context.Background(), identity.AccountFilter{Page: identity.Page{Limit: 5}})
	must(t, "ListAccounts", err)
	if total != 10 {
		t.Fatalf("total = %d, want 10 (every connection must see one database)", total)
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		dsn := testDSN(t, dialect)
		ctx := context.Background()
		db1 := openDSN(t, dsn)
		app, err := db1.Application(ctx, "persistent-"+ids.New(), true)
		must(t, "Application", err)
		acc := mustInsertAccount(t, db1.Backend(app.ID), "persistent", "")
		db1.Close()

		db2 := openDSN(t, dsn)
		db3 := openDSN(t, dsn)
		for _, db := range []*DB{db2, db3} {
			var n, max int
			must(t, "count migrations", db.sql.QueryRow(`SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &max))
			all, err := migrations(dialect)
			must(t, "migrations", err)
			if n != len(all) || max != all[len(all)-1].version {
				t.Fatalf("schema_migrations has %d rows up to %d, want %d up to %d", n, max, len(all), all[len(all)-1].version)
			}
		}
		got, err := db2.Backend(app.ID).AccountByID(ctx, acc.ID)
		must(t, "AccountByID after reopen", err)
		if got.Username != "persistent" {
			t.Fatalf("username = %q", got.Username)
		}
		must(t, "DeleteApplication", db2.DeleteApplication(ctx, app.Name))
	})
}

// TestMigrationsConcurrent opens one fresh database from several handles
// at once, as several processes starting together would.
func TestMigrationsConcurrent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		dsn := testDSN(t, dialect)
		if dialect == DialectPostgres {
			dsn = freshSchema(t, dsn)
		}
		const n = 6
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db, err := Open(context.Background(), dsn)
				if err == nil {
					db.Close()
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent Open: %v", err)
			}
		}
		db := openDSN(t, dsn)
		var count int
		must(t, "count", db.sql.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&count))
		if all, _ := migrations(dialect); count != len(all) {
			t.Fatalf("schema_migrations has %d rows, want %d", count, len(all))
		}
	})
}

// freshSchema creates an empty PostgreSQL schema, dropped when the test
// ends, and returns a DSN whose search_path is that schema.
func freshSchema(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Skipf("cannot add search_path to DSN %q: %v", dsn, err)
	}
	schema := "gh_test_" + strings.ToLower(ids.RandomString(10))
	admin := openDSN(t, dsn)
	_, err = admin.sql.Exec(`CREATE SCHEMA ` + schema)
	must(t, "create schema", err)
	t.Cleanup(func() {
		if _, err := admin.sql.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestTooNewSchemaRefused(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		dsn := testDSN(t, dialect)
		if dialect == DialectPostgres {
			dsn = freshSchema(t, dsn)
		}
		db := openDSN(t, dsn)
		_, err := db.sql.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`)
		must(t, "insert", err)
		if _, err := Open(context.Background(), dsn); err == nil || !strings.Contains(err.Error(), "newer") {
			t.Fatalf("Open of a newer schema: %v, want refusal", err)
		}
	})
}

func TestApplications(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		db := openTestDB(t, dialect)
		ctx := context.Background()
		name := "app-" + ids.New()
		_, err := db.Application(ctx, name, false)
		wantErr(t, "missing application", err, identity.NotFound("application"))

		// Concurrent creation converges on one application.
		var wg sync.WaitGroup
		got := make([]string, 10)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a, err := db.Application(ctx, name, true)
				if err != nil {
					t.Error(err)
					return
				}
				got[i] = a.ID
			}()
		}
		wg.Wait()
		for _, id := range got[1:] {
			if id != got[0] {
				t.Fatalf("concurrent creation made several applications: %v", got)
			}
		}
		t.Cleanup(func() { db.DeleteApplication(ctx, name) })

		// Applications are isolated: same username, different accounts.
		other := newTestApp(t, db)
		a1 := mustInsertAccount(t, db.Backend(got[0]), "same", "same@example.com")
		a2 := mustInsertAccount(t, db.Backend(other.ID), "same", "same@example.com")
		if _, err := db.Backend(other.ID).AccountByID(ctx, a1.ID); !errors.Is(err, identity.ErrNotFound) {
			t.Fatalf("account of another application visible: %v", err)
		}
		r, err := db.Backend(other.ID).AccountByLogin(ctx, "same")
		must(t, "AccountByLogin", err)
		if r.ID != a2.ID {
			t.Fatalf("AccountByLogin found %s, want %s", r.ID, a2.ID)
		}
		g := mustInsertGroup(t, db.Backend(other.ID), "admins")
		wantErr(t, "cross-application membership", db.Backend(got[0]).AddMember(ctx, a1.ID, g.ID), identity.NotFound("group"))

		p, err := db.Provider(ctx, name, store.Options{})
		must(t, "Provider", err)
		settings, _ := p.TokenSettings(ctx)
		if settings.Audience != name {
			t.Fatalf("audience = %q, want %q", settings.Audience, name)
		}
		apps, err := db.Applications(ctx)
		must(t, "Applications", err)
		found := 0
		for i, a := range apps {
			if a.Name == name || a.Name == other.Name {
				found++
			}
			if i > 0 && apps[i-1].Name >= a.Name {
				t.Fatalf("Applications not ordered by name: %q before %q", apps[i-1].Name, a.Name)
			}
			if a.CreatedAt.IsZero() || a.CreatedAt.Location() != time.UTC {
				t.Fatalf("application %q created at %v", a.Name, a.CreatedAt)
			}
		}
		if found != 2 {
			t.Fatalf("Applications lists %d of the 2 test applications", found)
		}
		must(t, "DeleteApplication", db.DeleteApplication(ctx, other.Name))
		if _, err := db.Backend(other.ID).AccountByID(ctx, a2.ID); !errors.Is(err, identity.ErrNotFound) {
			t.Fatalf("account survived its application: %v", err)
		}
		wantErr(t, "delete missing application", db.DeleteApplication(ctx, other.Name), identity.NotFound("application"))
	})
}

func TestAccountsRoundTrip(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		_, b := newTestBackend(t, dialect)
		ctx := context.Background()
		loc := time.FixedZone("UTC+5", 5*3600)
		r := newAccount("Ålice", "Alice@Example.com")
		r.GivenName, r.Surname, r.Status = "Ålice", "Lidell", identity.StatusUnverified
		r.CreatedAt = time.Date(2001, 2, 3, 4, 5, 6, 789_000_000, loc)
		r.ModifiedAt = time.Date(2030, 12, 31, 23, 59, 59, 999_000_000, time.UTC)
		r.PasswordModifiedAt = time.UnixMilli(1)
		must(t, "InsertAccount", b.InsertAccount(ctx, r))
		got, err := b.AccountByID(ctx, r.ID)
		must(t, "AccountByID", err)
		want := *r
		want.CreatedAt, want.ModifiedAt, want.PasswordModifiedAt = r.CreatedAt.UTC(), r.ModifiedAt.UTC(), r.PasswordModifiedAt.UTC()
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", *got, want)
		}
		for _, tm := range []time.Time{got.CreatedAt, got.ModifiedAt, got.PasswordModifiedAt} {
			if tm.Location() != time.UTC {
				t.Fatalf("time %v not in UTC", tm)
			}
		}
		for _, login := range []string{"ålice", "alice@example.com"} {
			byLogin, err := b.AccountByLogin(ctx, login)
			must(t, "AccountByLogin "+login, err)
			if !reflect.DeepEqual(*byLogin, want) {
				t.Fatalf("AccountByLogin(%q) = %+v", login, byLogin)
			}
		}
		_, err = b.AccountByLogin(ctx, "Ålice") // keys are folded by the caller
		wantErr(t, "unfolded login", err, identity.NotFound("account"))
		_, err = b.AccountByID(ctx, "nope")
		wantErr(t, "missing account", err, identity.NotFound("account"))
	})
}

func TestLoginNamespace(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		db, b := newTestBackend(t, dialect)
		ctx := context.Background()
		alice := mustInsertAccount(t, b, "alice", "alice@example.com")

		// A username may not be another account's email, nor an email
		// another's username; the error names the field that collided.
		err := b.InsertAccount(ctx, newAccount("ALICE@example.com", ""))
		wantErr(t, "username = other's email", err, identity.Conflict("username"))
		err = b.InsertAccount(ctx, newAccount("bob", "alice"))
		wantErr(t, "email = other's username", err, identity.Conflict("email"))
		err = b.InsertAccount(ctx, newAccount("bob", "Alice@Example.com"))
		wantErr(t, "email = other's email", err, identity.Conflict("email"))
		// Both taken: username is reported, whatever the key order.
		err = b.InsertAccount(ctx, newAccount("alice@example.com", "alice"))
		wantErr(t, "both taken", err, identity.Conflict("username"))
		err = b.InsertAccount(ctx, newAccount("alice", "zzz@example.com"))
		wantErr(t, "both taken", err, identity.Conflict("username"))
		// Nothing of the failed inserts remains.
		_, total, err := b.ListAccounts(ctx, identity.AccountFilter{Page: identity.Page{Limit: 10}})
		must(t, "ListAccounts", err)
		if total != 1 {
			t.Fatalf("%d accounts after failed inserts, want 1", total)
		}

		// An email equal to the own username takes one login row.
		carol := mustInsertAccount(t, b, "carol@example.com", "Carol@example.com")
		var rows int
		must(t, "count logins", db.sql.QueryRow(`SELECT COUNT(*) FROM account_logins WHERE account_id = $1`, carol.ID).Scan(&rows))
		if rows != 1 {
			t.Fatalf("%d login rows for username == email, want 1", rows)
		}

		// Updates: taking another's key conflicts and changes nothing.
		bob := mustInsertAccount(t, b, "bob", "")
		_, err = b.UpdateAccount(ctx, bob.ID, func(r *store.AccountRecord) error {
			r.Email, r.EmailKey = "alice", "alice"
			r.GivenName = "changed"
			return nil
		})
		wantErr(t, "update email to other's username", err, identity.Conflict("email"))
		_, err = b.UpdateAccount(ctx, bob.ID, func(r *store.AccountRecord) error {
			r.Username, r.UsernameKey = "Alice@example.com", "alice@example.com"
			return nil
		})
		wantErr(t, "update username to other's email", err, identity.Conflict("username"))
		got, err := b.AccountByID(ctx, bob.ID)
		must(t, "AccountByID", err)
		if got.GivenName != "" || got.EmailKey != "" || got.UsernameKey != "bob" {
			t.Fatalf("failed update changed the account: %+v", got)
		}
		if r, err := b.AccountByLogin(ctx, "bob"); err != nil || r.ID != bob.ID {
			t.Fatalf("bob's login lost after failed update: %v", err)
		}

		// Swapping one's own username and email is fine, and frees nothing.
		_, err = b.UpdateAccount(ctx, alice.ID, func(r *store.AccountRecord) error {
			r.Username, r.UsernameKey, r.Email, r.EmailKey = "alice@example.com", "alice@example.com", "alice", "alice"
			return nil
		})
		must(t, "swap", err)
		// Changing the email releases the old one.
		_, err = b.UpdateAccount(ctx, alice.ID, func(r *store.AccountRecord) error {
			r.Email, r.EmailKey = "new@example.com", "new@example.com"
			return nil
		})
		must(t, "change email", err)
		if _, err := b.AccountByLogin(ctx, "alice"); !errors.Is(err, identity.ErrNotFound) {
			t.Fatalf("old email still a login: %v", err)
		}
		mustInsertAccount(t, b, "alice", "")
		for key, want := range map[string]string{"alice@example.com": alice.ID, "new@example.com": alice.ID} {
			if r, err := b.AccountByLogin(ctx, key); err != nil || r.ID != want {
				t.Fatalf("AccountByLogin(%q) = %v, %v", key, r, err)
			}
		}
	})
}

func TestUpdateAccount(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		_, b := newTestBackend(t, dialect)
		ctx := context.Background()
		a := mustInsertAccount(t, b, "dave", "dave@example.com")
		boom := errors.New("boom")
		_, err := b.UpdateAccount(ctx, a.ID, func(r *store.AccountRecord) error {
			r.Username, r.UsernameKey = "x", "x"
			return boom
		})
		if err != boom {
			t.Fatalf("closure error: got %v, want it unchanged", err)
		}
		if r, _ := b.AccountByID(ctx, a.ID); r.Username != "dave" {
			t.Fatalf("aborted update stored %q", r.Username)
		}
		later := a.ModifiedAt.Add(time.Hour)
		got, err := b.UpdateAccount(ctx, a.ID, func(r *store.AccountRecord) error {
			r.Status, r.PasswordHash, r.ModifiedAt, r.PasswordModifiedAt = identity.StatusDisabled, "$argon2id$new", later, later
			r.GivenName, r.Surname = "Dave", "Ürban"
			return nil
		})
		must(t, "UpdateAccount", err)
		stored, err := b.AccountByID(ctx, a.ID)
		must(t, "AccountByID", err)
		if !reflect.DeepEqual(*stored, *got) || stored.Status != identity.StatusDisabled || stored.PasswordHash != "$argon2id$new" ||
			!stored.ModifiedAt.Equal(later) || stored.Surname != "Ürban" {
			t.Fatalf("stored %+v, returned %+v", stored, got)
		}
		// The folded name is searchable after the update.
		recs, _, err := b.ListAccounts(ctx, identity.AccountFilter{Query: identity.FoldKey("ÜRB"), Page: identity.Page{Limit: 10}})
		must(t, "ListAccounts", err)
		if len(recs) != 1 {
			t.Fatalf("query after update found %d", len(recs))
		}
		_, err = b.UpdateAccount(ctx, "missing", func(*store.AccountRecord) error { return nil })
		wantErr(t, "update missing", err, identity.NotFound("account"))
	})
}

func TestListAccounts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		_, b := newTestBackend(t, dialect)
		ctx := context.Background()
		var all []*store.AccountRecord
		add := func(username, email, given, surname string, status identity.Status) {
			r := newAccount(username, email)
			r.GivenName, r.Surname, r.Status = given, surname, status
			// Creation times out of order: the order is insertion, not time.
			r.CreatedAt = time.UnixMilli(int64(1e12) - int64(len(all))*1000).UTC()
			must(t, "InsertAccount", b.InsertAccount(ctx, r))
			all = append(all, r)
		}
		add("zed", "zed@example.com", "Zed", "Zulu", identity.StatusEnabled)
		add("amy", "", "Amy", "Adams", identity.StatusDisabled)
		add("100%_sure", "percent@example.com", "", "", identity.StatusEnabled)
		add("1000_sure", "", "", "", identity.StatusEnabled)
		add(`back\slash`, "", "Çelik", "Straße", identity.StatusUnverified)
		for i := 0; i < 7; i++ {
			add(fmt.Sprintf("user%02d", i), fmt.Sprintf("user%02d@test.org", i), "", "", identity.StatusEnabled)
		}
		ids := func(recs []*store.AccountRecord) string {
			var s []string
			for _, r := range recs {
				s = append(s, r.Username)
			}
			return strings.Join(s, ",")
		}
		page := identity.Page{Limit: 100}
		for _, tc := range []struct {
			name  string
			f     identity.AccountFilter
			want  string
			total int
		}{
			{"all", identity.AccountFilter{Page: page}, ids(all), len(all)},
			{"page", identity.AccountFilter{Page: identity.Page{Offset: 2, Limit: 3}}, "100%_sure,1000_sure,back\\slash", len(all)},
			{"past end", identity.AccountFilter{Page: identity.Page{Offset: 50, Limit: 3}}, "", len(all)},
			{"username", identity.AccountFilter{Username: "amy", Page: page}, "amy", 1},
			{"username not substring", identity.AccountFilter{Username: "am", Page: page}, "", 0},
			{"email", identity.AccountFilter{Email: "zed@example.com", Page: page}, "zed", 1},
			{"status", identity.AccountFilter{Status: identity.StatusDisabled, Page: page}, "amy", 1},
			{"query username", identity.AccountFilter{Query: "user0", Page: identity.Page{Limit: 2}}, "user00,user01", 7},
			{"query email", identity.AccountFilter{Query: "@test.org", Page: page}, "user00,user01,user02,user03,user04,user05,user06", 7},
			{"query given name", identity.AccountFilter{Query: identity.FoldKey("ÇEL"), Page: page}, `back\slash`, 1},
			{"query surname folded", identity.AccountFilter{Query: identity.FoldKey("STRASSE"), Page: page}, `back\slash`, 1},
			{"query surname", identity.AccountFilter{Query: "dams", Page: page}, "amy", 1},
			{"query percent literal", identity.AccountFilter{Query: "0%", Page: page}, "100%_sure", 1},
			{"query underscore literal", identity.AccountFilter{Query: "0_", Page: page}, "1000_sure", 1},
			{"query percent alone", identity.AccountFilter{Query: "%", Page: page}, "100%_sure", 1},
			{"query backslash", identity.AccountFilter{Query: `k\s`, Page: page}, `back\slash`, 1},
			{"query and status", identity.AccountFilter{Query: "z", Status: identity.StatusEnabled, Page: page}, "zed", 1},
			{"query and other status", identity.AccountFilter{Query: "z", Status: identity.StatusDisabled, Page: page}, "", 0},
			{"query, status and username", identity.AccountFilter{Query: "ams", Status: identity.StatusDisabled, Username: "amy", Page: page}, "amy", 1},
			{"query no match", identity.AccountFilter{Query: "nobody", Page: page}, "", 0},
		} {
			recs, total, err := b.ListAccounts(ctx, tc.f)
			must(t, tc.name, err)
			if got := ids(recs); got != tc.want || total != tc.total {
				t.Errorf("%s: got %q (total %d), want %q (total %d)", tc.name, got, total, tc.want, tc.total)
			}
			if recs == nil {
				t.Errorf("%s: nil slice", tc.name)
			}
		}
	})
}

// TestConcurrentInsertSameUsername races many inserts of one username:
// exactly one wins. SQLite's racers use two handles, as two processes would.
func TestConcurrentInsertSameUsername(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		dsn := testDSN(t, dialect)
		db1 := openDSN(t, dsn)
		db2 := openDSN(t, dsn)
		app := newTestApp(t, db1)
		backends := []store.Backend{db1.Backend(app.ID), db2.Backend(app.ID)}
		const n = 50
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				// Half collide on the username, half on the email as well.
				email := ""
				if i%2 == 1 {
					email = fmt.Sprintf("racer%d@example.com", i)
				}
				errs[i] = backends[i%2].InsertAccount(context.Background(), newAccount("Racer", email))
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, identity.Conflict("username")):
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d inserts succeeded, want exactly 1", ok)
		}
		_, total, err := backends[0].ListAccounts(context.Background(), identity.AccountFilter{Page: identity.Page{Limit: 1}})
		must(t, "ListAccounts", err)
		if total != 1 {
			t.Fatalf("%d accounts stored, want 1", total)
		}
	})
}

// TestConcurrentCustomData increments a counter from many goroutines (over
// two handles) through UpdateCustomData: no update may be lost.
func TestConcurrentCustomData(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		dsn := testDSN(t, dialect)
		db1 := openDSN(t, dsn)
		db2 := openDSN(t, dsn)
		app := newTestApp(t, db1)
		backends := []store.Backend{db1.Backend(app.ID), db2.Backend(app.ID)}
		acc := mustInsertAccount(t, backends[0], "counter", "")
		const n = 20
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := backends[i%2].UpdateCustomData(context.Background(), acc.ID, func(old []byte) ([]byte, error) {
					var v struct{ Count int }
					if old != nil {
						if err := json.Unmarshal(old, &v); err != nil {
							return nil, err
						}
					}
					time.Sleep(time.Millisecond) // widen the window a lost update needs
					v.Count++
					return json.Marshal(v)
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		data, err := backends[0].CustomData(context.Background(), acc.ID)
		must(t, "CustomData", err)
		if string(data) != fmt.Sprintf(`{"Count":%d}`, n) {
			t.Fatalf("custom data = %s, want Count %d", data, n)
		}
	})
}

func TestCustomData(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		_, b := newTestBackend(t, dialect)
		ctx := context.Background()
		acc := mustInsertAccount(t, b, "erin", "")
		data, err := b.CustomData(ctx, acc.ID)
		must(t, "CustomData", err)
		if data != nil {
			t.Fatalf("fresh custom data = %q, want nil", data)
		}
		// Stored byte for byte: key order and spacing kept.
		doc := `{"z": 1, "a": {"ü": [true, null, 1.50]}}`
		must(t, "UpdateCustomData", b.UpdateCustomData(ctx, acc.ID, func(old []byte) ([]byte, error) {
			if old != nil {
				t.Errorf("old = %q, want nil", old)
			}
			return []byte(doc), nil
		}))
		data, err = b.CustomData(ctx, acc.ID)
		must(t, "CustomData", err)
		if string(data) != doc {
			t.Fatalf("custom data = %s, want %s", data, doc)
		}
		boom := errors.New("boom")
		err = b.UpdateCustomData(ctx, acc.ID, func(old []byte) ([]byte, error) {
			if string(old) != doc {
				t.Errorf("old = %s", old)
			}
			return []byte(`{}`), boom
		})
		if err != boom {
			t.Fatalf("closure error: got %v", err)
		}
		if data, _ := b.CustomData(ctx, acc.ID); string(data) != doc {
			t.Fatalf("aborted update stored %s", data)
		}
		_, err = b.CustomData(ctx, "missing")
		wantErr(t, "CustomData of missing account", err, identity.NotFound("account"))
		err = b.UpdateCustomData(ctx, "missing", func([]byte) ([]byte, error) { t.Error("fn called"); return nil, nil })
		wantErr(t, "UpdateCustomData of missing account", err, identity.NotFound("account"))
	})
}

func TestAPIKeys(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		_, b := newTestBackend(t, dialect)
		ctx := context.Background()
		acc := mustInsertAccount(t, b, "frank", "")
		other := mustInsertAccount(t, b, "grace", "")
		var keys []*store.APIKeyRecord
		for i := 0; i < 3; i++ {
			k := newKey(acc.ID)
			k.Name = fmt.Sprint("key", i)
			k.CreatedAt = time.UnixMilli(int64(1e12) - int64(i)).UTC() // order is insertion, not time
			must(t, "InsertAPIKey", b.InsertAPIKey(ctx, k, 3))
			keys = append(keys, k)
		}
		wantErr(t, "fourth key", b.InsertAPIKey(ctx, newKey(acc.ID), 3), identity.ErrLimitExceeded)
		must(t, "other account's key", b.InsertAPIKey(ctx, newKey(other.ID), 3))
		wantErr(t, "key of missing account", b.InsertAPIKey(ctx, newKey("missing"), 3), identity.NotFound("account"))

		list, err := b.ListAPIKeys(ctx, acc.ID)
		must(t, "ListAPIKeys", err)
		if len(list) != 3 {
			t.Fatalf("%d keys", len(list))
		}
		for i, k := range list {
			if k.ID != keys[i].ID || !bytes.Equal(k.SecretHash, keys[i].SecretHash) || !k.CreatedAt.Equal(keys[i].CreatedAt) || k.Name != keys[i].Name {
				t.Fatalf("key %d = %+v, want %+v", i, k, keys[i])
			}
		}
		_, err = b.ListAPIKeys(ctx, "missing")
		wantErr(t, "ListAPIKeys of missing account", err, identity.NotFound("account"))
		empty := mustInsertAccount(t, b, "heidi", "")
		if list, err := b.ListAPIKeys(ctx, empty.ID); err != nil || list == nil || len(list) != 0 {
			t.Fatalf("ListAPIKeys of keyless account = %v, %v; want empty", list, err)
		}

		k, err := b.SetAPIKeyStatus(ctx, keys[1].ID, identity.StatusDisabled)
		must(t, "SetAPIKeyStatus", err)
		if k.Status != identity.StatusDisabled || k.ID != keys[1].ID || !bytes.Equal(k.SecretHash, keys[1].SecretHash) {
			t.Fatalf("SetAPIKeyStatus = %+v", k)
		}
		if k, _ := b.APIKey(ctx, keys[1].ID); k.Status != identity.StatusDisabled {
			t.Fatalf("status not stored")
		}
		_, err = b.SetAPIKeyStatus(ctx, "gk_missing", identity.StatusEnabled)
		wantErr(t, "SetAPIKeyStatus missing", err, identity.NotFound("api_key"))
		must(t, "DeleteAPIKey", b.DeleteAPIKey(ctx, keys[0].ID))
		wantErr(t, "DeleteAPIKey again", b.DeleteAPIKey(ctx, keys[0].ID), identity.NotFound("api_key"))
		_, err = b.APIKey(ctx, keys[0].ID)
		wantErr(t, "APIKey deleted", err, identity.NotFound("api_key"))
		must(t, "InsertAPIKey after delete", b.InsertAPIKey(ctx, newKey(acc.ID), 3))
	})
}

func TestGroups(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		_, b := newTestBackend(t, dialect)
		ctx := context.Background()
		// Bytewise order of folded names: "_" (0x5f) sorts after "Z" but
		// before "a"; "é" after every ASCII letter.
		var gs []*store.GroupRecord
		for _, name := range []string{"beta", "Éclair", "_under", "Alpha", "zulu", "a b"} {
			gs = append(gs, mustInsertGroup(t, b, name))
		}
		wantErr(t, "duplicate name", b.InsertGroup(ctx, newGroup("ALPHA")), identity.Conflict("name"))
		recs, total, err := b.ListGroups(ctx, identity.GroupFilter{Page: identity.Page{Limit: 100}})
		must(t, "ListGroups", err)
		var names []string
		for _, g := range recs {
			names = append(names, g.Name)
		}
		if got, want := strings.Join(names, ","), "_under,a b,Alpha,beta,zulu,Éclair"; got != want || total != 6 {
			t.Fatalf("groups = %s (total %d), want %s", got, total, want)
		}
		recs, total, err = b.ListGroups(ctx, identity.GroupFilter{Name: "alpha", Page: identity.Page{Limit: 100}})
		must(t, "ListGroups by name", err)
		if len(recs) != 1 || total != 1 || recs[0].ID != gs[3].ID || *recs[0] != *gs[3] {
			t.Fatalf("by name: %v %d", recs, total)
		}
		recs, total, err = b.ListGroups(ctx, identity.GroupFilter{Page: identity.Page{Offset: 4, Limit: 5}})
		must(t, "ListGroups page", err)
		if len(recs) != 2 || total != 6 || recs[0].Name != "zulu" {
			t.Fatalf("page: %v %d", recs, total)
		}
		_, err = b.Group(ctx, "missing")
		wantErr(t, "missing group", err, identity.NotFound("group"))

		a1 := mustInsertAccount(t, b, "ivan", "")
		a2 := mustInsertAccount(t, b, "judy", "")
		a3 := mustInsertAccount(t, b, "kim", "")
		for _, a := range []*store.AccountRecord{a3, a1, a2} {
			must(t, "AddMember", b.AddMember(ctx, a.ID, gs[0].ID))
		}
		must(t, "AddMember again", b.AddMember(ctx, a1.ID, gs[0].ID))
		must(t, "AddMember", b.AddMember(ctx, a1.ID, gs[4].ID))
		must(t, "AddMember", b.AddMember(ctx, a1.ID, gs[2].ID))
		wantErr(t, "AddMember missing account", b.AddMember(ctx, "missing", gs[0].ID), identity.NotFound("account"))
		wantErr(t, "AddMember missing group", b.AddMember(ctx, a1.ID, "missing"), identity.NotFound("group"))
		wantErr(t, "AddMember both missing", b.AddMember(ctx, "missing", "missing"), identity.NotFound("account"))

		members, total, err := b.GroupMembers(ctx, gs[0].ID, identity.Page{Limit: 2})
		must(t, "GroupMembers", err)
		if total != 3 || len(members) != 2 || members[0].ID != a1.ID || members[1].ID != a2.ID {
			t.Fatalf("members (by creation) = %v, total %d", members, total)
		}
		if members[0].PasswordHash != a1.PasswordHash || members[0].UsernameKey != "ivan" {
			t.Fatalf("member record incomplete: %+v", members[0])
		}
		members, _, err = b.GroupMembers(ctx, gs[0].ID, identity.Page{Offset: 2, Limit: 2})
		must(t, "GroupMembers page 2", err)
		if len(members) != 1 || members[0].ID != a3.ID {
			t.Fatalf("page 2 = %v", members)
		}
		_, _, err = b.GroupMembers(ctx, "missing", identity.Page{Limit: 2})
		wantErr(t, "GroupMembers missing", err, identity.NotFound("group"))

		groups, err := b.AccountGroups(ctx, a1.ID)
		must(t, "AccountGroups", err)
		if len(groups) != 3 || groups[0].Name != "_under" || groups[1].Name != "beta" || groups[2].Name != "zulu" {
			t.Fatalf("account groups = %v", groups)
		}
		if groups, err := b.AccountGroups(ctx, a2.ID); err != nil || len(groups) != 1 {
			t.Fatalf("AccountGroups(a2) = %v, %v", groups, err)
		}
		_, err = b.AccountGroups(ctx, "missing")
		wantErr(t, "AccountGroups missing", err, identity.NotFound("account"))

		wantErr(t, "RemoveMember non-member", b.RemoveMember(ctx, a2.ID, gs[4].ID), identity.NotFound("membership"))
		wantErr(t, "RemoveMember missing account", b.RemoveMember(ctx, "missing", gs[4].ID), identity.NotFound("account"))
		wantErr(t, "RemoveMember missing group", b.RemoveMember(ctx, a2.ID, "missing"), identity.NotFound("group"))
		must(t, "RemoveMember", b.RemoveMember(ctx, a2.ID, gs[0].ID))
		wantErr(t, "RemoveMember twice", b.RemoveMember(ctx, a2.ID, gs[0].ID), identity.NotFound("membership"))

		must(t, "DeleteGroup", b.DeleteGroup(ctx, gs[0].ID))
		wantErr(t, "DeleteGroup twice", b.DeleteGroup(ctx, gs[0].ID), identity.NotFound("group"))
		if groups, _ := b.AccountGroups(ctx, a1.ID); len(groups) != 2 {
			t.Fatalf("memberships of deleted group remain: %v", groups)
		}
		mustInsertGroup(t, b, "BETA") // the name is free again
	})
}

func TestDeleteAccountCascade(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		db, b := newTestBackend(t, dialect)
		ctx := context.Background()
		acc := mustInsertAccount(t, b, "mallory", "mallory@example.com")
		keep := mustInsertAccount(t, b, "oscar", "")
		g := mustInsertGroup(t, b, "staff")
		k := newKey(acc.ID)
		must(t, "InsertAPIKey", b.InsertAPIKey(ctx, k, 10))
		must(t, "InsertAPIKey", b.InsertAPIKey(ctx, newKey(keep.ID), 10))
		must(t, "AddMember", b.AddMember(ctx, acc.ID, g.ID))
		must(t, "AddMember", b.AddMember(ctx, keep.ID, g.ID))
		for _, id := range []string{acc.ID, keep.ID} {
			must(t, "UpdateCustomData", b.UpdateCustomData(ctx, id, func([]byte) ([]byte, error) { return []byte(`{"a":1}`), nil }))
		}

		must(t, "DeleteAccount", b.DeleteAccount(ctx, acc.ID))
		wantErr(t, "DeleteAccount twice", b.DeleteAccount(ctx, acc.ID), identity.NotFound("account"))
		for table, col := range map[string]string{
			"accounts": "id", "account_logins": "account_id", "api_keys": "account_id",
			"custom_data": "account_id", "memberships": "account_id",
		} {
			var n int
			must(t, table, db.sql.QueryRow(`SELECT COUNT(*) FROM `+table+` WHERE `+col+` = $1`, acc.ID).Scan(&n))
			if n != 0 {
				t.Errorf("%d rows of the deleted account remain in %s", n, table)
			}
			must(t, table, db.sql.QueryRow(`SELECT COUNT(*) FROM `+table+` WHERE `+col+` = $1`, keep.ID).Scan(&n))
			if n == 0 {
				t.Errorf("the other account's rows in %s were deleted", table)
			}
		}
		_, err := b.APIKey(ctx, k.ID)
		wantErr(t, "key of deleted account", err, identity.NotFound("api_key"))
		members, total, err := b.GroupMembers(ctx, g.ID, identity.Page{Limit: 10})
		must(t, "GroupMembers", err)
		if total != 1 || members[0].ID != keep.ID {
			t.Fatalf("members after delete = %v", members)
		}
		// The login keys are free again.
		again := mustInsertAccount(t, b, "mallory@example.com", "MALLORY")
		if r, err := b.AccountByLogin(ctx, "mallory"); err != nil || r.ID != again.ID {
			t.Fatalf("login after re-create: %v %v", r, err)
		}
	})
}

// TestForeignKeysCascade deletes an account by SQL alone, to check that the
// schema's foreign keys are enforced (SQLite needs foreign_keys=ON on every
// connection) and cascade.
func TestForeignKeysCascade(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		db, b := newTestBackend(t, dialect)
		ctx := context.Background()
		acc := mustInsertAccount(t, b, "peggy", "peggy@example.com")
		g := mustInsertGroup(t, b, "g")
		must(t, "InsertAPIKey", b.InsertAPIKey(ctx, newKey(acc.ID), 10))
		must(t, "AddMember", b.AddMember(ctx, acc.ID, g.ID))
		must(t, "UpdateCustomData", b.UpdateCustomData(ctx, acc.ID, func([]byte) ([]byte, error) { return []byte(`{}`), nil }))
		_, err := db.sql.Exec(`DELETE FROM accounts WHERE id = $1`, acc.ID)
		must(t, "raw delete", err)
		for _, table := range []string{"account_logins", "api_keys", "custom_data", "memberships"} {
			var n int
			must(t, table, db.sql.QueryRow(`SELECT COUNT(*) FROM `+table+` WHERE account_id = $1`, acc.ID).Scan(&n))
			if n != 0 {
				t.Errorf("foreign key did not cascade to %s", table)
			}
		}
		_, err = db.sql.Exec(`INSERT INTO memberships (account_id, group_id) VALUES ($1, $2)`, "nobody", g.ID)
		if err == nil {
			t.Fatal("membership of a missing account accepted: foreign keys not enforced")
		}
	})
}

func TestSigningKeys(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		db, b := newTestBackend(t, dialect)
		ctx := context.Background()
		t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		keys, err := b.SigningKeys(ctx, t0)
		must(t, "SigningKeys", err)
		if len(keys) != 0 {
			t.Fatalf("fresh store has keys %v", keys)
		}
		key := func(id string, created time.Time) store.SigningKeyRecord {
			return store.SigningKeyRecord{ID: id, PrivateKey: []byte("der-" + id + "\x00\xff"), CreatedAt: created}
		}
		ttl := 24 * time.Hour
		must(t, "rotate 1", b.RotateSigningKey(ctx, key("k1", t0), t0.Add(ttl)))
		t1 := t0.Add(time.Hour)
		must(t, "rotate 2", b.RotateSigningKey(ctx, key("k2", t1), t1.Add(ttl)))
		t2 := t1.Add(time.Hour)
		// A clock that went backwards: order is still by rotation.
		must(t, "rotate 3", b.RotateSigningKey(ctx, key("k3", t0.Add(-time.Hour)), t2.Add(ttl)))

		ids := func(keys []store.SigningKeyRecord) string {
			var s []string
			for _, k := range keys {
				s = append(s, k.ID)
			}
			return strings.Join(s, ",")
		}
		keys, err = b.SigningKeys(ctx, t2)
		must(t, "SigningKeys", err)
		if ids(keys) != "k3,k2,k1" {
			t.Fatalf("keys = %s, want k3,k2,k1", ids(keys))
		}
		if !keys[0].RetireAt.IsZero() || !keys[1].RetireAt.Equal(t2.Add(ttl)) || !keys[2].RetireAt.Equal(t1.Add(ttl)) {
			t.Fatalf("retire times: %v %v %v", keys[0].RetireAt, keys[1].RetireAt, keys[2].RetireAt)
		}
		if string(keys[2].PrivateKey) != "der-k1\x00\xff" || !keys[2].CreatedAt.Equal(t0) || !keys[0].CreatedAt.Equal(t0.Add(-time.Hour)) {
			t.Fatalf("key k1 = %+v", keys[2])
		}
		// Retired exactly at RetireAt.
		keys, _ = b.SigningKeys(ctx, t1.Add(ttl))
		if ids(keys) != "k3,k2" {
			t.Fatalf("at k1's retirement: %s", ids(keys))
		}
		keys, _ = b.SigningKeys(ctx, t2.Add(ttl))
		if ids(keys) != "k3" {
			t.Fatalf("after retirements: %s", ids(keys))
		}
		var nulls int
		must(t, "count", db.sql.QueryRow(`SELECT COUNT(*) FROM signing_keys WHERE retire_at IS NULL AND id = 'k3'`).Scan(&nulls))
		if nulls != 1 {
			t.Fatalf("current key's retire_at is not NULL")
		}
	})
}

func TestConcurrentRotation(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		_, b := newTestBackend(t, dialect)
		ctx := context.Background()
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k := store.SigningKeyRecord{ID: fmt.Sprint("k", i), PrivateKey: []byte{1}, CreatedAt: now()}
				if err := b.RotateSigningKey(ctx, k, now().Add(time.Hour)); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		keys, err := b.SigningKeys(ctx, now())
		must(t, "SigningKeys", err)
		current := 0
		for _, k := range keys {
			if k.RetireAt.IsZero() {
				current++
			}
		}
		if len(keys) != 8 || current != 1 || !keys[0].RetireAt.IsZero() {
			t.Fatalf("%d keys, %d current (first current: %v)", len(keys), current, keys[0].RetireAt.IsZero())
		}
	})
}

// TestRevocationFeed: revocations come back by revocation time, from a
// watermark on, without expired ones; a repeat that extends the expiry
// moves the revocation forward so pollers see it again.
func TestRevocationFeed(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		_, b := newTestBackend(t, dialect)
		ctx := context.Background()
		t0 := now()
		must(t, "revoke a", b.RevokeToken(ctx, "a", t0.Add(time.Hour), t0))
		must(t, "revoke b", b.RevokeToken(ctx, "b", t0.Add(time.Hour), t0.Add(time.Second)))
		must(t, "revoke c", b.RevokeToken(ctx, "c", t0.Add(time.Minute), t0.Add(2*time.Second)))
		ids := func(since, at time.Time, limit int) string {
			rs, err := b.RevokedSince(ctx, since, at, limit)
			must(t, "RevokedSince", err)
			var out []string
			for _, r := range rs {
				out = append(out, r.TokenID)
			}
			return strings.Join(out, ",")
		}
		if got := ids(time.Time{}, t0, 10); got != "a,b,c" {
			t.Errorf("all = %q", got)
		}
		if got := ids(t0.Add(time.Second), t0, 10); got != "b,c" {
			t.Errorf("since +1s = %q", got)
		}
		if got := ids(time.Time{}, t0, 2); got != "a,b" {
			t.Errorf("limit 2 = %q", got)
		}
		if got := ids(time.Time{}, t0.Add(2*time.Minute), 10); got != "a,b" {
			t.Errorf("after c expired = %q", got)
		}
		must(t, "extend a", b.RevokeToken(ctx, "a", t0.Add(2*time.Hour), t0.Add(3*time.Second)))
		if got := ids(t0.Add(3*time.Second), t0, 10); got != "a" {
			t.Errorf("extended revocation not seen again: %q", got)
		}
	})
}

func TestRevokedTokens(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		db, b := newTestBackend(t, dialect)
		ctx := context.Background()
		t0 := now()
		must(t, "RevokeToken", b.RevokeToken(ctx, "jti-1", t0.Add(time.Minute), t0))
		must(t, "RevokeToken again", b.RevokeToken(ctx, "jti-1", t0.Add(time.Hour), t0.Add(time.Second)))
		for _, tc := range []struct {
			id   string
			at   time.Time
			want bool
		}{
			{"jti-1", t0, true},
			{"jti-1", t0.Add(30 * time.Minute), true}, // the second revocation extended it
			{"jti-1", t0.Add(time.Hour), false},       // expired exactly then
			{"jti-2", t0, false},
		} {
			got, err := b.TokenRevoked(ctx, tc.id, tc.at)
			must(t, "TokenRevoked", err)
			if got != tc.want {
				t.Errorf("TokenRevoked(%s, +%v) = %v", tc.id, tc.at.Sub(t0), got)
			}
		}
		other := db.Backend(newTestApp(t, db).ID)
		if got, _ := other.TokenRevoked(ctx, "jti-1", t0); got {
			t.Error("revocation leaked into another application")
		}
		must(t, "RevokeToken", b.RevokeToken(ctx, "jti-old", t0.Add(-time.Hour), t0.Add(-2*time.Hour)))
		n, err := db.PurgeRevokedTokens(ctx, t0)
		must(t, "PurgeRevokedTokens", err)
		if n < 1 {
			t.Fatalf("purged %d", n)
		}
		if got, _ := b.TokenRevoked(ctx, "jti-1", t0); !got {
			t.Error("purge removed a live revocation")
		}
	})
}

// TestSecretsAtRest goes through the Provider and reads the raw tables: the
// password is stored only as the argon2id hash, and no API key secret
// appears anywhere in the database.
func TestSecretsAtRest(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		db := openTestDB(t, dialect)
		app := newTestApp(t, db)
		p, err := db.Provider(context.Background(), app.Name, store.Options{})
		must(t, "Provider", err)
		ctx := context.Background()
		const password = "correct horse battery staple"
		acc, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "trent", Password: password, Email: "trent@example.com"})
		must(t, "CreateAccount", err)
		var hash string
		must(t, "read hash", db.sql.QueryRow(`SELECT password_hash FROM accounts WHERE id = $1`, acc.ID).Scan(&hash))
		if !strings.HasPrefix(hash, "$argon2id$") {
			t.Fatalf("stored password hash = %q, want $argon2id$…", hash)
		}
		if ok, _, err := p.Hasher().Verify(hash, password); err != nil || !ok {
			t.Fatalf("stored hash does not verify the password: %v", err)
		}
		// An imported hash is stored exactly as given.
		imported, err := p.Hasher().Hash("another long password")
		must(t, "Hash", err)
		acc2, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "trudy", PasswordHash: imported})
		must(t, "CreateAccount imported", err)
		var got string
		must(t, "read hash", db.sql.QueryRow(`SELECT password_hash FROM accounts WHERE id = $1`, acc2.ID).Scan(&got))
		if got != imported {
			t.Fatalf("imported hash stored as %q, want %q", got, imported)
		}

		var secrets []string
		for i := 0; i < 3; i++ {
			k, err := p.CreateAPIKey(ctx, acc.ID, fmt.Sprint("key", i))
			must(t, "CreateAPIKey", err)
			secrets = append(secrets, k.Secret)
			if _, _, err := p.AuthenticateAPIKey(ctx, k.ID, k.Secret); err != nil {
				t.Fatalf("AuthenticateAPIKey: %v", err)
			}
		}
		if _, err := p.Authenticate(ctx, "TRENT@example.com", password); err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		dump := dumpTables(t, db)
		for _, s := range append(secrets, password) {
			if bytes.Contains(dump, []byte(s)) {
				t.Errorf("secret %q found in the tables", s)
			}
		}
		if dialect == DialectSQLite {
			// The files themselves, WAL included.
			path := dbPath(t, db)
			for _, f := range []string{path, path + "-wal"} {
				b, err := os.ReadFile(f)
				if err != nil {
					continue
				}
				for _, s := range append(secrets, password) {
					if bytes.Contains(b, []byte(s)) {
						t.Errorf("secret %q found in %s", s, f)
					}
				}
			}
		}
	})
}

// dbPath returns the file of a SQLite database.
func dbPath(t *testing.T, db *DB) string {
	var seq int
	var name, file string
	must(t, "database_list", db.sql.QueryRow(`PRAGMA database_list`).Scan(&seq, &name, &file))
	return file
}

// dumpTables returns every value of every table, as text.
func dumpTables(t *testing.T, db *DB) []byte {
	var buf bytes.Buffer
	for _, table := range []string{"applications", "accounts", "account_logins", "api_keys", "custom_data",
		"groups", "memberships", "revoked_tokens", "signing_keys", "schema_migrations"} {
		rows, err := db.sql.Query(`SELECT * FROM ` + table)
		must(t, table, err)
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			must(t, table, rows.Scan(ptrs...))
			for _, v := range vals {
				switch v := v.(type) {
				case []byte:
					buf.Write(v)
				default:
					fmt.Fprint(&buf, v)
				}
				buf.WriteByte('|')
			}
		}
		must(t, table, rows.Err())
		rows.Close()
	}
	return buf.Bytes()
}

func TestContextCanceled(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		_, b := newTestBackend(t, dialect)
		acc := mustInsertAccount(t, b, "victor", "")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := b.AccountByID(ctx, acc.ID)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("read: %v, want context.Canceled", err)
		}
		err = b.UpdateCustomData(ctx, acc.ID, func([]byte) ([]byte, error) { return []byte(`{}`), nil })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("write: %v, want context.Canceled", err)
		}
		_, _, err = b.ListAccounts(ctx, identity.AccountFilter{Page: identity.Page{Limit: 1}})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("list: %v, want context.Canceled", err)
		}
	})
}

// TestDeadlineWhileLocked lets a write wait for a lock another process
// holds until its context expires: the error must say so.
func TestDeadlineWhileLocked(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		dsn := testDSN(t, dialect)
		db := openDSN(t, dsn)
		app := newTestApp(t, db)
		b := db.Backend(app.ID)
		acc := mustInsertAccount(t, b, "walter", "")
		holder := openDSN(t, dsn) // another process
		tx, err := holder.sql.Begin()
		must(t, "Begin", err)
		defer tx.Rollback()
		lock := `UPDATE accounts SET given_name = 'locked' WHERE id = $1`
		_, err = tx.Exec(lock, acc.ID)
		must(t, "lock", err)

		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		err = b.UpdateCustomData(ctx, acc.ID, func([]byte) ([]byte, error) { return []byte(`{}`), nil })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("UpdateCustomData while locked: %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("took %v to notice the deadline", d)
		}
	})
}

// TestSQLiteBusyUnavailable holds SQLite's write lock from another process
// past the busy timeout: the write fails as unavailable.
func TestSQLiteBusyUnavailable(t *testing.T) {
	dsn := testDSN(t, DialectSQLite)
	db := openDSN(t, dsn, WithBusyTimeout(100*time.Millisecond))
	app := newTestApp(t, db)
	b := db.Backend(app.ID)
	holder := openDSN(t, dsn)
	tx, err := holder.sql.Begin() // BEGIN IMMEDIATE: holds the write lock
	must(t, "Begin", err)
	defer tx.Rollback()
	err = b.InsertAccount(context.Background(), newAccount("xavier", ""))
	if !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("InsertAccount while locked: %v, want ErrUnavailable", err)
	}
	// Reads go on (WAL).
	if _, err := b.AccountByLogin(context.Background(), "xavier"); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("read while locked: %v", err)
	}
}

func TestPostgresDownAtOpen(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Open(ctx, "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	if !errors.Is(err, identity.ErrUnavailable) {
		t.Fatalf("Open of a closed port: %v, want ErrUnavailable", err)
	}
	if identity.ErrorCode(err) != identity.CodeUnavailable {
		t.Fatalf("ErrorCode = %s", identity.ErrorCode(err))
	}
	t.Logf("Open: %v", err)
}

// TestPostgresDownLater opens PostgreSQL through a TCP proxy, then cuts the
// proxy: every operation must fail as unavailable, not as an internal error.
func TestPostgresDownLater(t *testing.T) {
	dsn := postgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Skipf("cannot rewrite DSN %q to go through a proxy", dsn)
	}
	proxy := startProxy(t, u.Host)
	u.Host = proxy.addr()
	db := openDSN(t, u.String())
	app := newTestApp(t, openDSN(t, dsn)) // cleanup through a direct connection
	b := db.Backend(app.ID)
	acc := mustInsertAccount(t, b, "yolanda", "")
	proxy.cut()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	checks := map[string]func() error{
		"Ping":        func() error { return db.Ping(ctx) },
		"AccountByID": func() error { _, err := b.AccountByID(ctx, acc.ID); return err },
		"ListAccounts": func() error {
			_, _, err := b.ListAccounts(ctx, identity.AccountFilter{Page: identity.Page{Limit: 1}})
			return err
		},
		"InsertAccount": func() error { return b.InsertAccount(ctx, newAccount("zoe", "")) },
		"UpdateCustomData": func() error {
			return b.UpdateCustomData(ctx, acc.ID, func([]byte) ([]byte, error) { return []byte(`{}`), nil })
		},
		"Application": func() error { _, err := db.Application(ctx, app.Name, false); return err },
	}
	for name, check := range checks {
		err := check()
		if !errors.Is(err, identity.ErrUnavailable) {
			t.Errorf("%s with PostgreSQL down: %v, want ErrUnavailable", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
}

func TestClassify(t *testing.T) {
	ctx := context.Background()
	for _, err := range []error{
		errors.New("syntax error"),
		identity.NotFound("account"),
	} {
		if errors.Is(classify(ctx, err), identity.ErrUnavailable) {
			t.Errorf("classify(%v) is unavailable", err)
		}
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := classify(canceled, errors.New("interrupted")); !errors.Is(err, context.Canceled) {
		t.Errorf("classify under a cancelled context = %v", err)
	}
	if err := fail(ctx, "op", callerError{errPlain}); err != errPlain {
		t.Errorf("fail(callerError) = %v", err)
	}
	if err := fail(ctx, "op", fmt.Errorf("x: %w", identity.Conflict("email"))); !errors.Is(err, identity.Conflict("email")) {
		t.Errorf("fail(conflict) = %v", err)
	}
	if err := fail(ctx, "insert account", errPlain); err.Error() != "insert account: plain" {
		t.Errorf("fail wraps as %q", err)
	}
}

var errPlain = errors.New("plain")

func TestTimeConversion(t *testing.T) {
	for _, tm := range []time.Time{
		{},
		time.Date(1969, 12, 31, 23, 59, 59, 999_000_000, time.UTC),
		time.Date(9999, 1, 1, 0, 0, 0, 1_000_000, time.FixedZone("x", -7*3600)),
	} {
		got := fromMS(ms(tm))
		if !got.Equal(tm) || got.Location() != time.UTC {
			t.Errorf("%v round-trips as %v", tm, got)
		}
	}
	if !fromMS(ms(time.Time{})).IsZero() {
		t.Error("zero time does not round-trip as zero")
	}
}

// TestUnstorableInput passes ids, keys and filters that are not UTF-8 or
// hold NUL (which PostgreSQL's text rejects): lookups find nothing, as in
// the in-memory backend, instead of failing; token ids are any bytes.
func TestUnstorableInput(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		_, b := newTestBackend(t, dialect)
		ctx := context.Background()
		acc := mustInsertAccount(t, b, "uma", "")
		g := mustInsertGroup(t, b, "g")
		for _, bad := range []string{"\xff", "a\x00b", "\xc3"} {
			_, err := b.AccountByID(ctx, bad)
			wantErr(t, "AccountByID", err, identity.NotFound("account"))
			_, err = b.AccountByLogin(ctx, bad)
			wantErr(t, "AccountByLogin", err, identity.NotFound("account"))
			_, err = b.UpdateAccount(ctx, bad, func(*store.AccountRecord) error { return nil })
			wantErr(t, "UpdateAccount", err, identity.NotFound("account"))
			wantErr(t, "DeleteAccount", b.DeleteAccount(ctx, bad), identity.NotFound("account"))
			_, err = b.APIKey(ctx, "gk_"+bad)
			wantErr(t, "APIKey", err, identity.NotFound("api_key"))
			_, err = b.SetAPIKeyStatus(ctx, "gk_"+bad, identity.StatusDisabled)
			wantErr(t, "SetAPIKeyStatus", err, identity.NotFound("api_key"))
			wantErr(t, "DeleteAPIKey", b.DeleteAPIKey(ctx, "gk_"+bad), identity.NotFound("api_key"))
			wantErr(t, "InsertAPIKey", b.InsertAPIKey(ctx, newKey(bad), 10), identity.NotFound("account"))
			_, err = b.ListAPIKeys(ctx, bad)
			wantErr(t, "ListAPIKeys", err, identity.NotFound("account"))
			_, err = b.CustomData(ctx, bad)
			wantErr(t, "CustomData", err, identity.NotFound("account"))
			err = b.UpdateCustomData(ctx, bad, func([]byte) ([]byte, error) { return []byte(`{}`), nil })
			wantErr(t, "UpdateCustomData", err, identity.NotFound("account"))
			_, err = b.Group(ctx, bad)
			wantErr(t, "Group", err, identity.NotFound("group"))
			wantErr(t, "DeleteGroup", b.DeleteGroup(ctx, bad), identity.NotFound("group"))
			wantErr(t, "AddMember bad group", b.AddMember(ctx, acc.ID, bad), identity.NotFound("group"))
			wantErr(t, "AddMember bad account", b.AddMember(ctx, bad, g.ID), identity.NotFound("account"))
			wantErr(t, "RemoveMember", b.RemoveMember(ctx, acc.ID, bad), identity.NotFound("group"))
			_, err = b.AccountGroups(ctx, bad)
			wantErr(t, "AccountGroups", err, identity.NotFound("account"))
			_, _, err = b.GroupMembers(ctx, bad, identity.Page{Limit: 1})
			wantErr(t, "GroupMembers", err, identity.NotFound("group"))
			for _, f := range []identity.AccountFilter{{Query: bad}, {Username: bad}, {Email: bad}} {
				f.Limit = 10
				recs, total, err := b.ListAccounts(ctx, f)
				if err != nil || total != 0 || recs == nil || len(recs) != 0 {
					t.Fatalf("ListAccounts(%+v) = %v, %d, %v", f, recs, total, err)
				}
			}
			recs, total, err := b.ListGroups(ctx, identity.GroupFilter{Name: bad, Page: identity.Page{Limit: 1}})
			if err != nil || total != 0 || recs == nil || len(recs) != 0 {
				t.Fatalf("ListGroups = %v, %d, %v", recs, total, err)
			}
			jti := "jti" + bad
			must(t, "RevokeToken", b.RevokeToken(ctx, jti, now().Add(time.Hour), now()))
			if revoked, err := b.TokenRevoked(ctx, jti, now()); err != nil || !revoked {
				t.Fatalf("TokenRevoked(%q) = %v, %v", jti, revoked, err)
			}
			if revoked, err := b.TokenRevoked(ctx, "jti", now()); err != nil || revoked {
				t.Fatalf("TokenRevoked(jti) = %v, %v", revoked, err)
			}
		}
	})
}
