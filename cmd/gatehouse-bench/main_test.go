package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/sqlstore"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

// TestBenchRuns runs the fast scenarios briefly: every scenario must get
// answers, all of the expected status, and a ratio to the baseline.
func TestBenchRuns(t *testing.T) {
	var out, errOut bytes.Buffer
	err := runMain(context.Background(), []string{"-duration", "300ms", "-warmup", "0", "-concurrency", "4", "-json", "-only", "1,2,3,4,5"}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	var report struct{ Results []Result }
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	// The baseline once, then scenarios 2 to 5, each with its own baseline.
	if len(report.Results) != 5 {
		t.Fatalf("got %d results, want 5: %+v", len(report.Results), report.Results)
	}
	for _, r := range report.Results[1:] {
		if r.Baseline <= 0 {
			t.Errorf("%s has no baseline of its own", r.Name)
		}
	}
	for _, r := range report.Results {
		if r.Requests == 0 || r.Errors != 0 || r.Ratio <= 0 {
			t.Errorf("%s: %+v", r.Name, r)
		}
	}
}

func TestBadFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := runMain(context.Background(), []string{"-concurrency", "0"}, &out, &errOut); err == nil {
		t.Error("concurrency 0 accepted")
	}
}

// TestLoginAttempts runs scenario 9: the directory's login attempts with
// the right password, then the raw KDF rate they are compared with.
func TestLoginAttempts(t *testing.T) {
	var out, errOut bytes.Buffer
	// Long enough for a few KDF runs on a busy machine.
	err := runMain(context.Background(), []string{"-duration", "1s", "-warmup", "0", "-concurrency", "2", "-json", "-only", "9"}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	var report struct{ Results []Result }
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	names := []string{}
	for _, r := range report.Results {
		names = append(names, r.Name)
	}
	if want := []string{baselineName, loginAttemptsName, "9 raw argon2id verify"}; !slices.Equal(names, want) {
		t.Fatalf("results %q, want %q", names, want)
	}
	login, kdf := report.Results[1], report.Results[2]
	if login.Requests == 0 || login.Errors != 0 || login.Baseline <= 0 || kdf.RPS <= 0 {
		t.Fatalf("login attempts %+v, KDF %+v", login, kdf)
	}
	ratio := login.RPS / kdf.RPS
	if want := fmt.Sprintf("%.2f of the raw KDF rate", ratio); login.Note != want {
		t.Errorf("note %q, want %q", login.Note, want)
	}
}

// TestSeed seeds a SQLite file in several batches and uses what it printed
// through the normal Provider: the sample account logs in with the shared
// password, the sample key verifies. Seeding the same names again fails
// and adds nothing.
func TestSeed(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "seed.db")
	seed := func() (string, error) {
		var out, errOut bytes.Buffer
		err := runMain(ctx, []string{"seed", "-database", path, "-application", "app1", "-accounts", "37",
			"-keys-per-account", "2", "-batch", "10", "-prefix", "p-"}, &out, &errOut)
		return out.String(), err
	}
	out, err := seed()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "seeded 37 accounts and 74 API keys") {
		t.Errorf("output:\n%s", out)
	}
	user := regexp.MustCompile(`sample account: (p-\d\d) `).FindStringSubmatch(out)
	key := regexp.MustCompile(`sample API key: (gk_\w+):(gks_\w+)`).FindStringSubmatch(out)
	if user == nil || key == nil {
		t.Fatalf("no sample account or key in:\n%s", out)
	}
	if _, err := seed(); !errors.Is(err, identity.ErrConflict) {
		t.Fatalf("seeding the same names again: %v", err)
	}

	db, err := sqlstore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := db.Provider(ctx, "app1", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	list, err := p.ListAccounts(ctx, identity.AccountFilter{})
	if err != nil || list.Total != 37 {
		t.Fatalf("ListAccounts: %v, %v", list, err)
	}
	acc, err := p.Authenticate(ctx, user[1]+"@EXAMPLE.com", benchPassword)
	if err != nil {
		t.Fatalf("Authenticate %s: %v", user[1], err)
	}
	keyAcc, _, err := p.AuthenticateAPIKey(ctx, key[1], key[2])
	if err != nil || keyAcc.ID != acc.ID {
		t.Fatalf("AuthenticateAPIKey: %v, %v (want account %s)", keyAcc, err, acc.ID)
	}
	keys, err := p.ListAPIKeys(ctx, acc.ID)
	if err != nil || len(keys) != 2 {
		t.Fatalf("ListAPIKeys: %v, %v", keys, err)
	}
}

