package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// cliCase is one command line of the consistency table.
type cliCase struct {
	args  []string // {name} is replaced by a value saved by an earlier case
	stdin string
	// fields are the keys the JSON object printed with -o json must have.
	fields []string
	// save remembers JSON keys of the output under placeholder names.
	save map[string]string
	// tableArgs is the command line of the run without -o json, for
	// commands that change something; nil means args again; skipTable
	// runs none.
	tableArgs []string
	skipTable bool
	// env is added to the environment of both runs.
	env env
}

// notPrinting are the commands that print no data, and so have no JSON
// form: the servers, and the health check (whose answer is its exit
// status). completion and help are cobra's.
var notPrinting = []string{"serve", "directory serve", "healthcheck", "completion", "help"}

// consistencyCases drives every command that prints data, in an order
// where each finds what it needs. importCSV and importCSV2 are files of
// two accounts each; sideDB is a SQLite path no server uses.
func consistencyCases(importCSV, importCSV2, sideDB string) []cliCase {
	const pw = "correct horse battery\n"
	account := []string{"id", "username", "status", "created_at", "modified_at", "password_modified_at"}
	return []cliCase{
		{args: []string{"accounts", "create", "--username", "alice", "--email", "alice@example.com"}, stdin: pw,
			fields: append(account, "email"), tableArgs: []string{"accounts", "create", "--username", "bob"}},
		{args: []string{"accounts", "import", importCSV},
			fields:    []string{"file", "format", "dry_run", "rows", "valid", "created", "skipped", "failed", "problems", "skipped_rows"},
			tableArgs: []string{"accounts", "import", importCSV2}},
		{args: []string{"accounts", "list"}, fields: []string{"items", "offset", "limit", "size"}},
		{args: []string{"accounts", "show", "alice"}, fields: append(account, "groups")},
		{args: []string{"accounts", "update", "alice", "--given-name", "Alice"}, fields: append(account, "given_name")},
		{args: []string{"accounts", "set-password", "alice"}, stdin: "another long passphrase\n", fields: account},
		{args: []string{"accounts", "disable", "alice"}, fields: account},
		{args: []string{"accounts", "enable", "alice"}, fields: account},
		{args: []string{"apikeys", "create", "alice", "--name", "ci"}, fields: []string{"id", "secret", "account_id", "name", "status", "created_at"},
			save: map[string]string{"key": "id"}},
		{args: []string{"apikeys", "create", "alice"}, save: map[string]string{"key2": "id"}, skipTable: true,
			fields: []string{"id", "secret"}},
		{args: []string{"apikeys", "list", "alice"}, fields: []string{"items"}},
		{args: []string{"apikeys", "revoke", "{key}"}, fields: []string{"id", "revoked"}, tableArgs: []string{"apikeys", "revoke", "{key2}"}},
		{args: []string{"groups", "create", "admins", "--description", "Administrators"}, fields: []string{"id", "name", "description", "created_at"},
			tableArgs: []string{"groups", "create", "readers"}},
		{args: []string{"groups", "list"}, fields: []string{"items", "offset", "limit", "size"}},
		{args: []string{"groups", "add", "admins", "alice"}, fields: []string{"group", "account", "member"},
			tableArgs: []string{"groups", "add", "readers", "alice"}},
		{args: []string{"groups", "remove", "admins", "alice"}, fields: []string{"group", "account", "member"},
			tableArgs: []string{"groups", "remove", "readers", "alice"}},
		{args: []string{"groups", "delete", "admins"}, fields: []string{"id", "name", "deleted"}, tableArgs: []string{"groups", "delete", "readers"}},
		{args: []string{"accounts", "delete", "bob"}, fields: []string{"id", "username", "deleted"}, tableArgs: []string{"accounts", "delete", "imported1"}},
		{args: []string{"config", "show"}, fields: []string{"application", "identity", "tokens"}},
		{args: []string{"version"}, fields: []string{"version", "commit", "go"}},
		{args: []string{"directory", "bootstrap", "--application", "shop"}, fields: []string{"application", "id", "secret"},
			save: map[string]string{"admin": "id"}},
		{args: []string{"directory", "admin-keys", "create", "--application", "shop"}, fields: []string{"application", "id", "secret"},
			save: map[string]string{"admin2": "id"}},
		{args: []string{"directory", "admin-keys", "list", "--application", "shop"}, fields: []string{"application", "items"}},
		{args: []string{"directory", "admin-keys", "delete", "{admin}", "--application", "shop"}, fields: []string{"application", "id", "deleted"},
			tableArgs: []string{"directory", "admin-keys", "delete", "{admin2}", "--application", "shop"}},
		{args: []string{"directory", "keys", "rotate", "--application", "shop"}, fields: []string{"application", "kid", "previous_kid", "previous_retire_at"}},
		{args: []string{"directory", "keys", "list", "--application", "shop"}, fields: []string{"application", "items"}},
		{args: []string{"directory", "redirect-uris", "add", "https://shop.example.com/login/callback", "--application", "shop"},
			fields: []string{"application", "items"}, tableArgs: []string{"directory", "redirect-uris", "add", "https://shop2.example.com/login/callback", "--application", "shop"}},
		{args: []string{"directory", "redirect-uris", "list", "--application", "shop"}, fields: []string{"application", "items"}},
		{args: []string{"directory", "redirect-uris", "remove", "https://shop.example.com/login/callback", "--application", "shop"},
			fields: []string{"application", "removed"}, tableArgs: []string{"directory", "redirect-uris", "remove", "https://shop2.example.com/login/callback", "--application", "shop"}},
		// On a database of its own: resealing the running directory's keys
		// with a secret it does not have would break it.
		{args: []string{"directory", "keys", "reseal", "--database", sideDB}, fields: []string{"applications", "resealed", "unchanged", "unreadable"},
			env: env{"GATEHOUSE_ENCRYPTION_KEY": "an encryption key of 32 bytes or more"}},
	}
}

