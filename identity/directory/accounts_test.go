package directory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/password"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

const pw = "correct horse battery"

func TestAccounts(t *testing.T) {
	account := func(t *testing.T, h *harness) vars {
		a := h.mustAccount("jane", "jane@example.com")
		return vars{"acc": a.ID}
	}
	runAll(t, []tcase{
		{name: "create: username defaults to the email",
			when:   req{method: "POST", path: "/v1/applications/{app}/accounts", body: `{"email":"Ann@Example.com","password":"` + pw + `","givenName":"Ann","surname":"Lee"}`},
			status: 201,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				var a wire.Account
				r.Decode(&a)
				if a.Username != "Ann@Example.com" || a.FullName != "Ann Lee" || a.Status != "ENABLED" {
					t.Fatalf("account %+v", a)
				}
				if r.Header.Get("Location") != a.Href || !strings.HasPrefix(a.Href, testBase+"/v1/accounts/") {
					t.Fatalf("Location %q, href %q", r.Header.Get("Location"), a.Href)
				}
				for name, l := range map[string]string{"customData": string(a.CustomData), "groups": a.Groups.Href, "apiKeys": a.APIKeys.Href, "directory": a.Directory.Href} {
					if !strings.Contains(l, testBase+"/v1/") {
						t.Fatalf("%s link %q", name, l)
					}
				}
			}},
		{name: "create with inline custom data",
			when:   req{method: "POST", path: "/v1/applications/{app}/accounts", body: `{"username":"ann","password":"` + pw + `","customData":{"href":"ignored","color":"blue","n":1.50}}`},
			status: 201,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				cd, err := h.p.CustomData(context.Background(), idOf(r.Str("href")))
				if err != nil || len(cd) != 2 || cd["color"] != "blue" || cd["n"].(json.Number).String() != "1.50" {
					t.Fatalf("custom data %v, %v", cd, err)
				}
			}},
		{name: "create with a bad custom data name creates nothing",
			when:   req{method: "POST", path: "/v1/applications/{app}/accounts", body: `{"username":"ann","password":"` + pw + `","customData":{"-x":1}}`},
			status: 400, errCode: "invalid_input",
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				if r.Num("code") != wire.CodeCustomDataField {
					t.Fatalf("code %d", r.Num("code"))
				}
				expectAccountCount(t, h, 0)
			}},
		{name: "create with custom data over the limit creates nothing",
			when:   req{method: "POST", path: "/v1/applications/{app}/accounts", body: `{"username":"ann","password":"` + pw + `","customData":{"x":"` + strings.Repeat("y", 70<<10) + `"}}`},
			status: 400, errCode: "limit_exceeded",
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				if r.Num("code") != wire.CodeCustomDataTooLarge {
					t.Fatalf("code %d", r.Num("code"))
				}
				expectAccountCount(t, h, 0)
			}},
		{name: "create importing a password hash",
			given: func(t *testing.T, h *harness) vars {
				hash, err := password.NewHasher(password.InsecureFastParams).Hash("imported password!")
				if err != nil {
					t.Fatal(err)
				}
				return vars{"hash": hash}
			},
			when:   req{method: "POST", path: "/v1/applications/{app}/accounts", body: `{"username":"imp","passwordHash":"{hash}"}`},
			status: 201,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				h.post(h.appPath("loginAttempts"), map[string]string{"type": "basic", "value": b64("imp:imported password!")}).expect(200)
			}},
		{name: "create: taken username is 409/2001", given: account,
			when:   req{method: "POST", path: "/v1/applications/{app}/accounts", body: `{"username":"JANE","password":"` + pw + `"}`},
			status: 409, errCode: "conflict", field: "username",
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				if r.Num("code") != wire.CodeDuplicate {
					t.Fatalf("code %d", r.Num("code"))
				}
			}},
		{name: "create: short password", when: req{method: "POST", path: "/v1/applications/{app}/accounts", body: `{"username":"x","password":"short"}`},
			status: 400, errCode: "invalid_input", field: "password"},
		{name: "create: no password", when: req{method: "POST", path: "/v1/applications/{app}/accounts", body: `{"username":"x"}`},
			status: 400, errCode: "invalid_input", field: "password"},
		{name: "create: bad status", when: req{method: "POST", path: "/v1/applications/{app}/accounts", body: `{"username":"x","password":"` + pw + `","status":"ON"}`},
			status: 400, errCode: "invalid_input", field: "status"},
		{name: "create: middle name", when: req{method: "POST", path: "/v1/applications/{app}/accounts", body: `{"username":"x","password":"` + pw + `","middleName":"Q"}`},
			status: 400, errCode: "invalid_input", field: "middleName"},
		{name: "create: unknown member", when: req{method: "POST", path: "/v1/applications/{app}/accounts", body: `{"username":"x","password":"` + pw + `","nickname":"y"}`},
			status: 400, errCode: "invalid_input", field: "nickname"},
		{name: "create: empty body", when: req{method: "POST", path: "/v1/applications/{app}/accounts", body: "", contentType: "application/json"},
			status: 400, errCode: "invalid_input", field: "body"},
		{name: "get", given: account, when: req{method: "GET", path: "/v1/accounts/{acc}"}, status: 200,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				var a wire.Account
				r.Decode(&a)
				if a.Href != testBase+"/v1/accounts/"+v["acc"] || a.Username != "jane" || a.Email != "jane@example.com" {
					t.Fatalf("account %+v", a)
				}
				var link wire.Link
				if json.Unmarshal(a.CustomData, &link) != nil || link.Href != a.Href+"/customData" {
					t.Fatalf("customData %s", a.CustomData)
				}
			}},
		{name: "get expanding custom data",
			given: func(t *testing.T, h *harness) vars {
				v := account(t, h)
				if _, err := h.p.ReplaceCustomData(context.Background(), v["acc"], identity.CustomData{"k": "v"}); err != nil {
					t.Fatal(err)
				}
				return v
			},
			when: req{method: "GET", path: "/v1/accounts/{acc}?expand=customData"}, status: 200,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				cd := r.JSON()["customData"].(map[string]any)
				if cd["k"] != "v" || cd["href"] != testBase+"/v1/accounts/"+v["acc"]+"/customData" {
					t.Fatalf("customData %v", cd)
				}
			}},
		{name: "get unknown", when: req{method: "GET", path: "/v1/accounts/0000000000000000000000"}, status: 404, errCode: "not_found"},
		{name: "get malformed id", when: req{method: "GET", path: "/v1/accounts/a%00b"}, status: 404, errCode: "not_found"},
		{name: "update: only the members given change", given: account,
			when: req{method: "POST", path: "/v1/accounts/{acc}", body: `{"givenName":"Janet","surname":null}`}, status: 200,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				a, _ := h.p.Account(context.Background(), v["acc"])
				if a.GivenName != "Janet" || a.Username != "jane" || a.Email != "jane@example.com" || r.Str("givenName") != "Janet" {
					t.Fatalf("after update: %+v / %s", a, r.Body)
				}
			}},
		{name: "update: password", given: account,
			when: req{method: "POST", path: "/v1/accounts/{acc}", body: `{"password":"a brand new password"}`}, status: 200,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				h.post(h.appPath("loginAttempts"), map[string]string{"type": "basic", "value": b64("jane:a brand new password")}).expect(200)
			}},
		{name: "update: disable", given: account,
			when: req{method: "POST", path: "/v1/accounts/{acc}", body: `{"status":"DISABLED"}`}, status: 200,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				if r.Str("status") != "DISABLED" {
					t.Fatalf("status %q", r.Str("status"))
				}
			}},
		{name: "update: inline custom data merges", given: account,
			when: req{method: "POST", path: "/v1/accounts/{acc}", body: `{"customData":{"href":"x","a":1}}`}, status: 200,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				cd, _ := h.p.CustomData(context.Background(), v["acc"])
				if len(cd) != 1 || cd["a"].(json.Number).String() != "1" {
					t.Fatalf("custom data %v", cd)
				}
			}},
		{name: "custom data: a key twice changes nothing", given: func(t *testing.T, h *harness) vars {
			v := account(t, h)
			if _, err := h.p.ReplaceCustomData(context.Background(), v["acc"], identity.CustomData{"plan": "free"}); err != nil {
				t.Fatal(err)
			}
			return v
		}, when: req{method: "POST", path: "/v1/accounts/{acc}/customData", body: `{"plan":"pro","plan":"enterprise"}`},
			status: 400, errCode: "invalid_input", field: "plan",
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				cd, _ := h.p.CustomData(context.Background(), v["acc"])
				if len(cd) != 1 || cd["plan"] != "free" {
					t.Fatalf("custom data %v after a refused write", cd)
				}
			}},
		{name: "update: taken email", given: func(t *testing.T, h *harness) vars {
			h.mustAccount("bob", "bob@example.com")
			return account(t, h)
		}, when: req{method: "POST", path: "/v1/accounts/{acc}", body: `{"email":"BOB@example.com"}`}, status: 409, errCode: "conflict", field: "email"},
		{name: "update: password hash", given: account,
			when: req{method: "POST", path: "/v1/accounts/{acc}", body: `{"passwordHash":"$2a$10$x"}`}, status: 400, errCode: "invalid_input", field: "passwordHash"},
		{name: "update: unknown", when: req{method: "POST", path: "/v1/accounts/0000000000000000000000", body: `{"givenName":"x"}`}, status: 404, errCode: "not_found"},
		{name: "delete", given: account, when: req{method: "DELETE", path: "/v1/accounts/{acc}"}, status: 204,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				if len(r.Body) != 0 {
					t.Fatalf("204 with a body: %s", r.Body)
				}
				h.get("/v1/accounts/"+v["acc"]).expect(404, "not_found")
			}},
		{name: "delete unknown", when: req{method: "DELETE", path: "/v1/accounts/0000000000000000000000"}, status: 404, errCode: "not_found"},
		{name: "account applications", given: account, when: req{method: "GET", path: "/v1/accounts/{acc}/applications"}, status: 200,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				var c wire.Collection[wire.Application]
				r.Decode(&c)
				if c.Size != 1 || len(c.Items) != 1 || c.Items[0].Href != testBase+"/v1/applications/"+h.appID {
					t.Fatalf("collection %+v", c)
				}
			}},
	})
}