func TestSeedBadFlags(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "bad.db")
	for _, args := range [][]string{
		{"seed"},
		{"seed", "-database", dbPath, "-accounts", "0"},
		{"seed", "-database", dbPath, "-keys-per-account", "101"},
		{"seed", "-database", dbPath, "-batch", "0"},
		{"scale", "-sizes", "1000,0"},
		{"scale", "-sizes", "many"},
		{"scale", "-database", "mysql://localhost/x"},
		{"scale", "-keys-per-account", "0"},
	} {
		var out, errOut bytes.Buffer
		if err := runMain(context.Background(), args, &out, &errOut); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	if _, err := os.Stat(dbPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused seed made the database: %v", err)
	}
}

// scaleReport is scale's JSON output.
type scaleReport struct {
	Database string
	Seeding  []struct {
		Accounts, Keys int
		Seconds        float64
	}
	Results []ScaleResult
}

func runScaleJSON(t *testing.T, args ...string) scaleReport {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append([]string{"scale", "-duration", "200ms", "-warmup", "0", "-concurrency", "4", "-json"}, args...)
	if err := runMain(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	var r scaleReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	return r
}

// checkScale checks that every operation ran at every size without errors,
// with its cost relative to the smallest size.
func checkScale(t *testing.T, r scaleReport, ops []string, sizes []int) {
	t.Helper()
	if len(r.Seeding) != len(sizes) {
		t.Fatalf("seeding %+v, want %d sizes", r.Seeding, len(sizes))
	}
	for i, s := range r.Seeding {
		if s.Accounts != sizes[i] || s.Keys != sizes[i] || s.Seconds <= 0 {
			t.Errorf("seeding %d: %+v", i, s)
		}
	}
	if len(r.Results) != len(ops)*len(sizes) {
		t.Fatalf("%d results, want %d: %+v", len(r.Results), len(ops)*len(sizes), r.Results)
	}
	for i, res := range r.Results {
		op, size := ops[i/len(sizes)], sizes[i%len(sizes)]
		if res.Operation != op || res.Accounts != size || res.Requests == 0 || res.Errors != 0 || res.RPS <= 0 || res.P50 <= 0 {
			t.Errorf("result %d, want %s at %d: %+v", i, op, size, res)
		}
		if size == sizes[0] && res.CostRatio != 1 || res.CostRatio <= 0 {
			t.Errorf("%s at %d: cost ratio %v", op, size, res.CostRatio)
		}
	}
}

// TestScale runs every operation of the scale command on two small SQLite
// databases.
func TestScale(t *testing.T) {
	r := runScaleJSON(t, "-sizes", "30,300", "-sample", "50")
	if r.Database != "sqlite" {
		t.Errorf("database %q", r.Database)
	}
	checkScale(t, r, []string{"account by id", "account by username", "account by email", "API key verification"}, []int{30, 300})
}

// TestScalePostgres runs two operations of the scale command on PostgreSQL
// and checks that the databases it made are gone afterwards.
func TestScalePostgres(t *testing.T) {
	dsn := os.Getenv("GATEHOUSE_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("GATEHOUSE_TEST_POSTGRES is not set: CI must run the PostgreSQL tests")
		}
		t.Skip("set GATEHOUSE_TEST_POSTGRES to a DSN to run")
	}
	r := runScaleJSON(t, "-database", dsn, "-sizes", "20,60", "-only", "account by id,API")
	if r.Database != "postgres" {
		t.Errorf("database %q", r.Database)
	}
	checkScale(t, r, []string{"account by id", "API key verification"}, []int{20, 60})

	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var left int
	err = db.QueryRow(`SELECT COUNT(*) FROM pg_database WHERE datname LIKE $1`, fmt.Sprintf("gatehouse_bench_%d_%%", os.Getpid())).Scan(&left)
	if err != nil || left != 0 {
		t.Fatalf("%d databases left behind (%v)", left, err)
	}
}