// errorCase is a command line that must fail with an exit status.
type errorCase struct {
	args  []string
	stdin string
	exit  int
}

var errorCases = []errorCase{
	{args: []string{}, exit: exitUsage},
	{args: []string{"bogus"}, exit: exitUsage},
	{args: []string{"accounts"}, exit: exitUsage},
	{args: []string{"accounts", "lsit"}, exit: exitUsage},
	{args: []string{"directory", "keys", "bogus"}, exit: exitUsage},
	{args: []string{"directory", "keys", "reseal"}, exit: exitUsage}, // no encryption.key
	{args: []string{"accounts", "show"}, exit: exitUsage},
	{args: []string{"accounts", "show", "a", "b"}, exit: exitUsage},
	{args: []string{"accounts", "list", "--bogus"}, exit: exitUsage},
	{args: []string{"accounts", "list", "--limit", "many"}, exit: exitUsage},
	{args: []string{"accounts", "list", "--limit", "1000"}, exit: exitUsage},
	{args: []string{"accounts", "list", "--status", "sleeping"}, exit: exitUsage},
	{args: []string{"-o", "yaml", "accounts", "list"}, exit: exitUsage},
	{args: []string{"--config", "/nonexistent/gatehouse.yaml", "version"}, exit: exitUsage},
	{args: []string{"accounts", "create"}, stdin: "correct horse battery\n", exit: exitUsage},
	{args: []string{"accounts", "create", "--username", "carol"}, exit: exitUsage},
	{args: []string{"accounts", "create", "--username", "bad:name"}, stdin: "correct horse battery\n", exit: exitUsage},
	{args: []string{"accounts", "create", "--username", "alice"}, stdin: "correct horse battery\n", exit: exitConflict},
	{args: []string{"accounts", "create", "--username", "carol", "--email", "alice@example.com"}, stdin: "correct horse battery\n", exit: exitConflict},
	{args: []string{"groups", "create", "KEEP"}, exit: exitConflict},
	{args: []string{"accounts", "show", "nobody"}, exit: exitNotFound},
	{args: []string{"accounts", "delete", "nobody"}, exit: exitNotFound},
	{args: []string{"accounts", "update", "nobody", "--surname", "X"}, exit: exitNotFound},
	{args: []string{"accounts", "update", "alice"}, exit: exitUsage},
	{args: []string{"accounts", "update", "alice", "--email", "alice"}, exit: exitUsage},
	{args: []string{"accounts", "set-password", "nobody"}, stdin: "correct horse battery\n", exit: exitNotFound},
	{args: []string{"accounts", "set-password", "alice"}, exit: exitUsage},
	{args: []string{"accounts", "set-password", "alice"}, stdin: "short\n", exit: exitUsage},
	{args: []string{"apikeys", "list", "nobody"}, exit: exitNotFound},
	{args: []string{"apikeys", "revoke", "gk_0000000000000000000000"}, exit: exitNotFound},
	{args: []string{"groups", "delete", "nope"}, exit: exitNotFound},
	{args: []string{"groups", "add", "nope", "alice"}, exit: exitNotFound},
	{args: []string{"groups", "remove", "keep", "alice"}, exit: exitNotFound},
	{args: []string{"accounts", "import", "/nonexistent/users.csv"}, exit: exitUsage},
	{args: []string{"directory", "keys", "list", "--application", "nope"}, exit: exitNotFound},
	{args: []string{"directory", "keys", "rotate", "--application", "shop", "--overlap", "1h"}, exit: exitUsage},
	{args: []string{"directory", "admin-keys", "delete", "gk_0000000000000000000000", "--application", "shop"}, exit: exitNotFound},
	{args: []string{"directory", "admin-keys", "create", "--application", "nope"}, exit: exitNotFound},
	{args: []string{"directory", "redirect-uris", "add", "http://shop.example.com/cb", "--application", "shop"}, exit: exitUsage},
	{args: []string{"directory", "redirect-uris", "remove", "https://never.example.com/cb", "--application", "shop"}, exit: exitNotFound},
	{args: []string{"directory", "redirect-uris", "list", "--application", "nope"}, exit: exitNotFound},
}

