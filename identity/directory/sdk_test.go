package directory_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity/wire"
)

// sdkHeaders are the headers stormpath-sdk-node@0.20.1 sends with every
// request (observed), besides Authorization and, with a body,
// Content-Type: application/json.
var sdkHeaders = map[string]string{
	"User-Agent": "stormpath-sdk-node/0.20.1 node/20.20.2 linux/6.18",
	"Accept":     "application/json",
}

// sdk sends a request the way the SDK does: to the path of an href the
// directory gave (the SDK replaces the base URL and keeps the path), with
// the SDK's headers; a POST without body has no Content-Type.
func (h *harness) sdk(method, href string, body string) *resp {
	h.t.Helper()
	path := strings.TrimPrefix(href, testBase)
	if !strings.HasPrefix(path, "/v1/") {
		h.t.Fatalf("href %q does not start with the base URL %s/v1", href, testBase)
	}
	rq := req{method: method, path: path, header: sdkHeaders}
	if body != "" {
		rq.body = body
		rq.contentType = "application/json"
	}
	return h.do(rq)
}

// sdkObject checks what the SDK needs of every answer to a POST: a JSON
// object (an empty 201 crashes the SDK's process).
func sdkObject(t *testing.T, r *resp) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil || m == nil {
		t.Fatalf("answer is not a JSON object: %s", r.Body)
	}
	return m
}

func href(t *testing.T, m map[string]any, path ...string) string {
	t.Helper()
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("no %v in %v", path, m)
		}
		v = mm[p]
	}
	s, ok := v.(string)
	if !ok || !strings.HasPrefix(s, testBase+"/v1/") {
		t.Fatalf("%v = %v: not an href under the base URL", path, v)
	}
	return s
}

// sdkError checks an error body the way the SDK reads it: status and code
// from the body.
func sdkError(t *testing.T, r *resp, status, code int) {
	t.Helper()
	var e wire.Error
	r.Decode(&e)
	if r.Code != status || e.Status != status || e.Code != code {
		t.Fatalf("HTTP %d, body status %d code %d; want %d/%d: %s", r.Code, e.Status, e.Code, status, code, r.Body)
	}
}

