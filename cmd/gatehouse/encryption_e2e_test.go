package main

// Signing keys encrypted at rest, end to end on the built binary: the
// operator's path from keys in the clear to encrypted ones, and on to a new
// encryption key, with tokens issued before every step still accepted.

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
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
type resealed struct{ Applications, Resealed, Unchanged, Unreadable int }

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
	tokenB := jsonField(t, a.body, "token")
	expectStatus(t, "new token works", p.do(t, call{path: "/api/resource", auth: "Bearer " + tokenB}), 200, "Hello, alice!")
	p.stop(t)

	// Key B is lost: with a new key C the servers refuse to start until a
	// rotation makes a key C can open; then they serve at once, and the
	// tokens of the keys nothing can open are refused.
	const keyC = "GATEHOUSE_ENCRYPTION_KEY=third encryption key of 32 bytes or more"
	cmd = exec.Command(binary(t), "serve", "--addr", "127.0.0.1:0")
	cmd.Dir, cmd.Env = dir, binaryEnv(dir, []string{"GATEHOUSE_IDENTITY_LOCAL_DATABASE=" + db, keyC})
	if out, err = cmd.CombinedOutput(); !errors.As(err, &exit) || exit.ExitCode() != exitUsage {
		t.Fatalf("serve with a new key before the rotation: %v\n%s", err, out)
	}
	runBinary(t, dir, []string{"directory", "keys", "rotate", "--database", db, "--application", "gatehouse"}, keyC)
	p = startAPI(t, dir, db, keyC)
	for _, tok := range []string{tokenBefore, tokenB} {
		expectStatus(t, "a token of a lost key", p.do(t, call{path: "/api/resource", auth: "Bearer " + tok}), 401)
	}
	a = p.do(t, call{path: "/api/token", auth: alice})
	expectStatus(t, "token, key C", a, 200)
	expectStatus(t, "token of key C works", p.do(t, call{path: "/api/resource", auth: "Bearer " + jsonField(t, a.body, "token")}), 200, "Hello, alice!")
	p.stop(t)
	if err := json.Unmarshal([]byte(runBinary(t, dir, []string{"directory", "keys", "reseal", "--database", db, "-o", "json"}, keyC)), &r); err != nil {
		t.Fatal(err)
	}
	if r != (resealed{Applications: 1, Unchanged: 1, Unreadable: 2}) {
		t.Fatalf("reseal after the loss: %+v", r)
	}
}

// TestPagesAcrossDirectoryReplicas: two directory processes on one
// database, as behind a load balancer. With encryption.key set on both,
// the hosted login form one serves is accepted by the other; without it,
// each process has its own key and the form is refused (sticky sessions
// needed).
func TestPagesAcrossDirectoryReplicas(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		want int
	}{
		{"shared encryption.key", []string{"GATEHOUSE_ENCRYPTION_KEY=the deployment's secret of 32 bytes or more"}, http.StatusSeeOther},
		{"no key", nil, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			apiAddr := freeAddr(t)
			callback := "http://" + apiAddr + "/login/callback"
			dirEnv := append([]string{"GATEHOUSE_DIRECTORY_DATABASE=" + filepath.Join(dir, "directory.db")}, tc.env...)
			out := runBinary(t, dir, []string{"directory", "bootstrap", "--application", "webapp", "--redirect-uri", callback}, dirEnv...)
			a := startBinary(t, dir, []string{"directory", "serve"}, dirEnv...)
			b := startBinary(t, dir, []string{"directory", "serve"}, dirEnv...)
			api := startBinary(t, dir, []string{"serve"}, append([]string{
				"GATEHOUSE_IDENTITY_PROVIDER=remote", "GATEHOUSE_IDENTITY_REMOTE_URL=" + a.base,
				"GATEHOUSE_APPLICATION=webapp", "GATEHOUSE_SERVER_ADDR=" + apiAddr,
				"GATEHOUSE_LOGIN_PUBLIC_URL=http://" + apiAddr,
			}, strings.Split(strings.TrimSpace(out), "\n")...)...)
			expectStatus(t, "register", api.do(t, call{method: "POST", path: "/api/users", contentType: "application/json",
				body: `{"username":"alice","password":"correct horse battery"}`}), 201)

			// One browser (cookies are not per port): the page from a, the
			// form posted to b.
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := c.Get(api.base + "/login")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			page := resp.Header.Get("Location")
			if !strings.HasPrefix(page, a.base+"/idsite/login?request=") {
				t.Fatalf("GET /login: %d %s", resp.StatusCode, page)
			}
			resp, err = c.Get(page)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(body)
			if resp.StatusCode != http.StatusOK || m == nil {
				t.Fatalf("login page: %d", resp.StatusCode)
			}
			u, _ := url.Parse(page)
			resp, err = c.PostForm(b.base+"/idsite/login", url.Values{"csrf_token": {string(m[1])}, "request": {u.Query().Get("request")},
				"login": {"alice"}, "password": {"correct horse battery"}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("form from replica a posted to b: %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusSeeOther && !strings.HasPrefix(resp.Header.Get("Location"), callback+"?") {
				t.Fatalf("login at b redirects to %q", resp.Header.Get("Location"))
			}
		})
	}
}