// fill replaces {name} placeholders.
func fill(args []string, saved map[string]string) []string {
	out := slices.Clone(args)
	for i := range out {
		for k, v := range saved {
			out[i] = strings.ReplaceAll(out[i], "{"+k+"}", v)
		}
	}
	return out
}

// TestCommandsConsistent runs every command that prints data, with the
// local provider and through a directory: with -o json, standard output is
// exactly one JSON object with the documented keys; without, it is a table
// or fields, not JSON; every failure exits with its documented status,
// prints nothing on standard output and is one line.
func TestCommandsConsistent(t *testing.T) {
	ms := bcryptMigrants(t, 1)
	csv1 := writeFile(t, "one.csv", "username,password_hash\nimported0,"+ms[0].hash+"\nimported1,"+ms[0].hash+"\n")
	csv2 := writeFile(t, "two.csv", "username,password_hash\nimported2,"+ms[0].hash+"\nimported3,"+ms[0].hash+"\n")
	cases := consistencyCases(csv1, csv2, filepath.Join(t.TempDir(), "side.db"))

	for _, setup := range []struct {
		name string
		env  func(t *testing.T) env
	}{
		{"local", func(t *testing.T) env {
			e := localEnv(t)
			e["GATEHOUSE_DIRECTORY_DATABASE"] = filepath.Join(t.TempDir(), "directory.db")
			e["GATEHOUSE_APPLICATION"] = "shop"
			return e
		}},
		{"remote", startRemoteDirectory},
	} {
		t.Run(setup.name, func(t *testing.T) {
			e := setup.env(t)
			saved := map[string]string{}
			for _, c := range cases {
				args := fill(c.args, saved)
				name := strings.Join(args, " ")
				ce := maps.Clone(e)
				maps.Copy(ce, c.env)
				r := gatehouse(t, ce, c.stdin, append(args, "-o", "json")...)
				if r.err != nil {
					t.Fatalf("%s -o json: %v\n%s", name, r.err, r.stderr)
				}
				obj := onlyJSONObject(t, name, r.stdout)
				for _, f := range c.fields {
					if _, ok := obj[f]; !ok {
						t.Errorf("%s -o json: no %q in %s", name, f, r.stdout)
					}
				}
				for k, f := range c.save {
					s, _ := obj[f].(string)
					if s == "" {
						t.Fatalf("%s: no %s to save", name, f)
					}
					saved[k] = s
				}
				if secret, _ := obj["secret"].(string); secret != "" && strings.Contains(r.stderr, secret) {
					t.Errorf("%s: the secret is on standard error", name)
				}
				if c.skipTable {
					continue
				}
				targs := c.args
				if c.tableArgs != nil {
					targs = c.tableArgs
				}
				targs = fill(targs, saved)
				r = gatehouse(t, ce, c.stdin, targs...)
				if r.err != nil {
					t.Fatalf("%s: %v\n%s", strings.Join(targs, " "), r.err, r.stderr)
				}
				if out := strings.TrimSpace(r.stdout); out == "" || json.Valid([]byte(out)) || strings.Contains(out, "gatehouse:") {
					t.Errorf("%s: table output %q", strings.Join(targs, " "), r.stdout)
				}
			}

			mustRun(t, e, "", "groups", "create", "keep")
			for _, c := range errorCases {
				name := strings.Join(c.args, " ")
				r := gatehouse(t, e, c.stdin, c.args...)
				if got := exitCode(r.err); got != c.exit {
					t.Errorf("%q: exit status %d, want %d (%v)", name, got, c.exit, r.err)
					continue
				}
				msg := r.err.Error()
				if r.stdout != "" {
					t.Errorf("%q: standard output %q on failure", name, r.stdout)
				}
				if msg == "" || strings.Contains(msg, "\n") || strings.HasPrefix(msg, "gatehouse:") {
					t.Errorf("%q: error %q, want one line (main adds the gatehouse: prefix)", name, msg)
				}
				if strings.Contains(r.stderr, "Usage:") {
					t.Errorf("%q: a usage dump on standard error:\n%s", name, r.stderr)
				}
			}
		})
	}
}