// TestStormpathSDKRequests replays, in order, each request shape the
// Stormpath Node.js SDK was observed to send for the operations Gatehouse
// supports, and checks what the SDK needs of each answer.
func TestStormpathSDKRequests(t *testing.T) {
	tenants(t, func(t *testing.T, h *harness) {
		var app, acc, group, cd map[string]any
		// Each step needs the ones before: stop at the first failure.
		failed := false
		step := func(name string, fn func(t *testing.T)) {
			if !failed && !t.Run(name, fn) {
				failed = true
			}
		}

		step("client.getApplications({name})", func(t *testing.T) {
			r := h.sdk("GET", testBase+"/v1/tenants/current", "")
			if r.Code != 302 {
				t.Fatalf("tenants/current: %d", r.Code)
			}
			loc, err := url.Parse(r.Header.Get("Location"))
			if err != nil || loc.Hostname() != "dir.test" {
				t.Fatalf("Location %q: the SDK keeps credentials only on the same host", r.Header.Get("Location"))
			}
			tenant := sdkObject(t, h.sdk("GET", loc.String(), "").expect(200))
			apps := sdkObject(t, h.sdk("GET", href(t, tenant, "applications", "href")+"?name="+url.QueryEscape(h.app), "").expect(200))
			for _, k := range []string{"offset", "limit"} {
				if _, ok := apps[k].(float64); !ok {
					t.Fatalf("collection %s is not a number: %v", k, apps[k])
				}
			}
			href(t, apps, "href")
			items := apps["items"].([]any)
			if len(items) != 1 {
				t.Fatalf("%d applications", len(items))
			}
			app = items[0].(map[string]any)
			for _, l := range []string{"accounts", "groups", "loginAttempts", "apiKeys"} {
				href(t, app, l, "href")
			}
		})

		step("app.createAccount", func(t *testing.T) {
			r := h.sdk("POST", href(t, app, "accounts", "href"), `{"givenName":"John","surname":"Doe","username":"jdoe","email":"jdoe@example.com","password":"`+pw+`"}`).expect(201)
			acc = sdkObject(t, r)
			for _, l := range []string{"customData", "apiKeys", "groups", "groupMemberships"} {
				href(t, acc, l, "href")
			}
			// Without username: it defaults to the email.
			p := sdkObject(t, h.sdk("POST", href(t, app, "accounts", "href"), `{"givenName":"P1","surname":"Page","email":"page1@example.com","password":"`+pw+`"}`).expect(201))
			if p["username"] != "page1@example.com" {
				t.Fatalf("username %v", p["username"])
			}
			sdkError(t, h.sdk("POST", href(t, app, "accounts", "href"), `{"givenName":"John","surname":"Doe","username":"jdoe","email":"jdoe@example.com","password":"`+pw+`"}`), 409, 2001)
		})

		step("app.authenticateAccount", func(t *testing.T) {
			r := h.sdk("POST", href(t, app, "loginAttempts", "href")+"?expand=account", `{"type":"basic","value":"`+b64("jdoe:"+pw)+`"}`).expect(200)
			res := sdkObject(t, r)
			if href(t, res, "account", "href") != acc["href"] || res["account"].(map[string]any)["username"] != "jdoe" {
				t.Fatalf("result %s", r.Body)
			}
			sdkError(t, h.sdk("POST", href(t, app, "loginAttempts", "href")+"?expand=account", `{"type":"basic","value":"`+b64("jdoe:nope")+`"}`), 400, 7100)
		})

		step("app.getAccounts and paging", func(t *testing.T) {
			accounts := href(t, app, "accounts", "href")
			for _, q := range []string{"?username=jdoe", "?email=jdoe%40example.com"} {
				if n := len(sdkObject(t, h.sdk("GET", accounts+q, "").expect(200))["items"].([]any)); n != 1 {
					t.Fatalf("%s: %d items", q, n)
				}
			}
			for i := 2; i <= 4; i++ {
				h.sdk("POST", accounts, `{"email":"page`+string(rune('0'+i))+`@example.com","password":"`+pw+`"}`).expect(201)
			}
			page := sdkObject(t, h.sdk("GET", accounts+"?limit=2&offset=1", "").expect(200))
			if page["offset"].(float64) != 1 || page["limit"].(float64) != 2 || len(page["items"].([]any)) != 2 {
				t.Fatalf("page %v", page)
			}
			// each(): the next page is href?<query>&offset=<offset+len>&limit=100.
			first := sdkObject(t, h.sdk("GET", accounts+"?limit=2", "").expect(200))
			next := sdkObject(t, h.sdk("GET", href(t, first, "href")+"?limit=100&offset=2", "").expect(200))
			if n := len(next["items"].([]any)); n != 3 || next["limit"].(float64) != 100 {
				t.Fatalf("next page: %d items, limit %v", n, next["limit"])
			}
		})

		step("app.createGroup, app.getGroups", func(t *testing.T) {
			group = sdkObject(t, h.sdk("POST", href(t, app, "groups", "href"), `{"name":"admins"}`).expect(201))
			href(t, group, "href")
			if len(sdkObject(t, h.sdk("GET", href(t, app, "groups", "href"), "").expect(200))["items"].([]any)) != 1 {
				t.Fatal("group not listed")
			}
		})

		step("account.save", func(t *testing.T) {
			held := map[string]any{}
			for k, v := range acc {
				held[k] = v
			}
			held["givenName"] = "Johnny"
			held["middleName"] = nil
			held["emailVerificationToken"] = nil
			held["emailVerificationStatus"] = "UNKNOWN"
			held["providerData"] = map[string]string{"href": acc["href"].(string) + "/providerData"}
			held["customData"] = map[string]any{"href": href(t, acc, "customData", "href"), "foo": "x"}
			b, _ := json.Marshal(held)
			saved := sdkObject(t, h.sdk("POST", acc["href"].(string), string(b)).expect(200))
			if saved["givenName"] != "Johnny" {
				t.Fatalf("saved %v", saved)
			}
		})

		step("getCustomData, customData.save, remove", func(t *testing.T) {
			cdHref := href(t, acc, "customData", "href")
			cd = sdkObject(t, h.sdk("GET", cdHref, "").expect(200))
			if href(t, cd, "href") != cdHref || cd["foo"] != "x" {
				t.Fatalf("custom data %v", cd)
			}
			saved := sdkObject(t, h.sdk("POST", cdHref, `{"href":"`+cdHref+`","foo":"x","color":"blue","size":42}`).expect(200))
			if saved["color"] != "blue" || saved["size"].(float64) != 42 || saved["href"] != cdHref {
				t.Fatalf("saved %v", saved)
			}
			if r := h.sdk("DELETE", cdHref+"/size", ""); r.Code != 204 {
				t.Fatalf("remove: %d %s", r.Code, r.Body)
			}
			saved = sdkObject(t, h.sdk("POST", cdHref, `{"href":"`+cdHref+`","foo":"x","color":"blue"}`).expect(200))
			if _, has := saved["size"]; has {
				t.Fatalf("size survived: %v", saved)
			}
		})

		var key map[string]any
		step("account.createApiKey, getApiKeys, app.getApiKey", func(t *testing.T) {
			keys := href(t, acc, "apiKeys", "href")
			r := h.sdk("POST", keys+"?expand=account&"+sdkEncQuery, "").expect(201)
			key = sdkObject(t, r)
			href(t, key, "href")
			plain := decryptSecret(t, h.secret, sdkSalt, 1024, 256, key["secret"].(string))
			h.post(h.appPath("apiKeyAttempts"), map[string]string{"type": "basic", "value": b64(key["id"].(string) + ":" + plain)}).expect(200)

			list := sdkObject(t, h.sdk("GET", keys+"?expand=account&"+sdkEncQuery, "").expect(200))
			item := list["items"].([]any)[0].(map[string]any)
			// It decrypts (to nothing: the directory keeps no secret to show).
			if decryptSecret(t, h.secret, sdkSalt, 1024, 256, item["secret"].(string)) != "" {
				t.Fatal("a listed key shows a secret")
			}
			found := sdkObject(t, h.sdk("GET", href(t, app, "apiKeys", "href")+"?expand=account&"+sdkEncQuery+"&id="+key["id"].(string), "").expect(200))
			if len(found["items"].([]any)) != 1 {
				t.Fatalf("getApiKey: %v", found)
			}
		})

		step("account.addToGroup, account.getGroups", func(t *testing.T) {
			m := sdkObject(t, h.sdk("POST", testBase+"/v1/groupMemberships", `{"account":{"href":"`+acc["href"].(string)+`"},"group":{"href":"`+group["href"].(string)+`"}}`).expect(201))
			href(t, m, "href")
			gs := sdkObject(t, h.sdk("GET", href(t, acc, "groups", "href"), "").expect(200))
			if len(gs["items"].([]any)) != 1 {
				t.Fatalf("groups %v", gs)
			}
		})

		step("account.delete, then 404 and 400/7100", func(t *testing.T) {
			if r := h.sdk("DELETE", acc["href"].(string), ""); r.Code != 204 {
				t.Fatalf("delete: %d", r.Code)
			}
			sdkError(t, h.sdk("GET", acc["href"].(string), ""), 404, 404)
			sdkError(t, h.sdk("POST", href(t, app, "loginAttempts", "href")+"?expand=account", `{"type":"basic","value":"`+b64("jdoe:"+pw)+`"}`), 400, 7100)
		})

		step("bad tenant credentials: 401/401", func(t *testing.T) {
			r := h.do(req{method: "GET", path: "/v1/tenants/current", auth: basic(h.keyID, "wrong"), header: sdkHeaders})
			sdkError(t, r, 401, 401)
		})
	})
}