// TestMedianRounds: each row is one round's whole result, the median by
// the figure the row is about, so its figures agree with each other; a raw
// KDF row shows the round of the login scenario it is compared with.
func TestMedianRounds(t *testing.T) {
	round := func(baseRPS, warmRPS, warmBase, loginRPS, kdfRPS float64) []Result {
		rs := []Result{
			{Name: baselineName, RPS: baseRPS, Ratio: 1},
			{Name: "2 basic password, warm", RPS: warmRPS, Baseline: warmBase, Ratio: warmRPS / warmBase},
			{Name: loginAttemptsName, RPS: loginRPS, Baseline: warmBase, Ratio: loginRPS / warmBase, Errors: 1},
			{Name: "9 raw argon2id verify", RPS: kdfRPS},
		}
		rs[2].VsKDF, rs[3].PairedWith = loginRPS/kdfRPS, loginAttemptsName
		return rs
	}
	rounds := [][]Result{
		round(100, 95, 100, 60, 70),  // warm 0.95, login 0.857
		round(300, 90, 300, 66, 66),  // warm 0.30, login 1.0
		round(200, 180, 200, 64, 70), // warm 0.90, login 0.914
	}
	got := medianRounds(rounds)
	if got[0].RPS != 200 {
		t.Errorf("baseline %v, want the median req/s 200", got[0].RPS)
	}
	if w := got[1]; w.RPS != 180 || w.Baseline != 200 || w.Ratio != 0.9 {
		t.Errorf("warm row %+v, want round 3's whole row (180 of 200, 0.90)", w)
	}
	if l, k := got[2], got[3]; l.RPS != 64 || k.RPS != 70 || l.VsKDF != 64.0/70 {
		t.Errorf("login %+v and KDF %+v, want both from round 3", l, k)
	}
	if got[2].Errors != 3 {
		t.Errorf("errors %d, want the sum 3", got[2].Errors)
	}
	describe(got)
	if got[2].Note != "0.91 of the raw KDF rate" || got[3].Note != "not HTTP: the KDF alone" {
		t.Errorf("notes %q, %q", got[2].Note, got[3].Note)
	}
}

// TestPrime: each selected warm scenario is sent once before measuring; a
// wrong answer stops the run; other scenarios are not sent.
func TestPrime(t *testing.T) {
	var hits sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := hits.LoadOrStore(r.URL.Path, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		if r.URL.Path == "/bad" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	count := func(path string) int64 {
		n, ok := hits.Load(path)
		if !ok {
			return 0
		}
		return n.(*atomic.Int64).Load()
	}
	scenarios := []Scenario{
		{Name: "2 warm", New: get(srv.URL+"/warm", ""), Want: 200, Warm: true},
		{Name: "6 cold", New: get(srv.URL+"/cold", ""), Want: 200},
		{Name: "3 bad", New: get(srv.URL+"/bad", ""), Want: 200, Warm: true},
	}
	client := newClient(1)
	if err := prime(t.Context(), client, scenarios, "2,6"); err != nil {
		t.Fatal(err)
	}
	if count("/warm") != 1 || count("/cold") != 0 {
		t.Fatalf("primed /warm %d times and /cold %d times, want 1 and 0", count("/warm"), count("/cold"))
	}
	if err := prime(t.Context(), client, scenarios, ""); err == nil || !strings.Contains(err.Error(), "3 bad") {
		t.Fatalf("priming a scenario answered 401: %v", err)
	}
}