// onlyJSONObject decodes out, which must be exactly one JSON object.
func onlyJSONObject(t *testing.T, name, out string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		t.Fatalf("%s -o json: %v; output %q", name, err, out)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("%s -o json: more than one JSON value in %q", name, out)
	}
	return obj
}

// commandPaths lists the runnable commands of the tree, as "accounts list".
func commandPaths(c *cobra.Command) []string {
	var out []string
	for _, sub := range c.Commands() {
		out = append(out, commandPaths(sub)...)
	}
	if c.HasParent() && c.Runnable() && !c.HasSubCommands() {
		out = append(out, strings.TrimPrefix(c.CommandPath(), "gatehouse "))
	}
	return out
}

// TestConsistencyCoversEveryCommand fails when a command that prints data
// is missing from the consistency table, so that a new command is held to
// the same rules.
func TestConsistencyCoversEveryCommand(t *testing.T) {
	a := &app{getenv: env{}.getenv, stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	covered := map[string]bool{}
	for _, c := range consistencyCases("x.csv", "y.csv", "z.db") {
		for n := len(c.args); n > 0; n-- {
			covered[strings.Join(c.args[:n], " ")] = true
		}
	}
	paths := commandPaths(a.rootCommand())
	if len(paths) < 20 {
		t.Fatalf("only %d commands found: %v", len(paths), paths)
	}
	for _, p := range paths {
		if !covered[p] && !slices.ContainsFunc(notPrinting, func(n string) bool { return p == n || strings.HasPrefix(p, n+" ") }) {
			t.Errorf("command %q is not in consistencyCases", p)
		}
	}
}

// TestHelpDocumentsExitStatus checks that every command's help lists the
// exit statuses, on standard output, and exits 0.
func TestHelpDocumentsExitStatus(t *testing.T) {
	a := &app{getenv: env{}.getenv, stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	var walk func(c *cobra.Command) []string
	walk = func(c *cobra.Command) []string {
		out := []string{strings.TrimPrefix(c.CommandPath(), "gatehouse")}
		for _, sub := range c.Commands() {
			out = append(out, walk(sub)...)
		}
		return out
	}
	for _, p := range walk(a.rootCommand()) {
		args := append(strings.Fields(p), "--help")
		r := gatehouse(t, env{}, "", args...)
		if r.err != nil || r.stderr != "" {
			t.Errorf("%v: %v, stderr %q", args, r.err, r.stderr)
		}
		for _, want := range []string{"Exit status:", "2  usage", "3  not found", "4  conflict", "5  unavailable"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%v: help lacks %q", args, want)
			}
		}
	}
}

// TestUnavailableExitStatus checks that a directory that cannot be
// reached exits with the status that says to retry later.
func TestUnavailableExitStatus(t *testing.T) {
	e := remoteEnv(freeAddr(t), "shop", "gk_0000000000000000000000", "gks_secret")
	e["GATEHOUSE_IDENTITY_REMOTE_RETRIES"] = "0"
	r := gatehouse(t, e, "", "accounts", "list")
	if exitCode(r.err) != exitUnavailable || r.stdout != "" {
		t.Errorf("directory down: exit %d (%v), stdout %q", exitCode(r.err), r.err, r.stdout)
	}
}

// TestExitStatusBinary checks the statuses the built program exits with,
// and that its errors are single "gatehouse: " lines on standard error.
func TestExitStatusBinary(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	db := "GATEHOUSE_IDENTITY_LOCAL_DATABASE=" + filepath.Join(dir, "gatehouse.db")
	for _, tt := range []struct {
		args  []string
		stdin string
		exit  int
	}{
		{[]string{"accounts", "create", "--username", "alice", "-o", "json"}, "correct horse battery\n", exitOK},
		{[]string{"accounts", "create", "--username", "alice"}, "correct horse battery\n", exitConflict},
		{[]string{"accounts", "show", "nobody"}, "", exitNotFound},
		{[]string{"accounts", "bogus"}, "", exitUsage},
		{[]string{"accounts", "list", "--bogus"}, "", exitUsage},
	} {
		cmd := exec.Command(bin, tt.args...)
		cmd.Dir = dir
		cmd.Env = binaryEnv(dir, []string{db})
		cmd.Stdin = strings.NewReader(tt.stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tt.exit {
			t.Errorf("%v: exit status %d, want %d; stderr %q", tt.args, code, tt.exit, stderr.String())
		}
		if tt.exit == exitOK {
			if !json.Valid(stdout.Bytes()) {
				t.Errorf("%v: stdout %q", tt.args, stdout.String())
			}
			continue
		}
		lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
		if stdout.Len() != 0 || len(lines) != 1 || !strings.HasPrefix(lines[0], "gatehouse: ") {
			t.Errorf("%v: stdout %q, stderr %q; want nothing, and one gatehouse: line", tt.args, stdout.String(), stderr.String())
		}
	}
}
