package directory_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity/directory"
	"github.com/gatehouse-id/gatehouse/identity/password"
	"github.com/gatehouse-id/gatehouse/identity/sqlstore"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

// The Stormpath Node.js SDK compatibility test: testdata/stormpath-sdk
// holds compat.js, which drives the official SDK (stormpath@0.20.1, pinned
// by package.json and package-lock.json) through every operation of the
// SDK compatibility issue and checks the answers.
const (
	sdkTestdata   = "testdata/stormpath-sdk"
	sdkVersion    = "0.20.1"
	sdkCacheName  = "gatehouse-stormpath-sdk-" + sdkVersion
	sdkInstallMax = 4 * time.Minute
	sdkRunMax     = 2 * time.Minute
)

// sdkChecks are the checks compat.js must report, each with ok=true. A
// check the script skips, or one it reports that is not listed here, fails
// the test: keep the two lists in step.
var sdkChecks = []string{
	"sdk.version",
	"client.badKey",
	"tenant.getApplications",
	"tenant.getApplications.noMatch",
	"account.create",
	"account.create.duplicateUsername",
	"account.create.duplicateEmail",
	"login.username",
	"login.email",
	"login.wrongPassword",
	"login.unknownUser",
	"account.disable",
	"login.disabledAccount",
	"sdk.cacheDisabled",
	"accounts.byUsername",
	"accounts.byEmail",
	"accounts.noMatch",
	"accounts.createForPaging",
	"accounts.paging",
	"accounts.paging.each",
	"group.create",
	"group.create.duplicate",
	"groups.list",
	"account.save",
	"account.save.reread",
	"customData.get",
	"customData.save",
	"customData.merge",
	"customData.viaAccountSave",
	"customData.remove",
	"customData.removeAll",
	"apiKey.create",
	"apiKey.list",
	"application.getApiKey",
	"account.addToGroup",
	"account.getGroups",
	"group.getAccounts",
	"account.delete",
	"account.delete.gone",
}

// sdkLine is one line of compat.js's output.
type sdkLine struct {
	Check  string          `json:"check"`
	OK     bool            `json:"ok"`
	Error  string          `json:"error"`
	Info   json.RawMessage `json:"info"`
	Done   bool            `json:"done"`
	Checks int             `json:"checks"`
}

// TestStormpathNodeSDK runs the official Stormpath Node.js SDK against a
// directory over SQLite, on a loopback port. It needs node and npm (and the
// npm registry, for the first install): without them it skips, except
// under CI=true, where it fails. The SDK is installed once per content of
// package.json and package-lock.json, in the user's cache directory.
func TestStormpathNodeSDK(t *testing.T) {
	node, npm := sdkTools(t)
	work := t.TempDir()
	copyDir(t, sdkTestdata, work)
	modules := installSDK(t, npm, work)
	if modules != filepath.Join(work, "node_modules") {
		if err := os.Symlink(modules, filepath.Join(work, "node_modules")); err != nil {
			t.Fatal(err)
		}
	}

	ctx := t.Context()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "sdk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	const appName = "myapp"
	app, err := db.Application(ctx, appName, true)
	if err != nil {
		t.Fatal(err)
	}
	keyID, secret, err := db.CreateAdminKey(ctx, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The default password policy: the script's passwords are long enough.
	opts := store.Options{Hasher: password.NewHasher(password.InsecureFastParams)}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	srv := httptest.NewServer(directory.New(directory.Config{}, directory.SQLTenant(db, opts), logger))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("directory log:\n%s", logs.String())
		}
	})

	runCtx, cancel := context.WithTimeout(ctx, sdkRunMax)
	defer cancel()
	cmd := exec.CommandContext(runCtx, node, "compat.js")
	cmd.Dir = work
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = append(nodeEnv(),
		"HOME="+t.TempDir(), // the SDK reads ~/.stormpath/*
		"GATEHOUSE_SDK_BASE_URL="+srv.URL+"/v1",
		"GATEHOUSE_SDK_KEY_ID="+keyID,
		"GATEHOUSE_SDK_KEY_SECRET="+secret,
		"GATEHOUSE_SDK_APPLICATION="+appName,
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	runErr := cmd.Run()
	t.Logf("compat.js ran %v", time.Since(start).Round(time.Millisecond))
	if stderr.Len() > 0 {
		t.Logf("compat.js stderr:\n%s", stderr.Bytes())
	}

	got := map[string]bool{}
	done := false
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l sdkLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Errorf("compat.js printed a line that is not JSON: %s", sc.Bytes())
			continue
		}
		switch {
		case l.Done:
			done = true
			if l.Checks != len(got) {
				t.Errorf("compat.js counted %d checks, printed %d", l.Checks, len(got))
			}
		case !l.OK:
			t.Errorf("SDK check %s failed: %s", l.Check, l.Error)
		case !slices.Contains(sdkChecks, l.Check):
			t.Errorf("compat.js reported check %q, which sdkChecks does not list", l.Check)
		case got[l.Check]:
			t.Errorf("compat.js reported check %q twice", l.Check)
		default:
			got[l.Check] = true
			if testing.Verbose() {
				t.Logf("ok %s %s", l.Check, l.Info)
			}
		}
	}
	if runErr != nil {
		t.Errorf("compat.js: %v (context: %v)", runErr, runCtx.Err())
	}
	if !done {
		t.Errorf("compat.js did not run to its end")
	}
	for _, name := range sdkChecks {
		if !got[name] {
			t.Errorf("check %s did not pass", name)
		}
	}
	if t.Failed() {
		t.Logf("compat.js stdout:\n%s", stdout.Bytes())
	}
}

