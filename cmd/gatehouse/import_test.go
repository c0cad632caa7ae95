package main

import (
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/password"
)

// migrant is a user of the application being migrated from: the password
// they type, and the hash that application stored.
type migrant struct {
	username, email, password, hash string
}

// bcryptMigrants makes users whose passwords were hashed as a REST-auth
// style application does, with bcrypt at cost 10.
func bcryptMigrants(t *testing.T, n int) []migrant {
	t.Helper()
	out := make([]migrant, n)
	for i := range out {
		pw := fmt.Sprintf("old app password %d!", i)
		h, err := bcrypt.GenerateFromPassword([]byte(pw), 10)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = migrant{username: fmt.Sprintf("user%d", i), email: fmt.Sprintf("user%d@example.com", i), password: pw, hash: string(h)}
	}
	return out
}

// migrantsCSV is the export of the old application's users table. Fields
// with commas (argon2id's parameters) are quoted.
func migrantsCSV(ms []migrant) string {
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"username", "email", "password_hash"})
	for _, m := range ms {
		_ = w.Write([]string{m.username, m.email, m.hash})
	}
	w.Flush()
	return b.String()
}

// importSummary is accounts import's JSON.
type importSummary struct {
	File        string
	Format      string
	DryRun      bool `json:"dry_run"`
	Rows        int
	Valid       int
	Created     int
	Skipped     int
	Failed      int
	Problems    []importProblem
	SkippedRows []importProblem `json:"skipped_rows"`
}

func accountCount(t *testing.T, e env) int {
	t.Helper()
	return decode[identity.List[identity.Account]](t, mustRun(t, e, "", "accounts", "list", "-o", "json")).Total
}

