package api_test

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestSecurityHeadersOnEveryAnswer sends every registered route (and
// unknown routes, wrong methods, oversized and malformed requests) with
// and without credentials, and requires X-Content-Type-Options: nosniff
// and Cache-Control: no-store on every answer, success or error.
func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	f := newFixture(t)
	params := strings.NewReplacer(":id", f.aliceKey.ID, ":key", "favoriteColor")
	auths := map[string]string{
		"none":     "",
		"password": basic("alice", alicePassword),
		"key":      basic(f.aliceKey.ID, f.aliceKey.Secret),
		"bearer":   "Bearer " + f.token,
		"wrong":    basic("alice", "not her password"),
		"garbage":  "Basic !!!",
	}
	bodies := map[string]struct{ contentType, body string }{
		"/api/users":          {"application/json", `{"username":"newuser","password":"a long enough password"}`},
		"/api/me/custom-data": {"application/json", `{"a":1}`},
		"/api/me/api-keys":    {"application/json", `{"name":"k"}`},
		"/oauth/token":        {"application/x-www-form-urlencoded", url.Values{"grant_type": {"client_credentials"}}.Encode()},
		"/oauth/revoke":       {"application/x-www-form-urlencoded", url.Values{"token": {"x"}}.Encode()},
	}
	var sent int
	seen := map[int]bool{}
	send := func(name string, r request) {
		t.Helper()
		rec := f.do(t, r)
		sent++
		seen[rec.Code] = true
		if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: %d without X-Content-Type-Options: nosniff (%q)", name, rec.Code, got)
		}
		if got := rec.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: %d with Cache-Control %q, want no-store", name, rec.Code, got)
		}
	}
	// Echo lists routes in no fixed order; DELETEs go last so that deleting
	// alice's key does not turn the key's later answers (403 on key
	// management) into 401s.
	all := f.e.Routes()
	slices.SortStableFunc(all, func(a, b *echo.Route) int {
		return cmp.Or(cmp.Compare(boolInt(a.Method == http.MethodDelete), boolInt(b.Method == http.MethodDelete)),
			strings.Compare(a.Path, b.Path), strings.Compare(a.Method, b.Method))
	})
	routes := 0
	for _, rt := range all {
		switch rt.Method {
		case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			continue // echo's internal not-found routes of groups
		}
		routes++
		path := params.Replace(rt.Path)
		for an, auth := range auths {
			b := bodies[strings.TrimSuffix(path, "/"+f.aliceKey.ID)]
			ct := b.contentType
			if rt.Method == http.MethodPatch {
				ct = "application/merge-patch+json"
			}
			body := b.body
			if rt.Method == http.MethodGet || rt.Method == http.MethodDelete {
				body, ct = "", ""
			}
			send(rt.Method+" "+path+" auth="+an, request{method: rt.Method, path: path, auth: auth, contentType: ct, body: body})
		}
	}
	if routes < 15 {
		t.Fatalf("only %d routes registered?", routes)
	}
	// Errors outside the routes, and malformed requests on them.
	for _, r := range []request{
		{method: "GET", path: "/no/such/route"},
		{method: "DELETE", path: "/api/token", auth: basic("alice", alicePassword)},
		{method: "HEAD", path: "/healthz"},
		{method: "POST", path: "/api/users", contentType: "application/json", body: `{"username":`},
		{method: "POST", path: "/api/users", contentType: "text/plain", body: `x`},
		{method: "POST", path: "/api/users", contentType: "application/json", body: `{"username":"` + strings.Repeat("a", 2<<20) + `"}`},
		{method: "POST", path: "/oauth/token", contentType: "application/x-www-form-urlencoded", body: "grant_type=password&username=alice&password=" + url.QueryEscape(alicePassword)},
	} {
		send(r.method+" "+r.path, r)
	}
	for _, status := range []int{200, 201, 204, 400, 401, 403, 404, 405, 413, 415} {
		if !seen[status] {
			t.Errorf("no answer with status %d was checked; the sweep is too narrow", status)
		}
	}
	t.Logf("%d answers checked over %d routes, statuses %v", sent, routes, statusList(seen))
}

// TestSecretsAreNoStore names the answers that carry a secret or a token:
// whatever the default, each of them must say no-store.
func TestSecretsAreNoStore(t *testing.T) {
	f := newFixture(t)
	alice := basic("alice", alicePassword)
	for _, r := range []request{
		{method: "GET", path: "/api/token", auth: alice},
		{method: "GET", path: "/api/token", auth: "Bearer " + f.token},
		{method: "POST", path: "/api/me/api-keys", auth: alice, contentType: "application/json", body: `{"name":"ci"}`},
		{method: "POST", path: "/oauth/token", auth: basic(f.aliceKey.ID, f.aliceKey.Secret), contentType: "application/x-www-form-urlencoded",
			body: url.Values{"grant_type": {"client_credentials"}}.Encode()},
		{method: "POST", path: "/oauth/token", contentType: "application/x-www-form-urlencoded",
			body: url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}}.Encode()},
	} {
		rec := f.do(t, r)
		if rec.Code/100 != 2 {
			t.Fatalf("%s %s: %d %s", r.method, r.path, rec.Code, rec.Body)
		}
		if !strings.Contains(rec.Body.String(), "token") && !strings.Contains(rec.Body.String(), "secret") {
			t.Fatalf("%s %s: no credential in %s", r.method, r.path, rec.Body)
		}
		if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: Cache-Control %q, X-Content-Type-Options %q", r.method, r.path,
				rec.Header().Get("Cache-Control"), rec.Header().Get("X-Content-Type-Options"))
		}
	}
}

func statusList(m map[int]bool) []int {
	var out []int
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
