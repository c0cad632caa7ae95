package main

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity"
)

// localEnv configures the local provider on a fresh SQLite file.
func localEnv(t *testing.T) env {
	return env{"GATEHOUSE_IDENTITY_LOCAL_DATABASE": filepath.Join(t.TempDir(), "gatehouse.db")}
}

// decode unmarshals a command's JSON output.
func decode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("%v in output %q", err, r.stdout)
	}
	return v
}

// TestAdminRoundTrip drives every admin command against one SQLite file,
// each command a separate run as an operator would type them.
func TestAdminRoundTrip(t *testing.T) {
	e := localEnv(t)

	// accounts create reads the password from stdin: the first line, its
	// CRLF removed, the rest ignored.
	r := mustRun(t, e, "correct horse battery\r\nignored second line\n",
		"accounts", "create", "--username", "alice", "--email", "alice@example.com",
		"--given-name", "Alice", "--surname", "Liddell", "-o", "json")
	alice := decode[identity.Account](t, r)
	if alice.ID == "" || alice.Username != "alice" || alice.Email != "alice@example.com" || alice.Status != identity.StatusEnabled {
		t.Fatalf("created %+v", alice)
	}
	r = mustRun(t, e, "another good password", // no trailing newline
		"accounts", "create", "--username", "bob", "--status", "unverified")
	for _, want := range []string{"Username:", "bob", "UNVERIFIED"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("create table output lacks %q:\n%s", want, r.stdout)
		}
	}

	// The password is the one given: the API-level check passes with it.
	if err := checkLogin(t, e, "alice", "correct horse battery"); err != nil {
		t.Errorf("alice cannot log in with her password: %v", err)
	}

	// Conflicts and rule violations print the message and field.
	r = gatehouse(t, e, "correct horse battery\n", "accounts", "create", "--username", "ALICE")
	if r.err == nil || !errors.Is(r.err, identity.ErrConflict) || !strings.Contains(r.err.Error(), "username") {
		t.Errorf("duplicate username: %v", r.err)
	}
	r = gatehouse(t, e, "short\n", "accounts", "create", "--username", "carol")
	if r.err == nil || !strings.Contains(r.err.Error(), "password") || !strings.Contains(r.err.Error(), "invalid_input") {
		t.Errorf("short password: %v", r.err)
	}
	r = gatehouse(t, e, "", "accounts", "create", "--username", "carol")
	if r.err == nil || !strings.Contains(r.err.Error(), "standard input") {
		t.Errorf("no password: %v", r.err)
	}
	r = gatehouse(t, e, "correct horse battery\n", "accounts", "create")
	if r.err == nil || !strings.Contains(r.err.Error(), "--username") {
		t.Errorf("no username: %v", r.err)
	}

	// accounts list, as JSON and as a table.
	l := decode[identity.List[identity.Account]](t, mustRun(t, e, "", "accounts", "list", "-o", "json"))
	if l.Total != 2 || len(l.Items) != 2 || l.Items[0].Username != "alice" || l.Items[1].Username != "bob" {
		t.Errorf("list: %+v", l)
	}
	r = mustRun(t, e, "", "accounts", "list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[0], "USERNAME") ||
		!strings.Contains(lines[1], alice.ID) || !strings.Contains(lines[1], "Alice Liddell") || !strings.Contains(lines[2], "bob") {
		t.Errorf("list table:\n%s", r.stdout)
	}
	l = decode[identity.List[identity.Account]](t, mustRun(t, e, "", "accounts", "list", "--query", "LIDD", "-o", "json"))
	if l.Total != 1 || l.Items[0].Username != "alice" {
		t.Errorf("list --query: %+v", l)
	}
	l = decode[identity.List[identity.Account]](t, mustRun(t, e, "", "accounts", "list", "--status", "unverified", "-o", "json"))
	if l.Total != 1 || l.Items[0].Username != "bob" {
		t.Errorf("list --status: %+v", l)
	}
	r = mustRun(t, e, "", "accounts", "list", "--offset", "1", "--limit", "1")
	if !strings.Contains(r.stdout, "bob") || strings.Contains(r.stdout, "alice") || !strings.Contains(r.stderr, "Showing 2-2 of 2") {
		t.Errorf("list page:\n%s\n%s", r.stdout, r.stderr)
	}

	// accounts show, by id, username and email.
	for _, ref := range []string{alice.ID, "alice", "Alice@Example.com"} {
		v := decode[accountShown](t, mustRun(t, e, "", "accounts", "show", ref, "-o", "json"))
		if v.ID != alice.ID || v.Groups == nil {
			t.Errorf("show %s: %+v", ref, v)
		}
	}
	r = gatehouse(t, e, "", "accounts", "show", "nobody")
	if !errors.Is(r.err, identity.ErrNotFound) || !strings.Contains(r.err.Error(), "account") {
		t.Errorf("show nobody: %v", r.err)
	}

	// disable and enable.
	a := decode[identity.Account](t, mustRun(t, e, "", "accounts", "disable", "alice", "-o", "json"))
	if a.Status != identity.StatusDisabled {
		t.Errorf("disable: %+v", a)
	}
	if err := checkLogin(t, e, "alice", "correct horse battery"); err == nil {
		t.Error("a disabled account logs in")
	}
	r = mustRun(t, e, "", "accounts", "enable", alice.ID)
	if !strings.Contains(r.stdout, "ENABLED") {
		t.Errorf("enable:\n%s", r.stdout)
	}

	// update changes only the flags given; an empty value clears a field.
	a = decode[identity.Account](t, mustRun(t, e, "", "accounts", "update", "alice",
		"--email", "alice@example.org", "--surname", "", "-o", "json"))
	if a.Email != "alice@example.org" || a.Surname != "" || a.GivenName != "Alice" || a.Username != "alice" {
		t.Errorf("update: %+v", a)
	}
	r = gatehouse(t, e, "", "accounts", "update", "alice")
	if r.err == nil || exitCode(r.err) != 2 || !strings.Contains(r.err.Error(), "nothing to change") {
		t.Errorf("update without flags: %v", r.err)
	}
	r = gatehouse(t, e, "", "accounts", "update", "alice", "--username", "BOB")
	if !errors.Is(r.err, identity.ErrConflict) || exitCode(r.err) != 4 {
		t.Errorf("update to a taken username: %v", r.err)
	}
	r = gatehouse(t, e, "", "accounts", "update", "alice", "--email", "not an email")
	if !errors.Is(r.err, identity.ErrInvalidInput) || !strings.Contains(r.err.Error(), "email") {
		t.Errorf("update to a bad email: %v", r.err)
	}
	if got := decode[identity.Account](t, mustRun(t, e, "", "accounts", "show", "alice", "-o", "json")); got.Email != "alice@example.org" {
		t.Errorf("a refused update changed the account: %+v", got)
	}

	// set-password replaces the password: the old one stops working, a
	// password the rules refuse changes nothing.
	before := decode[identity.Account](t, mustRun(t, e, "", "accounts", "show", "alice", "-o", "json"))
	a = decode[identity.Account](t, mustRun(t, e, "a brand new passphrase\n", "accounts", "set-password", "alice@example.org", "-o", "json"))
	if !a.PasswordModifiedAt.After(before.PasswordModifiedAt) {
		t.Errorf("set-password: password_modified_at %v, was %v", a.PasswordModifiedAt, before.PasswordModifiedAt)
	}
	if err := checkLogin(t, e, "alice", "correct horse battery"); err == nil {
		t.Error("the old password still logs in after set-password")
	}
	if err := checkLogin(t, e, "alice", "a brand new passphrase"); err != nil {
		t.Errorf("the new password does not log in: %v", err)
	}
	r = gatehouse(t, e, "short\n", "accounts", "set-password", "alice")
	if !errors.Is(r.err, identity.ErrInvalidInput) || !strings.Contains(r.err.Error(), "password") {
		t.Errorf("set-password with a short password: %v", r.err)
	}
	r = gatehouse(t, e, "", "accounts", "set-password", "alice")
	if r.err == nil || exitCode(r.err) != 2 || !strings.Contains(r.err.Error(), "standard input") {
		t.Errorf("set-password without a password: %v", r.err)
	}
	r = gatehouse(t, e, "another fine passphrase\n", "accounts", "set-password", "nobody")
	if !errors.Is(r.err, identity.ErrNotFound) {
		t.Errorf("set-password for nobody: %v", r.err)
	}
	if err := checkLogin(t, e, "alice", "a brand new passphrase"); err != nil {
		t.Errorf("a refused set-password changed the password: %v", err)
	}

	// API keys: create (the secret shown once), list (never the secret),
	// revoke.
	r = mustRun(t, e, "", "apikeys", "create", "alice", "--name", "ci", "-o", "json")
	key := decode[identity.NewAPIKey](t, r)
	if !strings.HasPrefix(key.ID, identity.APIKeyIDPrefix) || key.Secret == "" || key.AccountID != alice.ID || key.Name != "ci" {
		t.Errorf("apikeys create: %+v", key)
	}
	if !strings.Contains(r.stderr, "only time the secret is shown") {
		t.Errorf("no warning about the secret on stderr: %q", r.stderr)
	}
	r = mustRun(t, e, "", "apikeys", "create", "alice@example.org")
	if !strings.Contains(r.stdout, "Secret:") || !strings.Contains(r.stdout, "gk_") {
		t.Errorf("apikeys create table:\n%s", r.stdout)
	}
	keys := decode[struct{ Items []identity.APIKey }](t, mustRun(t, e, "", "apikeys", "list", "alice", "-o", "json"))
	if len(keys.Items) != 2 || keys.Items[0].ID != key.ID {
		t.Errorf("apikeys list: %+v", keys)
	}
	r = mustRun(t, e, "", "apikeys", "list", "alice")
	if !strings.Contains(r.stdout, key.ID) || strings.Contains(r.stdout, key.Secret) {
		t.Errorf("apikeys list table:\n%s", r.stdout)
	}
	mustRun(t, e, "", "apikeys", "revoke", key.ID)
	keys = decode[struct{ Items []identity.APIKey }](t, mustRun(t, e, "", "apikeys", "list", "alice", "-o", "json"))
	if len(keys.Items) != 1 || keys.Items[0].ID == key.ID {
		t.Errorf("after revoke: %+v", keys)
	}
	r = gatehouse(t, e, "", "apikeys", "revoke", key.ID)
	if !errors.Is(r.err, identity.ErrNotFound) {
		t.Errorf("revoke twice: %v", r.err)
	}

	// Groups: create, add, list, show the membership, remove, delete.
	g := decode[identity.Group](t, mustRun(t, e, "", "groups", "create", "admins", "--description", "Administrators", "-o", "json"))
	if g.ID == "" || g.Name != "admins" || g.Description != "Administrators" {
		t.Errorf("groups create: %+v", g)
	}
	mustRun(t, e, "", "groups", "create", "readers")
	r = gatehouse(t, e, "", "groups", "create", "Admins")
	if !errors.Is(r.err, identity.ErrConflict) {
		t.Errorf("duplicate group: %v", r.err)
	}
	r = mustRun(t, e, "", "groups", "add", "admins", "alice")
	if !strings.Contains(r.stdout, "Added alice to group admins") {
		t.Errorf("groups add: %q", r.stdout)
	}
	mustRun(t, e, "", "groups", "add", g.ID, "bob")
	gl := decode[identity.List[groupShown]](t, mustRun(t, e, "", "groups", "list", "-o", "json"))
	if gl.Total != 2 || gl.Items[0].Name != "admins" || gl.Items[0].Members != 2 || gl.Items[1].Members != 0 {
		t.Errorf("groups list: %+v", gl)
	}
	r = mustRun(t, e, "", "groups", "list")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 3 ||
		!strings.Contains(lines[0], "MEMBERS") || !strings.Contains(lines[1], "admins") || !strings.Contains(lines[1], "Administrators") {
		t.Errorf("groups list table:\n%s", r.stdout)
	}
	v := decode[accountShown](t, mustRun(t, e, "", "accounts", "show", "alice", "-o", "json"))
	if len(v.Groups) != 1 || v.Groups[0] != "admins" {
		t.Errorf("alice's groups: %v", v.Groups)
	}
	r = mustRun(t, e, "", "groups", "remove", "admins", "alice")
	if !strings.Contains(r.stdout, "Removed alice from group admins") {
		t.Errorf("groups remove: %q", r.stdout)
	}
	r = gatehouse(t, e, "", "groups", "remove", "admins", "alice")
	if !errors.Is(r.err, identity.ErrNotFound) {
		t.Errorf("remove a non-member: %v", r.err)
	}
	r = mustRun(t, e, "", "accounts", "show", "alice")
	if !strings.Contains(r.stdout, "Groups:") {
		t.Errorf("show table has no Groups line:\n%s", r.stdout)
	}
	mustRun(t, e, "", "groups", "delete", "admins")
	mustRun(t, e, "", "groups", "delete", "readers", "-o", "json")
	gl = decode[identity.List[groupShown]](t, mustRun(t, e, "", "groups", "list", "-o", "json"))
	if gl.Total != 0 || len(gl.Items) != 0 {
		t.Errorf("groups after delete: %+v", gl)
	}
	r = gatehouse(t, e, "", "groups", "delete", "admins")
	if !errors.Is(r.err, identity.ErrNotFound) || !strings.Contains(r.err.Error(), "group") {
		t.Errorf("delete a deleted group: %v", r.err)
	}

	// accounts delete.
	r = mustRun(t, e, "", "accounts", "delete", "bob")
	if !strings.Contains(r.stdout, "Deleted account") {
		t.Errorf("delete: %q", r.stdout)
	}
	l = decode[identity.List[identity.Account]](t, mustRun(t, e, "", "accounts", "list", "-o", "json"))
	if l.Total != 1 {
		t.Errorf("after delete: %+v", l)
	}
}