// expectAccountCount checks the size of the accounts collection.
func expectAccountCount(t *testing.T, h *harness, n int) {
	t.Helper()
	r := h.get(h.appPath("accounts")).expect(200)
	if got := r.Num("size"); got != int64(n) {
		t.Fatalf("%d accounts, want %d: %s", got, n, r.Body)
	}
}

// TestAccountCollection: filters, paging, size as the total.
func TestAccountCollection(t *testing.T) {
	tenants(t, func(t *testing.T, h *harness) {
		for i := range 30 {
			h.mustAccount(fmt.Sprintf("user%02d", i), fmt.Sprintf("user%02d@example.com", i))
		}
		dis := h.mustAccount("disabled", "")
		st := identity.StatusDisabled
		if _, err := h.p.UpdateAccount(context.Background(), dis.ID, identity.AccountUpdate{Status: &st}); err != nil {
			t.Fatal(err)
		}
		var c wire.Collection[wire.Account]
		list := func(q string) wire.Collection[wire.Account] {
			t.Helper()
			var c wire.Collection[wire.Account]
			h.get(h.appPath("accounts") + q).expect(200).Decode(&c)
			return c
		}
		c = list("")
		if c.Offset != 0 || c.Limit != 25 || c.Size != 31 || len(c.Items) != 25 || c.Href != testBase+h.appPath("accounts") {
			t.Fatalf("default page: offset %d limit %d size %d items %d href %s", c.Offset, c.Limit, c.Size, len(c.Items), c.Href)
		}
		if c.Items[0].Username != "user00" {
			t.Fatalf("not oldest first: %s", c.Items[0].Username)
		}
		c = list("?offset=25&limit=100")
		if c.Offset != 25 || c.Limit != 100 || c.Size != 31 || len(c.Items) != 6 {
			t.Fatalf("second page: %d %d %d %d", c.Offset, c.Limit, c.Size, len(c.Items))
		}
		c = list("?limit=2&offset=1")
		if len(c.Items) != 2 || c.Items[0].Username != "user01" {
			t.Fatalf("limit=2&offset=1: %+v", c.Items)
		}
		c = list("?offset=500")
		if len(c.Items) != 0 || c.Size != 31 || c.Items == nil {
			t.Fatalf("past the end: %+v", c)
		}
		if c = list("?username=USER07"); c.Size != 1 || c.Items[0].Username != "user07" {
			t.Fatalf("username filter: %+v", c)
		}
		if c = list("?email=user08%40EXAMPLE.com"); c.Size != 1 || c.Items[0].Username != "user08" {
			t.Fatalf("email filter: %+v", c)
		}
		if c = list("?status=DISABLED"); c.Size != 1 || c.Items[0].Username != "disabled" {
			t.Fatalf("status filter: %+v", c)
		}
		if c = list("?q=ser1"); c.Size != 10 {
			t.Fatalf("q filter: size %d", c.Size)
		}
		if c = list("?q=nothing-matches"); c.Size != 0 || len(c.Items) != 0 {
			t.Fatalf("q without match: %+v", c)
		}
		r := h.get(h.appPath("accounts") + "?limit=1&expand=customData").expect(200)
		if _, ok := r.JSON()["items"].([]any)[0].(map[string]any)["customData"].(map[string]any)["createdAt"]; !ok {
			t.Fatalf("expand=customData: %s", r.Body)
		}
		for _, q := range []string{"?limit=0", "?limit=101", "?limit=-1", "?limit=x", "?offset=-1", "?offset=1.5", "?offset=99999999999999999999", "?status=ON", "?limit=1&limit=2", "?orderBy=email"} {
			r := h.get(h.appPath("accounts") + q)
			r.expect(400, "invalid_input")
			checkErrorShape(t, r)
		}
	})
}