// TestImportKeepsPasswords is the migration: a CSV of bcrypt (cost 10) and
// argon2id hashes imports, and the users log in with the passwords they
// had, through the provider and through the API with HTTP Basic, with the
// local provider and through a directory.
func TestImportKeepsPasswords(t *testing.T) {
	ms := bcryptMigrants(t, 3)
	// An argon2id PHC hash, as another Gatehouse or a modern app stores.
	h, err := password.NewHasher(password.DefaultParams).Hash("argon2 user password")
	if err != nil {
		t.Fatal(err)
	}
	ms = append(ms, migrant{username: "argon", email: "argon@example.com", password: "argon2 user password", hash: h})
	file := writeFile(t, "users.csv", migrantsCSV(ms))

	for _, setup := range []struct {
		name string
		env  func(t *testing.T) env
	}{
		{"local", localEnv},
		{"remote", startRemoteDirectory},
	} {
		t.Run(setup.name, func(t *testing.T) {
			e := setup.env(t)
			r := gatehouse(t, e, "", "accounts", "import", file, "-o", "json")
			s := decode[importSummary](t, r)
			if s.Rows != 4 || s.Valid != 4 || s.Created != 4 || s.Skipped != 0 || s.Failed != 0 || len(s.Problems) != 0 || s.Format != "csv" || s.DryRun {
				t.Fatalf("summary %+v", s)
			}
			for _, m := range ms {
				if err := checkLogin(t, e, m.username, m.password); err != nil {
					t.Errorf("%s cannot log in with the old password through the provider: %v", m.username, err)
				}
				if err := checkLogin(t, e, m.email, m.password); err != nil {
					t.Errorf("%s cannot log in by email: %v", m.username, err)
				}
				if err := checkLogin(t, e, m.username, m.password+"x"); err == nil {
					t.Errorf("%s logs in with a wrong password", m.username)
				}
			}

			// The API server, as a client would call it: curl -u user:password.
			addr, _, stop := startServe(t, e, "--addr", "127.0.0.1:0")
			api := &process{base: "http://" + addr}
			for _, m := range ms {
				expectStatus(t, m.username+" over HTTP", api.do(t, call{path: "/", auth: basicAuth(m.username, m.password)}), 200, `"username":"`+m.username+`"`)
				expectStatus(t, m.username+" wrong password over HTTP", api.do(t, call{path: "/", auth: basicAuth(m.username, "not the password")}), 401)
			}
			if err := stop(); err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
}

// startRemoteDirectory starts an in-process directory with an application
// and returns the environment of an admin command using it.
func startRemoteDirectory(t *testing.T) env {
	t.Helper()
	de := directoryEnv(t)
	id, secret := bootstrap(t, de, "shop")
	addr, _, _ := startServer(t, de, "directory", "serve", "--addr", "127.0.0.1:0")
	e := remoteEnv(addr, "shop", id, secret)
	e["GATEHOUSE_DIRECTORY_DATABASE"] = de["GATEHOUSE_DIRECTORY_DATABASE"]
	return e
}

// TestImportBadRows checks that every bad row is reported, with its row,
// line and field, and that nothing is written.
func TestImportBadRows(t *testing.T) {
	e := localEnv(t)
	good := bcryptMigrants(t, 1)[0].hash
	csv := "Username, Email ,password_hash,status\n" + // header names are trimmed and case-folded
		"alice,alice@example.com," + good + ",\n" + // row 1, line 2: fine
		"bob,not-an-email," + good + ",ENABLED\n" + // row 2: email
		"ALICE,alice2@example.com," + good + ",\n" + // row 3: username of row 1, ignoring case
		"carol,carol@example.com,$1$saltsalt$md5hashmd5hashmd5hash00,\n" + // row 4: unsupported hash
		"dave,dave@example.com,$2b$10$tooshort,\n" + // row 5: malformed bcrypt
		"erin,,,\n" + // row 6: no hash
		"frank,,$2b$10$" + good[7:] + ",SLEEPING\n" + // row 7: status
		"\"gr\neg\",,x,\n" + // row 8, lines 9-10: control character in the username, bad hash
		"heidi,heidi@example.com\n" + // row 9, line 11: too few fields
		"alice@example.com,,$2y$10$" + good[7:] + ",\n" // row 10: username is row 1's email
	file := writeFile(t, "bad.csv", csv)

	r := gatehouse(t, e, "", "accounts", "import", file, "-o", "json")
	if code := exitCode(r.err); code != exitUsage {
		t.Errorf("exit status %d, want %d (%v)", code, exitUsage, r.err)
	}
	s := decode[importSummary](t, r)
	type where struct {
		row, line int
		field     string
	}
	want := []where{
		{2, 3, "email"},
		{3, 4, "username"},
		{4, 5, "password_hash"},
		{5, 6, "password_hash"},
		{6, 7, "password_hash"},
		{7, 8, "status"},
		{8, 9, "username"},
		{8, 9, "password_hash"},
		{9, 11, ""},
		{10, 12, "username"},
	}
	var got []where
	for _, p := range s.Problems {
		got = append(got, where{p.Row, p.Line, p.Field})
		if p.Message == "" || p.Code != "invalid_input" {
			t.Errorf("problem %+v: want a message and code invalid_input", p)
		}
		if strings.Contains(p.Message, "$2b$10$") || strings.Contains(p.Message, "md5hash") {
			t.Errorf("problem %+v quotes the hash", p)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("problems at\n%v\nwant\n%v\n%s", got, want, r.stdout)
	}
	if s.Rows != 10 || s.Failed != 9 || s.Created != 0 || s.Valid != 1 {
		t.Errorf("summary %+v", s)
	}
	if n := accountCount(t, e); n != 0 {
		t.Errorf("%d accounts written by an import with bad rows", n)
	}

	// The table output lists the problems on stderr, file:line first, and
	// the summary on stdout.
	r = gatehouse(t, e, "", "accounts", "import", file)
	if exitCode(r.err) != exitUsage || !strings.Contains(r.err.Error(), "9 of 10 rows cannot be imported; nothing was written") {
		t.Errorf("table: %v", r.err)
	}
	if !strings.Contains(r.stderr, file+":3: row 2 (bob): email: ") || !strings.Contains(r.stderr, file+":4: row 3 (ALICE): username: The username is already used by row 1") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	if !strings.Contains(r.stdout, "Failed:") || strings.Contains(r.stdout, "gatehouse:") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
}

// TestImportFileErrors checks the problems that make a file unreadable as
// a whole: they are usage errors naming the file.
func TestImportFileErrors(t *testing.T) {
	e := localEnv(t)
	for _, tt := range []struct {
		name, file, content string
		args                []string
		want                string
	}{
		{"unknown column", "a.csv", "username,pasword_hash\nbob,x\n", nil, `unknown column "pasword_hash"`},
		{"no hash column", "a.csv", "username,email\nbob,b@example.com\n", nil, "no password_hash column"},
		{"plaintext without the flag", "a.csv", "username,password\nbob,secret secret secret\n", nil, "--plaintext-passwords"},
		{"plaintext JSON without the flag", "a.jsonl", `{"username":"bob","password":"secret secret secret"}` + "\n", nil, "--plaintext-passwords"},
		{"header only", "a.csv", "username,password_hash\n", nil, "no accounts"},
		{"empty", "a.csv", "", nil, "header row"},
		{"broken quote", "a.csv", "username,password_hash\n\"bob,x\n", nil, "a.csv"},
		{"JSON syntax", "a.json", "[{\"username\":\"bob\"},\n{", nil, "line 2"},
		{"unknown extension", "a.txt", "username,password_hash\n", nil, "--format"},
		{"bad format", "a.csv", "username,password_hash\n", []string{"--format", "xml"}, "--format"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file := writeFile(t, tt.file, tt.content)
			r := gatehouse(t, e, "", append([]string{"accounts", "import", file}, tt.args...)...)
			if exitCode(r.err) != exitUsage || !strings.Contains(r.err.Error(), tt.want) || r.stdout != "" {
				t.Errorf("err %v (exit %d), stdout %q; want exit 2 and %q", r.err, exitCode(r.err), r.stdout, tt.want)
			}
		})
	}
	r := gatehouse(t, e, "", "accounts", "import", "/nonexistent/users.csv")
	if exitCode(r.err) != exitUsage || !strings.Contains(r.err.Error(), "/nonexistent/users.csv") {
		t.Errorf("missing file: %v", r.err)
	}
	r = gatehouse(t, e, "username,password_hash\n", "accounts", "import", "-")
	if exitCode(r.err) != exitUsage || !strings.Contains(r.err.Error(), "standard input") {
		t.Errorf("stdin without --format: %v", r.err)
	}
}

// TestImportDryRunAndConflicts checks that a dry run writes nothing, that
// accounts that exist are conflicts (exit 4) unless skipped, and that a
// second run with --skip-existing finishes an import.
func TestImportDryRunAndConflicts(t *testing.T) {
	e := localEnv(t)
	ms := bcryptMigrants(t, 3)
	file := writeFile(t, "users.csv", migrantsCSV(ms[:2]))

	s := decode[importSummary](t, mustRun(t, e, "", "accounts", "import", file, "--dry-run", "-o", "json"))
	if !s.DryRun || s.Rows != 2 || s.Valid != 2 || s.Created != 0 || len(s.Problems) != 0 {
		t.Errorf("dry run summary %+v", s)
	}
	if n := accountCount(t, e); n != 0 {
		t.Fatalf("a dry run wrote %d accounts", n)
	}
	r := mustRun(t, e, "", "accounts", "import", file, "--dry-run")
	if !strings.Contains(r.stdout, "nothing was written") {
		t.Errorf("dry run table:\n%s", r.stdout)
	}

	mustRun(t, e, "", "accounts", "import", file)
	// The whole file now: two exist, one is new.
	all := writeFile(t, "all.csv", migrantsCSV(ms))
	for _, args := range [][]string{{}, {"--dry-run"}} {
		r = gatehouse(t, e, "", append([]string{"accounts", "import", all, "-o", "json"}, args...)...)
		if exitCode(r.err) != exitConflict {
			t.Errorf("%v: exit %d (%v), want %d", args, exitCode(r.err), r.err, exitConflict)
		}
		s = decode[importSummary](t, r)
		if s.Failed != 2 || len(s.Problems) != 2 || s.Problems[0].Code != "conflict" || s.Problems[0].Field != "username" || s.Problems[0].Row != 1 || s.Created != 0 {
			t.Errorf("%v: summary %+v", args, s)
		}
	}
	if n := accountCount(t, e); n != 2 {
		t.Fatalf("%d accounts after refused imports, want 2", n)
	}
	// An email already in use is a conflict too, even under another
	// username.
	clash := writeFile(t, "clash.csv", "username,email,password_hash\nnewname,"+ms[0].email+","+ms[2].hash+"\n")
	r = gatehouse(t, e, "", "accounts", "import", clash, "-o", "json")
	if s := decode[importSummary](t, r); exitCode(r.err) != exitConflict || len(s.Problems) != 1 || s.Problems[0].Field != "email" {
		t.Errorf("email clash: %v %+v", r.err, s)
	}

	s = decode[importSummary](t, mustRun(t, e, "", "accounts", "import", all, "--skip-existing", "-o", "json"))
	if s.Created != 1 || s.Skipped != 2 || s.Failed != 0 || len(s.SkippedRows) != 2 || s.SkippedRows[1].Username != "user1" {
		t.Errorf("--skip-existing summary %+v", s)
	}
	if err := checkLogin(t, e, "user2", ms[2].password); err != nil {
		t.Errorf("user2 after --skip-existing: %v", err)
	}
}

// TestImportJSON reads a JSON array from a file and JSON Lines from
// standard input, and reports bad records by their line.
func TestImportJSON(t *testing.T) {
	e := localEnv(t)
	ms := bcryptMigrants(t, 3)
	array := fmt.Sprintf(`[
  {"username": %q, "email": %q, "password_hash": %q, "given_name": "Ada", "surname": "Lovelace", "status": "disabled"},
  {"username": %q, "password_hash": %q}
]`, ms[0].username, ms[0].email, ms[0].hash, ms[1].username, ms[1].hash)
	s := decode[importSummary](t, mustRun(t, e, "", "accounts", "import", writeFile(t, "users.json", array), "-o", "json"))
	if s.Created != 2 || s.Format != "json" {
		t.Fatalf("array: %+v", s)
	}
	acc := decode[identity.Account](t, mustRun(t, e, "", "accounts", "show", ms[0].username, "-o", "json"))
	if acc.GivenName != "Ada" || acc.Surname != "Lovelace" || acc.Status != identity.StatusDisabled || acc.Email != ms[0].email {
		t.Errorf("imported %+v", acc)
	}

	lines := fmt.Sprintf(`{"username": %q, "password_hash": %q}

{"username": "x", "password_hash": 5}
{"username": "y", "hash": "z"}
[1]
{"username": "z", "username": "admin"}
`, ms[2].username, ms[2].hash)
	r := gatehouse(t, e, lines, "accounts", "import", "-", "--format", "json", "-o", "json")
	s = decode[importSummary](t, r)
	if exitCode(r.err) != exitUsage || len(s.Problems) != 4 || s.Rows != 5 ||
		s.Problems[0].Line != 3 || s.Problems[0].Field != "password_hash" ||
		s.Problems[1].Line != 4 || s.Problems[1].Field != "hash" || s.Problems[2].Line != 5 ||
		s.Problems[3].Line != 6 || s.Problems[3].Field != "username" || s.Problems[3].Message != "given twice" {
		t.Errorf("JSON Lines: %v %+v", r.err, s)
	}
	r = mustRun(t, e, lines[:strings.Index(lines, "\n")+1], "accounts", "import", "-", "--format", "json", "-o", "json")
	if err := checkLogin(t, e, ms[2].username, ms[2].password); err != nil {
		t.Errorf("JSON Lines import: %v", err)
	}
}

// TestImportPlaintext imports plaintext passwords only when asked to, and
// applies the password rules to them.
func TestImportPlaintext(t *testing.T) {
	e := localEnv(t)
	file := writeFile(t, "plain.csv", "username,password\nalice,correct horse battery\nbob,short\n")
	r := gatehouse(t, e, "", "accounts", "import", file, "--plaintext-passwords", "-o", "json")
	s := decode[importSummary](t, r)
	if exitCode(r.err) != exitUsage || len(s.Problems) != 1 || s.Problems[0].Row != 2 || s.Problems[0].Field != "password" {
		t.Errorf("short password: %v %+v", r.err, s)
	}
	file = writeFile(t, "plain.csv", "username,password\nalice,correct horse battery\n")
	mustRun(t, e, "", "accounts", "import", file, "--plaintext-passwords")
	if err := checkLogin(t, e, "alice", "correct horse battery"); err != nil {
		t.Errorf("alice: %v", err)
	}
}

// bcryptCost measures one verification of hash, the fastest of three, on
// this machine as loaded now.
func bcryptCost(t *testing.T, hash string) time.Duration {
	t.Helper()
	best := time.Duration(1<<63 - 1)
	for range 3 {
		start := time.Now()
		_ = bcrypt.CompareHashAndPassword([]byte(hash), []byte("a password"))
		best = min(best, time.Since(start))
	}
	return best
}

// TestImportLarge imports 2 000 rows: hashes are checked, not run, so it
// takes far less than 2 000 bcrypt runs at cost 10 would.
func TestImportLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 2 000 accounts")
	}
	const n = 2000
	hash := bcryptMigrants(t, 1)[0].hash
	var b strings.Builder
	b.WriteString("username,email,given_name,surname,password_hash\n")
	for i := range n {
		fmt.Fprintf(&b, "user%04d,user%04d@example.com,Given%d,Surname%d,%s\n", i, i, i, i, hash)
	}
	file := writeFile(t, "large.csv", b.String())
	for _, setup := range []struct {
		name string
		env  func(t *testing.T) env
	}{
		{"local", localEnv},
		{"remote", startRemoteDirectory},
	} {
		t.Run(setup.name, func(t *testing.T) {
			e := setup.env(t)
			start := time.Now()
			s := decode[importSummary](t, mustRun(t, e, "", "accounts", "import", file, "-o", "json"))
			took := time.Since(start)
			t.Logf("imported %d accounts in %s", s.Created, took)
			if s.Created != n {
				t.Fatalf("summary %+v", s)
			}
			// Running the KDF for each row would cost at least n bcrypt
			// runs: the import must take a fraction of that.
			if kdf := bcryptCost(t, hash); took > n*kdf/4 {
				t.Errorf("importing %d rows took %s, and one bcrypt run %s: is a KDF run per row?", n, took, kdf)
			}
			if got := accountCount(t, e); got != n {
				t.Errorf("%d accounts, want %d", got, n)
			}
			if err := checkLogin(t, e, "user1999", "old app password 0!"); err != nil {
				t.Errorf("the last user: %v", err)
			}
		})
	}
}