// accountShown is accounts show's JSON.
type accountShown struct {
	identity.Account
	Groups []string `json:"groups"`
}

// groupShown is an item of groups list's JSON.
type groupShown struct {
	identity.Group
	Members int `json:"members"`
}

// checkLogin authenticates against the configured provider, as the API
// would.
func checkLogin(t *testing.T, e env, login, password string) error {
	t.Helper()
	cfg, err := load(t, "", e)
	if err != nil {
		t.Fatal(err)
	}
	p, closeP, _, err := openProvider(t.Context(), cfg, newLogger(cfg.Log, &syncBuffer{}))
	if err != nil {
		t.Fatal(err)
	}
	defer closeP()
	_, err = p.Authenticate(t.Context(), login, password)
	return err
}

// TestTableEscapesControlCharacters checks that a value (the providers
// reject control characters, but a remote directory is another program)
// cannot break the table or reach the terminal as an escape sequence.
func TestTableEscapesControlCharacters(t *testing.T) {
	var out syncBuffer
	a := &app{stdout: &out}
	if err := a.table([][]string{{"NAME", "DESCRIPTION"}, {"ops", "a\tb\x1b[31mred\nnext"}}); err != nil {
		t.Fatal(err)
	}
	if err := a.fields([2]string{"Name", "x\ry"}, [2]string{"Empty", ""}); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if strings.ContainsAny(got, "\t\x1b\r") || strings.Count(got, "\n") != 4 || !strings.Contains(got, "Empty:  -") {
		t.Errorf("table output %q", got)
	}
}

func TestReadPassword(t *testing.T) {
	tests := []struct{ in, want string }{
		{"secret\n", "secret"},
		{"secret\r\n", "secret"},
		{"secret", "secret"},
		{"  spaced secret  \nnext", "  spaced secret  "},
	}
	for _, tt := range tests {
		got, err := readPassword(strings.NewReader(tt.in), &syncBuffer{})
		if err != nil || got != tt.want {
			t.Errorf("%q: %q, %v", tt.in, got, err)
		}
	}
	for _, in := range []string{"", "\n", "\r\n", strings.Repeat("x", maxPasswordInput+1)} {
		if _, err := readPassword(strings.NewReader(in), &syncBuffer{}); err == nil {
			t.Errorf("%.20q: no error", in)
		}
	}
}
