package main

// Durability: a real directory process takes concurrent writes through the
// directory protocol (account creations with inline custom data, custom
// data replacements, API key creations) and is killed with SIGKILL in the
// middle of them. After a restart on the same database every write that
// was acknowledged with a 2xx must be there, complete, and no write may be
// half-applied. On SQLite always, and on PostgreSQL with
// GATEHOUSE_TEST_POSTGRES (required when CI=true).

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity/ids"
	"github.com/gatehouse-id/gatehouse/identity/password"
	"github.com/gatehouse-id/gatehouse/identity/sqlstore"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

func TestDurabilitySIGKILLSQLite(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "directory.db")
	runDurability(t, dir, db, "durable", func() (*sql.DB, error) { return sql.Open("sqlite", db) })
}

func TestDurabilitySIGKILLPostgres(t *testing.T) {
	dsn := os.Getenv("GATEHOUSE_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("GATEHOUSE_TEST_POSTGRES is not set: CI must run the PostgreSQL durability test")
		}
		t.Skip("PostgreSQL durability test skipped: set GATEHOUSE_TEST_POSTGRES")
	}
	binary(t) // skip with -short before touching the database
	// The database may be shared: an application of our own, deleted with
	// all its records at the end.
	app := "durability-" + strings.ToLower(ids.New())
	t.Cleanup(func() {
		db, err := sqlstore.Open(context.Background(), dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer db.Close()
		if err := db.DeleteApplication(context.Background(), app); err != nil {
			t.Error(err)
		}
	})
	runDurability(t, t.TempDir(), dsn, app, func() (*sql.DB, error) { return sql.Open("pgx", dsn) })
}

// Bounds of a run: it kills the directory once this many writes were
// acknowledged, or after killAfter, whichever comes first.
const (
	durabilityWriters = 6
	killAtAcks        = 240
	killAfter         = 4 * time.Second
)

// dirClient speaks the directory protocol with an admin key.
type dirClient struct {
	base, auth string
	http       *http.Client
}

