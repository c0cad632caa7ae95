package main

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/sqlstore"
	"github.com/gatehouse-id/gatehouse/identity/store"
	"github.com/gatehouse-id/gatehouse/identity/token"
)

// keysList is directory keys list's JSON.
type keysList struct {
	Application string
	Items       []struct {
		KID       string
		Status    string
		CreatedAt time.Time  `json:"created_at"`
		RetireAt  *time.Time `json:"retire_at"`
	}
}

// rotation is directory keys rotate's JSON.
type rotation struct {
	Application      string
	KID              string
	PreviousKID      *string    `json:"previous_kid"`
	PreviousRetireAt *time.Time `json:"previous_retire_at"`
}

// tokenKID returns the kid in a JWT's header.
func tokenKID(t *testing.T, raw string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

// appProvider is the provider a directory serving application name in db
// uses, with the clock now: a new one has no cached keys.
func appProvider(t *testing.T, db *sqlstore.DB, name string, now func() time.Time) *store.Provider {
	t.Helper()
	app, err := db.Application(t.Context(), name, false)
	if err != nil {
		t.Fatal(err)
	}
	return store.New(db.Backend(app.ID), store.Options{Application: name, Now: now})
}

// jwksVerifier verifies tokens with p's JWKS, as an API server or any
// other verifier does.
func jwksVerifier(t *testing.T, p identity.Provider) (*token.Verifier, []string) {
	t.Helper()
	raw, err := p.JWKS(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Keys []struct{ Kid string } }
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range doc.Keys {
		kids = append(kids, k.Kid)
	}
	keys, err := token.ParseJWKS(raw)
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.TokenSettings(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return token.NewVerifier(keys, s.Issuer, s.Audience, 0), kids
}

// TestKeysRotate rotates an application's signing key with the command: a
// token signed before still verifies with the JWKS, tokens after carry the
// new kid, and once the overlap has passed the old key is gone from the
// JWKS.
func TestKeysRotate(t *testing.T) {
	e := directoryEnv(t)
	bootstrap(t, e, "shop")
	db, err := sqlstore.Open(t.Context(), e["GATEHOUSE_DIRECTORY_DATABASE"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// No token yet, so no key.
	l := decode[keysList](t, mustRun(t, e, "", "directory", "keys", "list", "--application", "shop", "-o", "json"))
	if l.Application != "shop" || l.Items == nil || len(l.Items) != 0 {
		t.Fatalf("keys before any token: %+v", l)
	}

	p := appProvider(t, db, "shop", time.Now)
	acc, err := p.CreateAccount(t.Context(), identity.AccountCreate{Username: "alice", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	old, err := p.IssueToken(t.Context(), acc.ID, identity.TokenRequest{TTL: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	oldKID := tokenKID(t, old.Value)

	before := time.Now()
	r := mustRun(t, e, "", "directory", "keys", "rotate", "--application", "shop", "-o", "json")
	rot := decode[rotation](t, r)
	if rot.KID == "" || rot.KID == oldKID || rot.PreviousKID == nil || *rot.PreviousKID != oldKID || rot.PreviousRetireAt == nil {
		t.Fatalf("rotate: %+v", rot)
	}
	// Published for the longest token lifetime, and the key cache on top.
	if min, max := before.Add(24*time.Hour+30*time.Second), time.Now().Add(24*time.Hour+31*time.Second); rot.PreviousRetireAt.Before(min.Truncate(time.Millisecond)) || rot.PreviousRetireAt.After(max) {
		t.Errorf("old key retires at %s, want 24h30s after the rotation", rot.PreviousRetireAt)
	}

	// A directory started now (no cached key) signs with the new key; the
	// JWKS publishes both, and both tokens verify.
	p = appProvider(t, db, "shop", time.Now)
	fresh, err := p.IssueToken(t.Context(), acc.ID, identity.TokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := tokenKID(t, fresh.Value); got != rot.KID {
		t.Errorf("a token issued after the rotation has kid %s, want %s", got, rot.KID)
	}
	v, kids := jwksVerifier(t, p)
	if !slices.Contains(kids, oldKID) || !slices.Contains(kids, rot.KID) {
		t.Errorf("JWKS kids %v, want %s and %s", kids, oldKID, rot.KID)
	}
	for _, tok := range []*identity.Token{old, fresh} {
		if c, err := v.Verify(tok.Value, time.Now()); err != nil || c.ID != tok.ID {
			t.Errorf("token %s after the rotation: %v", tok.ID, err)
		}
	}

	l = decode[keysList](t, mustRun(t, e, "", "directory", "keys", "list", "--application", "shop", "-o", "json"))
	if len(l.Items) != 2 || l.Items[0].KID != rot.KID || l.Items[0].Status != "current" || l.Items[0].RetireAt != nil ||
		l.Items[1].KID != oldKID || l.Items[1].Status != "published" || l.Items[1].RetireAt == nil || !l.Items[1].RetireAt.Equal(*rot.PreviousRetireAt) {
		t.Errorf("keys after rotation: %+v", l)
	}
	r = mustRun(t, e, "", "directory", "keys", "list", "--application", "shop")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 3 || !strings.Contains(lines[0], "RETIRES") ||
		!strings.Contains(lines[1], "current") || !strings.Contains(lines[2], "published") {
		t.Errorf("keys list table:\n%s", r.stdout)
	}

	// Once the overlap has passed, the old key is out of the JWKS.
	later := func() time.Time { return rot.PreviousRetireAt.Add(time.Second) }
	if _, kids := jwksVerifier(t, appProvider(t, db, "shop", later)); slices.Contains(kids, oldKID) || !slices.Contains(kids, rot.KID) {
		t.Errorf("JWKS after the overlap: %v, want only %s", kids, rot.KID)
	}
	// Still there a second before.
	just := func() time.Time { return rot.PreviousRetireAt.Add(-time.Second) }
	if _, kids := jwksVerifier(t, appProvider(t, db, "shop", just)); !slices.Contains(kids, oldKID) {
		t.Errorf("JWKS just before the overlap ends: %v, want %s still", kids, oldKID)
	}

	// A shorter overlap than a token can live is refused, and nothing
	// changes; a longer one is kept.
	r = gatehouse(t, e, "", "directory", "keys", "rotate", "--application", "shop", "--overlap", "1h")
	if exitCode(r.err) != exitUsage || !strings.Contains(r.err.Error(), "--overlap") || !strings.Contains(r.err.Error(), "24h") || r.stdout != "" {
		t.Errorf("--overlap 1h: %v", r.err)
	}
	if l2 := decode[keysList](t, mustRun(t, e, "", "directory", "keys", "list", "--application", "shop", "-o", "json")); len(l2.Items) != 2 {
		t.Errorf("a refused rotation made a key: %+v", l2)
	}
	before = time.Now()
	rot2 := decode[rotation](t, mustRun(t, e, "", "directory", "keys", "rotate", "--application", "shop", "--overlap", "72h", "-o", "json"))
	if *rot2.PreviousKID != rot.KID || rot2.PreviousRetireAt.Before(before.Add(72*time.Hour).Truncate(time.Millisecond)) || rot2.PreviousRetireAt.After(time.Now().Add(73*time.Hour)) {
		t.Errorf("--overlap 72h: %+v", rot2)
	}

	// A key whose overlap has passed shows as retired.
	past := func() time.Time { return time.Now().Add(-72 * time.Hour) }
	if _, err := appProvider(t, db, "shop", past).RotateSigningKey(t.Context()); err != nil {
		t.Fatal(err)
	}
	l = decode[keysList](t, mustRun(t, e, "", "directory", "keys", "list", "--application", "shop", "-o", "json"))
	if len(l.Items) != 4 || l.Items[1].KID != rot2.KID || l.Items[1].Status != "retired" {
		t.Errorf("keys after a past rotation: %+v", l)
	}

	// An application that does not exist is not created.
	r = gatehouse(t, e, "", "directory", "keys", "rotate", "--application", "shpo")
	if exitCode(r.err) != exitNotFound || !strings.Contains(r.err.Error(), `"shpo"`) {
		t.Errorf("unknown application: %v", r.err)
	}
	if _, err := db.Application(t.Context(), "shpo", false); err == nil {
		t.Error("keys rotate created the application")
	}
}

// TestKeysRotateLocalDatabase rotates the key of an API server with the
// local provider (--database names its database), and checks through the
// running server that a token issued before the rotation still works.
func TestKeysRotateLocalDatabase(t *testing.T) {
	e := localEnv(t)
	mustRun(t, e, "correct horse battery\n", "accounts", "create", "--username", "alice")
	addr, _, stop := startServe(t, e, "--addr", "127.0.0.1:0")
	api := &process{base: "http://" + addr}
	a := api.do(t, call{path: "/api/token", auth: basicAuth("alice", "correct horse battery")})
	expectStatus(t, "token", a, 200)
	tok := jsonField(t, a.body, "token")

	rot := decode[rotation](t, mustRun(t, e, "", "directory", "keys", "rotate",
		"--database", e["GATEHOUSE_IDENTITY_LOCAL_DATABASE"], "--application", "gatehouse", "-o", "json"))
	if rot.PreviousKID == nil || *rot.PreviousKID != tokenKID(t, tok) {
		t.Fatalf("rotate: %+v, the token's kid is %s", rot, tokenKID(t, tok))
	}
	expectStatus(t, "token from before the rotation", api.do(t, call{path: "/api/resource", auth: "Bearer " + tok}), 200, "Hello, alice!")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// Restarted, the server signs with the new key and accepts both.
	addr, _, _ = startServe(t, e, "--addr", "127.0.0.1:0")
	api = &process{base: "http://" + addr}
	a = api.do(t, call{path: "/api/token", auth: basicAuth("alice", "correct horse battery")})
	expectStatus(t, "token after", a, 200)
	if got := tokenKID(t, jsonField(t, a.body, "token")); got != rot.KID {
		t.Errorf("new token's kid %s, want %s", got, rot.KID)
	}
	expectStatus(t, "old token, restarted", api.do(t, call{path: "/api/resource", auth: "Bearer " + tok}), 200)
}

// TestAdminKeys lists, creates and deletes admin keys; a secret is printed
// only by create.
func TestAdminKeys(t *testing.T) {
	e := directoryEnv(t)
	id1, secret1 := bootstrap(t, e, "shop")
	bootstrap(t, e, "blog")

	r := mustRun(t, e, "", "directory", "admin-keys", "create", "--application", "shop")
	id2, secret2 := parseBootstrap(t, r.stdout)
	if !strings.Contains(r.stderr, "shown only now") || strings.Contains(r.stderr, secret2) {
		t.Errorf("create stderr %q", r.stderr)
	}
	r = mustRun(t, e, "", "directory", "admin-keys", "create", "--application", "shop", "-o", "json")
	k3 := decode[struct{ Application, ID, Secret string }](t, r)
	if k3.Application != "shop" || !strings.HasPrefix(k3.ID, "gk_") || !strings.HasPrefix(k3.Secret, "gks_") {
		t.Errorf("create JSON: %+v", k3)
	}

	type keyList struct {
		Application string
		Items       []struct {
			ID, Status string
			CreatedAt  time.Time `json:"created_at"`
		}
	}
	r = mustRun(t, e, "", "directory", "admin-keys", "list", "--application", "shop", "-o", "json")
	l := decode[keyList](t, r)
	var ids []string
	for _, k := range l.Items {
		ids = append(ids, k.ID)
		if k.Status != "ENABLED" || k.CreatedAt.IsZero() {
			t.Errorf("key %+v", k)
		}
	}
	if !slices.Equal(ids, []string{id1, id2, k3.ID}) {
		t.Errorf("list %v, want %v", ids, []string{id1, id2, k3.ID})
	}
	for _, s := range []string{secret1, secret2, k3.Secret, "gks_"} {
		if strings.Contains(r.stdout, s) {
			t.Errorf("list shows a secret: %s", r.stdout)
		}
	}
	r = mustRun(t, e, "", "directory", "admin-keys", "list", "--application", "shop")
	if strings.Count(r.stdout, "\n") != 4 || !strings.Contains(r.stdout, id2) || strings.Contains(r.stdout, "gks_") {
		t.Errorf("list table:\n%s", r.stdout)
	}

	// A key of another application is not this one's to delete.
	r = gatehouse(t, e, "", "directory", "admin-keys", "delete", id1, "--application", "blog")
	if exitCode(r.err) != exitNotFound {
		t.Errorf("delete another application's key: %v", r.err)
	}
	r = mustRun(t, e, "", "directory", "admin-keys", "delete", id1, "--application", "shop", "-o", "json")
	if d := decode[map[string]any](t, r); d["id"] != id1 || d["deleted"] != true || d["application"] != "shop" {
		t.Errorf("delete JSON: %v", d)
	}
	db, err := sqlstore.Open(t.Context(), e["GATEHOUSE_DIRECTORY_DATABASE"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.AuthenticateAdminKey(t.Context(), id1, secret1); err == nil {
		t.Error("a deleted admin key authenticates")
	}
	if _, err := db.AuthenticateAdminKey(t.Context(), id2, secret2); err != nil {
		t.Errorf("another key stopped working: %v", err)
	}
	r = gatehouse(t, e, "", "directory", "admin-keys", "delete", id1, "--application", "shop")
	if exitCode(r.err) != exitNotFound {
		t.Errorf("delete twice: %v", r.err)
	}
	mustRun(t, e, "", "directory", "admin-keys", "revoke", id2, "--application", "shop")
	r = mustRun(t, e, "", "directory", "admin-keys", "delete", k3.ID, "--application", "shop")
	if !strings.Contains(r.stderr, "no admin key left") || !strings.Contains(r.stdout, "Deleted admin key "+k3.ID) {
		t.Errorf("deleting the last key: stdout %q stderr %q", r.stdout, r.stderr)
	}
	r = gatehouse(t, e, "", "directory", "admin-keys", "create", "--application", "nope")
	if exitCode(r.err) != exitNotFound || r.stdout != "" {
		t.Errorf("create for a missing application: %v", r.err)
	}
}
