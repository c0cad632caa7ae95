package main

// Signing keys encrypted at rest, end to end on the built binary: the
// operator's path from keys in the clear to encrypted ones, and on to a new
// encryption key, with tokens issued before every step still accepted.

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the driver sqlstore uses, to read the raw rows
)

// storedPrivateKeys returns the private_key column of every signing key in
// the SQLite database at path, as a copy of the file would show them.
func storedPrivateKeys(t *testing.T, path string) [][]byte {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT private_key FROM signing_keys ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// resealed is keys reseal's JSON.
type resealed struct{ Applications, Resealed, Unchanged int }

func TestEncryptedSigningKeysEndToEnd(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "gatehouse.db")
	const (
		keyA  = "GATEHOUSE_ENCRYPTION_KEY=first encryption key of 32 bytes or more"
		keyB  = "GATEHOUSE_ENCRYPTION_KEY=second encryption key of 32 bytes or more"
		prevA = "GATEHOUSE_ENCRYPTION_PREVIOUS_KEYS=first encryption key of 32 bytes or more"
	)
	alice := basicAuth("alice", "correct horse battery")

	// Without a key, as before: the signing key is stored in the clear.
	p := startAPI(t, dir, db)
	expectStatus(t, "register", p.do(t, call{method: "POST", path: "/api/users", contentType: "application/json",
		body: `{"username":"alice","password":"correct horse battery"}`}), 201)
	a := p.do(t, call{path: "/api/token", auth: alice})
	expectStatus(t, "token", a, 200)
	tokenBefore := jsonField(t, a.body, "token")
	p.stop(t)
	clear := storedPrivateKeys(t, db)
	if len(clear) != 1 || clear[0][0] != 0x30 {
		t.Fatalf("without a key, the stored key is not DER: %x", clear)
	}

	// reseal needs a key.
	cmd := exec.Command(binary(t), "directory", "keys", "reseal", "--database", db)
	cmd.Dir, cmd.Env = dir, binaryEnv(dir, nil)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitUsage || !strings.Contains(string(out), "encryption.key is not set") {
		t.Fatalf("reseal without a key: %v\n%s", err, out)
	}

	// With key A, reseal encrypts it; the file no longer holds it.
	var r resealed
	if err := json.Unmarshal([]byte(runBinary(t, dir, []string{"directory", "keys", "reseal", "--database", db, "-o", "json"}, keyA)), &r); err != nil {
		t.Fatal(err)
	}
	if r != (resealed{Applications: 1, Resealed: 1}) {
		t.Fatalf("reseal: %+v", r)
	}
	sealed := storedPrivateKeys(t, db)
	if len(sealed) != 1 || !bytes.HasPrefix(sealed[0], []byte("ghs1")) || bytes.Contains(sealed[0], clear[0][len(clear[0])-32:]) {
		t.Fatalf("after reseal the stored key is %x", sealed)
	}

	// Servers without the key, or with another, refuse to start, saying
	// why: the API server and the directory alike.
	for _, args := range [][]string{{"serve", "--addr", "127.0.0.1:0"}, {"directory", "serve", "--addr", "127.0.0.1:0"}} {
		for _, key := range []string{"", keyB} {
			cmd = exec.Command(binary(t), args...)
			cmd.Dir, cmd.Env = dir, binaryEnv(dir, []string{"GATEHOUSE_IDENTITY_LOCAL_DATABASE=" + db, "GATEHOUSE_DIRECTORY_DATABASE=" + db, key})
			out, err = cmd.CombinedOutput()
			if !errors.As(err, &exit) || exit.ExitCode() != exitUsage || !strings.Contains(string(out), "encryption.key: cannot decrypt the token signing keys") {
				t.Fatalf("%s with key %q: %v\n%s", strings.Join(args, " "), key, err, out)
			}
		}
	}

	// With it, the token issued before is still good, and new keys are
	// encrypted as they are made.
	p = startAPI(t, dir, db, keyA)
	expectStatus(t, "old token, key A", p.do(t, call{path: "/api/resource", auth: "Bearer " + tokenBefore}), 200, "Hello, alice!")
	p.stop(t)
	runBinary(t, dir, []string{"directory", "keys", "rotate", "--database", db, "--application", "gatehouse"}, keyA)
	if keys := storedPrivateKeys(t, db); len(keys) != 2 || !bytes.HasPrefix(keys[1], []byte("ghs1")) {
		t.Fatalf("a key made with encryption.key is stored as %x", keys)
	}

	// Changing the key: B current and A previous, reseal, then A can go.
	if err := json.Unmarshal([]byte(runBinary(t, dir, []string{"directory", "keys", "reseal", "--database", db, "-o", "json"}, keyB, prevA)), &r); err != nil {
		t.Fatal(err)
	}
	if r != (resealed{Applications: 1, Resealed: 2}) {
		t.Fatalf("reseal to key B: %+v", r)
	}
	p = startAPI(t, dir, db, keyB)
	expectStatus(t, "old token, key B", p.do(t, call{path: "/api/resource", auth: "Bearer " + tokenBefore}), 200, "Hello, alice!")
	a = p.do(t, call{path: "/api/token", auth: alice})
	expectStatus(t, "new token, key B", a, 200)
	expectStatus(t, "new token works", p.do(t, call{path: "/api/resource", auth: "Bearer " + jsonField(t, a.body, "token")}), 200, "Hello, alice!")
	p.stop(t)
}