func (c *dirClient) do(method, path, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", c.auth)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}

// durableAccount is an account creation: what was sent, and what the
// directory said.
type durableAccount struct {
	username, email, given, surname string
	password                        string // the plain password (hashed here or by the directory)
	imported                        bool   // sent as passwordHash
	customData                      map[string]any
	id                              string // set when acknowledged
}

// ledger is what the writers were told.
type ledger struct {
	mu sync.Mutex
	// accounts by username: acknowledged creations have an id.
	accounts map[string]*durableAccount
	// unacked are creations that got no answer (in flight at the kill).
	unacked []*durableAccount
	// customData is, per account id, the last acknowledged replacement,
	// and pending the one in flight at the kill (it may or may not be
	// there).
	customData map[string]map[string]any
	pending    map[string]map[string]any
	keys       []durableKey
	acks       atomic.Int64
	// counts of acknowledged writes by kind
	ackAccounts, ackCustomData, ackKeys int
}

type durableKey struct{ id, secret, accountID string }

func runDurability(t *testing.T, dir, database, app string, openSQL func() (*sql.DB, error)) {
	dbEnv := "GATEHOUSE_DIRECTORY_DATABASE=" + database
	out := runBinary(t, dir, []string{"directory", "bootstrap", "--application", app}, dbEnv)
	keyID, keySecret := parseBootstrap(t, out)
	d := startBinary(t, dir, []string{"directory", "serve"}, dbEnv)
	c := &dirClient{
		base: d.base,
		auth: "Basic " + base64.StdEncoding.EncodeToString([]byte(keyID+":"+keySecret)),
		http: &http.Client{Timeout: 20 * time.Second},
	}
	appID := findApplication(t, c, app)

	// Imported hashes are cheap (the directory checks their form and
	// stores them); every fifth account has its password hashed by the
	// directory, as a registration would.
	const importedPassword = "durable imported password"
	hash, err := password.NewHasher(password.InsecureFastParams).Hash(importedPassword)
	if err != nil {
		t.Fatal(err)
	}

	l := &ledger{accounts: map[string]*durableAccount{}, customData: map[string]map[string]any{}, pending: map[string]map[string]any{}}
	var killed atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var unexpected sync.Map // writer -> error before the kill
	for w := range durabilityWriters {
		wg.Go(func() {
			if err := durableWriter(w, c, appID, hash, importedPassword, l, &killed, stop); err != nil {
				unexpected.Store(w, err)
			}
		})
	}

	// Kill the directory mid-stream.
	start := time.Now()
	for l.acks.Load() < killAtAcks && time.Since(start) < killAfter {
		time.Sleep(5 * time.Millisecond)
	}
	killed.Store(true)
	d.kill(t)
	killedAt := time.Since(start)
	close(stop)
	wg.Wait()
	unexpected.Range(func(w, err any) bool {
		t.Errorf("writer %v failed before the kill: %v", w, err)
		return true
	})
	if t.Failed() {
		t.FailNow()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ackAccounts == 0 || l.ackCustomData == 0 || l.ackKeys == 0 {
		t.Fatalf("too few writes before the kill: %d accounts, %d custom data, %d keys", l.ackAccounts, l.ackCustomData, l.ackKeys)
	}

	// Restart on the same database (and address).
	d = startBinary(t, dir, []string{"directory", "serve"}, dbEnv, "GATEHOUSE_DIRECTORY_ADDR="+d.addr)
	c.base = d.base

	checked := 0
	// Every acknowledged account, with its fields and its custom data.
	for _, a := range l.accounts {
		if a.id == "" {
			continue
		}
		status, body, err := c.do("GET", wire.AccountPath(a.id, "")+"?expand=customData", "")
		if err != nil || status != http.StatusOK {
			t.Errorf("acknowledged account %s (%s): %d %v %s", a.username, a.id, status, err, body)
			continue
		}
		var got wire.Account
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("account %s: %v", a.id, err)
		}
		if got.Username != a.username || got.Email != a.email || got.GivenName != a.given || got.Surname != a.surname || got.Status != "ENABLED" {
			t.Errorf("account %s after the kill: %+v, sent %+v", a.id, got, *a)
		}
		want := []map[string]any{a.customData}
		if cd, ok := l.customData[a.id]; ok {
			want = []map[string]any{cd}
		}
		if p, ok := l.pending[a.id]; ok {
			want = append(want, p)
		}
		if cd := customDataOf(t, got.CustomData); !matchesOne(cd, want) {
			t.Errorf("account %s: custom data %v, want one of %v", a.username, cd, want)
		}
		checked++
	}
	// Every acknowledged key authenticates, as its account.
	for _, k := range l.keys {
		attempt := fmt.Sprintf(`{"type":"basic","value":%q}`, base64.StdEncoding.EncodeToString([]byte(k.id+":"+k.secret)))
		status, body, err := c.do("POST", wire.ApplicationPath(appID, "apiKeyAttempts"), attempt)
		if err != nil || status != http.StatusOK || !strings.Contains(string(body), wire.AccountPath(k.accountID, "")) {
			t.Errorf("acknowledged key %s: %d %v %s", k.id, status, err, body)
			continue
		}
		checked++
	}
	// Passwords: every directory-hashed account, and some imported ones.
	logins, imported := 0, 0
	for _, a := range l.accounts {
		if a.id == "" || (a.imported && imported >= 20) {
			continue
		}
		if a.imported {
			imported++
		}
		attempt := fmt.Sprintf(`{"type":"basic","value":%q}`, base64.StdEncoding.EncodeToString([]byte(a.username+":"+a.password)))
		status, body, err := c.do("POST", wire.ApplicationPath(appID, "loginAttempts"), attempt)
		if err != nil || status != http.StatusOK {
			t.Errorf("login of acknowledged account %s: %d %v %s", a.username, status, err, body)
		}
		logins++
	}

	// Nothing half-applied: every account of the application is one that
	// was sent, with all its fields and the custom data it was created
	// with (or a later replacement); creations left unanswered are there
	// whole or not at all.
	sent := map[string]*durableAccount{}
	for _, a := range l.accounts {
		sent[a.username] = a
	}
	for _, a := range l.unacked {
		sent[a.username] = a
	}
	listed, unackedPresent := 0, 0
	for offset := 0; ; offset += 100 {
		status, body, err := c.do("GET", wire.ApplicationPath(appID, "accounts")+"?expand=customData&limit=100&offset="+strconv.Itoa(offset), "")
		if err != nil || status != http.StatusOK {
			t.Fatalf("list accounts: %d %v %s", status, err, body)
		}
		var col wire.Collection[wire.Account]
		if err := json.Unmarshal(body, &col); err != nil {
			t.Fatal(err)
		}
		for _, got := range col.Items {
			listed++
			a := sent[got.Username]
			if a == nil {
				t.Errorf("account %q was never sent", got.Username)
				continue
			}
			id := wire.LastSegment(got.Href)
			if a.id == "" {
				unackedPresent++
			} else if a.id != id {
				t.Errorf("account %s has id %s, acknowledged as %s", a.username, id, a.id)
			}
			want := []map[string]any{a.customData}
			if cd, ok := l.customData[id]; ok {
				want = []map[string]any{cd}
			}
			if p, ok := l.pending[id]; ok {
				want = append(want, p)
			}
			if cd := customDataOf(t, got.CustomData); !matchesOne(cd, want) {
				t.Errorf("half-applied account %s (acknowledged: %v): custom data %v, created with %v", a.username, a.id != "", cd, a.customData)
			}
			if got.Email != a.email || got.GivenName != a.given || got.Surname != a.surname {
				t.Errorf("half-applied account %s: %+v", a.username, got)
			}
		}
		if len(col.Items) == 0 || offset+len(col.Items) >= col.Size {
			break
		}
	}
	if want := l.ackAccounts; listed < want || listed > want+len(l.unacked) {
		t.Errorf("%d accounts listed; %d acknowledged and %d unanswered", listed, want, len(l.unacked))
	}

	// No orphan rows, read straight from the database.
	orphans := checkOrphans(t, openSQL, appID)

	t.Logf("killed after %v: acknowledged %d account creations, %d custom data writes, %d key creations (%d writes); "+
		"%d creations unanswered at the kill (%d of them present afterwards); %d custom data writes in flight; "+
		"checked %d acknowledged accounts and keys, %d logins, %d listed accounts, %d orphan queries",
		killedAt.Round(time.Millisecond), l.ackAccounts, l.ackCustomData, l.ackKeys, l.ackAccounts+l.ackCustomData+l.ackKeys,
		len(l.unacked), unackedPresent, len(l.pending), checked, logins, listed, orphans)
}

// durableWriter writes until stop, or until the directory stops answering
// after the kill. An error before the kill is returned.
func durableWriter(w int, c *dirClient, appID, hash, importedPassword string, l *ledger, killed *atomic.Bool, stop <-chan struct{}) error {
	rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
	var own []string // acknowledged account ids
	for step := 0; ; step++ {
		select {
		case <-stop:
			return nil
		default:
		}
		var err error
		var done bool
		switch {
		case len(own) == 0 || step%3 == 0:
			var id string
			id, done, err = durableCreate(w, step, c, appID, hash, importedPassword, l)
			if id != "" {
				own = append(own, id)
			}
		case step%3 == 1:
			done, err = durableCustomData(w, step, own[rng.IntN(len(own))], c, l)
		default:
			done, err = durableKeyCreate(own[rng.IntN(len(own))], c, l)
		}
		if err != nil {
			if killed.Load() {
				return nil // the directory is gone: this write is in flight
			}
			return err
		}
		if done {
			l.acks.Add(1)
		}
	}
}

func durableCreate(w, step int, c *dirClient, appID, hash, importedPassword string, l *ledger) (id string, done bool, err error) {
	u := fmt.Sprintf("durable-w%d-s%d", w, step)
	a := &durableAccount{
		username: u, email: u + "@example.com", given: fmt.Sprintf("Given %d", step), surname: fmt.Sprintf("Writer %d", w),
		customData: map[string]any{
			"plan": "pro", "seats": float64(step), "writer": float64(w),
			"tags": []any{"a", "b", u}, "nested": map[string]any{"username": u, "deep": map[string]any{"n": float64(step)}},
		},
	}
	body := map[string]any{"username": a.username, "email": a.email, "givenName": a.given, "surname": a.surname, "customData": a.customData}
	if step%5 == 0 {
		a.password = fmt.Sprintf("durable password of %s", u)
		body["password"] = a.password
	} else {
		a.imported, a.password = true, importedPassword
		body["passwordHash"] = hash
	}
	b, _ := json.Marshal(body)
	status, resp, err := c.do("POST", wire.ApplicationPath(appID, "accounts"), string(b))
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil || status/100 == 5 {
		l.unacked = append(l.unacked, a)
		if err == nil {
			err = fmt.Errorf("create %s: status %d %s", u, status, resp)
		}
		return "", false, err
	}
	if status != http.StatusCreated {
		return "", false, fmt.Errorf("create %s: status %d %s", u, status, resp)
	}
	var got wire.Account
	if err := json.Unmarshal(resp, &got); err != nil {
		return "", false, err
	}
	a.id = wire.LastSegment(got.Href)
	l.accounts[u] = a
	l.ackAccounts++
	return a.id, true, nil
}

func durableCustomData(w, step int, id string, c *dirClient, l *ledger) (bool, error) {
	data := map[string]any{"writer": float64(w), "step": float64(step), "note": strings.Repeat("x", step%50), "list": []any{float64(step), "y"}}
	b, _ := json.Marshal(data)
	l.mu.Lock()
	l.pending[id] = data
	l.mu.Unlock()
	status, resp, err := c.do("PUT", wire.AccountPath(id, "customData"), string(b))
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil || status/100 == 5 {
		if err == nil {
			err = fmt.Errorf("custom data %s: status %d %s", id, status, resp)
		}
		return false, err // stays pending
	}
	delete(l.pending, id)
	if status != http.StatusOK {
		return false, fmt.Errorf("custom data %s: status %d %s", id, status, resp)
	}
	l.customData[id] = data
	l.ackCustomData++
	return true, nil
}

func durableKeyCreate(id string, c *dirClient, l *ledger) (bool, error) {
	status, resp, err := c.do("POST", wire.AccountPath(id, "apiKeys"), `{"name":"durable"}`)
	if err != nil || status/100 == 5 {
		if err == nil {
			err = fmt.Errorf("key for %s: status %d %s", id, status, resp)
		}
		return false, err
	}
	if status != http.StatusCreated {
		return false, fmt.Errorf("key for %s: status %d %s", id, status, resp)
	}
	var k wire.APIKey
	if err := json.Unmarshal(resp, &k); err != nil || k.ID == "" || k.Secret == "" {
		return false, fmt.Errorf("key for %s: %v %s", id, err, resp)
	}
	l.mu.Lock()
	l.keys = append(l.keys, durableKey{id: k.ID, secret: k.Secret, accountID: id})
	l.ackKeys++
	l.mu.Unlock()
	return true, nil
}

func findApplication(t *testing.T, c *dirClient, name string) string {
	t.Helper()
	status, body, err := c.do("GET", wire.ApplicationsPath+"?name="+url.QueryEscape(name), "")
	if err != nil || status != http.StatusOK {
		t.Fatalf("find application: %d %v %s", status, err, body)
	}
	var col wire.Collection[wire.Application]
	if err := json.Unmarshal(body, &col); err != nil || len(col.Items) != 1 {
		t.Fatalf("find application: %v %s", err, body)
	}
	return wire.LastSegment(col.Items[0].Href)
}

// customDataOf decodes an expanded customData without its read-only
// members.
func customDataOf(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	if err := d.Decode(&m); err != nil {
		t.Fatalf("custom data %s: %v", raw, err)
	}
	delete(m, "href")
	delete(m, "createdAt")
	delete(m, "modifiedAt")
	return m
}

func matchesOne(got map[string]any, want []map[string]any) bool {
	for _, w := range want {
		if reflect.DeepEqual(got, w) {
			return true
		}
	}
	return false
}

// checkOrphans queries the database for rows whose owner is gone, or
// accounts missing a part: it returns how many queries it ran.
func checkOrphans(t *testing.T, open func() (*sql.DB, error), appID string) int {
	t.Helper()
	db, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// appID is a base62 id (checked), safe to put in the text.
	for _, r := range appID {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			t.Fatalf("application id %q", appID)
		}
	}
	queries := map[string]string{
		"accounts without their username login": `SELECT count(*) FROM accounts a WHERE a.app_id = '` + appID + `'
			AND NOT EXISTS (SELECT 1 FROM account_logins l WHERE l.account_id = a.id AND l.app_id = a.app_id)`,
		"accounts without custom data": `SELECT count(*) FROM accounts a WHERE a.app_id = '` + appID + `'
			AND NOT EXISTS (SELECT 1 FROM custom_data c WHERE c.account_id = a.id)`,
		"logins of missing accounts": `SELECT count(*) FROM account_logins l WHERE l.app_id = '` + appID + `'
			AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = l.account_id)`,
		"keys of missing accounts": `SELECT count(*) FROM api_keys k WHERE k.app_id = '` + appID + `'
			AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = k.account_id)`,
		"custom data of missing accounts": `SELECT count(*) FROM custom_data c
			WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = c.account_id)`,
	}
	for what, q := range queries {
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			t.Fatalf("%s: %v", what, err)
		}
		if n != 0 {
			t.Errorf("%d %s", n, what)
		}
	}
	return len(queries)
}