// sdkTools finds node and npm. Without them the test skips, but not in CI,
// which must run it.
func sdkTools(t *testing.T) (node, npm string) {
	t.Helper()
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node")
	}
	npm, err = exec.LookPath("npm")
	if err != nil {
		missing = append(missing, "npm")
	}
	if len(missing) > 0 {
		msg := strings.Join(missing, " and ") + " not found: the Stormpath SDK compatibility test needs Node.js and npm"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return node, npm
}

// nodeEnv is the environment for node: this process's, without the
// STORMPATH_* variables the SDK's config loader would pick up.
func nodeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(strings.ToUpper(kv), "STORMPATH_") {
			env = append(env, kv)
		}
	}
	return env
}

// installSDK returns the node_modules directory holding the SDK for the
// package files in work. It is kept in the user's cache directory, keyed by
// the package files' content, so that only the first run installs; without
// a cache directory, it installs into work.
func installSDK(t *testing.T, npm, work string) string {
	t.Helper()
	h := sha256.New()
	for _, name := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(work, name))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		h.Write([]byte(name + "\x00"))
		h.Write(b)
		h.Write([]byte{0})
	}
	key := hex.EncodeToString(h.Sum(nil))[:16]

	root, err := os.UserCacheDir()
	if err == nil {
		root = filepath.Join(root, sdkCacheName)
		err = os.MkdirAll(root, 0o755)
	}
	if err != nil {
		t.Logf("no cache for the SDK (%v): installing it for this run", err)
		npmInstall(t, npm, work)
		return filepath.Join(work, "node_modules")
	}
	final := filepath.Join(root, key)
	if sdkInstalled(final) {
		t.Logf("Stormpath SDK from the cache %s", final)
		return filepath.Join(final, "node_modules")
	}
	// Install beside the final place and rename, so that a run that is
	// interrupted, or one running at the same time, never sees half an
	// install.
	tmp, err := os.MkdirTemp(root, "install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	for _, name := range []string{"package.json", "package-lock.json"} {
		if b, err := os.ReadFile(filepath.Join(work, name)); err == nil {
			if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	npmInstall(t, npm, tmp)
	if !sdkInstalled(tmp) {
		t.Fatalf("npm install did not install stormpath@%s", sdkVersion)
	}
	_ = os.RemoveAll(final) // a broken earlier install
	if err := os.Rename(tmp, final); err != nil && !sdkInstalled(final) {
		t.Fatal(err)
	}
	return filepath.Join(final, "node_modules")
}

// sdkInstalled reports whether dir holds a complete install of the SDK.
func sdkInstalled(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", "stormpath", "package.json"))
	if err != nil {
		return false
	}
	var pkg struct{ Version string }
	if json.Unmarshal(b, &pkg) != nil || pkg.Version != sdkVersion {
		return false
	}
	// npm writes this file after every package is in place.
	_, err = os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	return err == nil
}

// npmInstall installs the packages of dir. Install scripts are not run:
// the SDK and its dependencies have none, and a registry package has no
// business running code on a CI machine.
func npmInstall(t *testing.T, npm, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), sdkInstallMax)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--no-update-notifier")
	cmd.Dir = dir
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm install in %s: %v (context: %v)\n%s", dir, err, ctx.Err(), out)
	}
	t.Logf("npm install took %v", time.Since(start).Round(time.Millisecond))
}

// copyDir copies the regular files of src (recursively) into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			if d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