// TestSDKAccountSave: Stormpath's SDKs save an account by posting back all
// they hold; read-only members and links are ignored, nulls are absent, and
// unchanged values do not re-date the account.
func TestSDKAccountSave(t *testing.T) {
	tenants(t, func(t *testing.T, h *harness) {
		r := h.post(h.appPath("accounts"), map[string]string{"givenName": "John", "surname": "Doe", "username": "jdoe", "email": "jdoe@example.com", "password": pw}).expect(201)
		var held map[string]any
		r.Decode(&held)
		held["givenName"] = "Johnny"
		held["middleName"] = nil
		held["emailVerificationToken"] = nil
		held["emailVerificationStatus"] = "UNKNOWN"
		for _, l := range []string{"providerData", "refreshTokens", "linkedAccounts", "accountLinks", "factors", "phones"} {
			held[l] = map[string]string{"href": held["href"].(string) + "/" + l}
		}
		held["customData"] = map[string]any{"href": held["href"].(string) + "/customData", "foo": "x"}
		r = h.post("/v1/accounts/"+idOf(held["href"].(string)), held).expect(200)
		if r.Str("givenName") != "Johnny" || r.Str("fullName") != "Johnny Doe" || r.Str("passwordModifiedAt") != held["passwordModifiedAt"] {
			t.Fatalf("after save: %s", r.Body)
		}
		cd, _ := h.p.CustomData(context.Background(), idOf(held["href"].(string)))
		if len(cd) != 1 || cd["foo"] != "x" {
			t.Fatalf("custom data after save: %v", cd)
		}
		// Saving again unchanged changes nothing.
		again := r.JSON()
		before := again["modifiedAt"]
		r = h.post("/v1/accounts/"+idOf(held["href"].(string)), again).expect(200)
		if r.JSON()["modifiedAt"] != before {
			t.Fatalf("an unchanged save moved modifiedAt: %v → %v", before, r.JSON()["modifiedAt"])
		}
	})
}
