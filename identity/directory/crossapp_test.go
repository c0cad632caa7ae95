package directory_test

import (
	"context"
	"encoding/json"
	"testing"
)

// TestCrossApplication: a key sees only its application. Every resource of
// another application, named by id, is not found, and nothing of it
// changes.
func TestCrossApplication(t *testing.T) {
	sqlTenants(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		o := h.other
		acc := o.mustAccount("bob", "bob@example.com")
		grp := o.mustGroup("b-admins")
		if err := o.p.AddToGroup(ctx, acc.ID, grp.ID); err != nil {
			t.Fatal(err)
		}
		key, err := o.p.CreateAPIKey(ctx, acc.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := o.p.ReplaceCustomData(ctx, acc.ID, map[string]any{"k": "v"}); err != nil {
			t.Fatal(err)
		}
		a, g, k, mem := "/v1/accounts/"+acc.ID, "/v1/groups/"+grp.ID, "/v1/apiKeys/"+key.ID, "/v1/groupMemberships/"+acc.ID+"-"+grp.ID
		oapp := "/v1/applications/" + o.appID
		membership := map[string]any{"account": map[string]string{"href": testBase + a}, "group": map[string]string{"href": testBase + g}}
		for _, rq := range []req{
			{method: "GET", path: a}, {method: "POST", path: a, body: `{"givenName":"x"}`}, {method: "DELETE", path: a},
			{method: "GET", path: a + "/customData"}, {method: "POST", path: a + "/customData", body: `{"x":1}`},
			{method: "PUT", path: a + "/customData", body: `{}`}, {method: "DELETE", path: a + "/customData"},
			{method: "DELETE", path: a + "/customData/k"},
			{method: "GET", path: a + "/apiKeys"}, {method: "POST", path: a + "/apiKeys"},
			{method: "GET", path: a + "/groups"}, {method: "GET", path: a + "/groupMemberships"},
			{method: "GET", path: a + "/applications"}, {method: "POST", path: a + "/accessTokens"},
			{method: "GET", path: k}, {method: "POST", path: k, body: `{"status":"DISABLED"}`}, {method: "DELETE", path: k},
			{method: "GET", path: g}, {method: "DELETE", path: g}, {method: "GET", path: g + "/accounts"}, {method: "GET", path: g + "/accountMemberships"},
			{method: "GET", path: mem}, {method: "DELETE", path: mem},
			{method: "POST", path: "/v1/groupMemberships", body: membership},
			{method: "GET", path: oapp}, {method: "GET", path: oapp + "/accounts"},
			{method: "POST", path: oapp + "/accounts", body: `{"username":"x","password":"` + pw + `"}`},
			{method: "POST", path: oapp + "/loginAttempts", body: `{"type":"basic","value":"` + b64("bob:"+pw) + `"}`},
			{method: "POST", path: oapp + "/apiKeyAttempts", body: `{"type":"basic","value":"` + b64(key.ID+":"+key.Secret) + `"}`},
			{method: "GET", path: oapp + "/apiKeys?id=" + key.ID}, {method: "GET", path: oapp + "/groups"},
			{method: "POST", path: oapp + "/groups", body: `{"name":"x"}`},
			{method: "GET", path: oapp + "/oAuthPolicy"}, {method: "GET", path: oapp + "/jwks"},
			{method: "POST", path: oapp + "/signingKeys"},
			{method: "POST", path: oapp + "/revocations", body: `{"jti":"x","expiresAt":"2099-01-01T00:00:00Z"}`},
			{method: "GET", path: oapp + "/revocations/x"},
		} {
			r := h.do(rq)
			if r.Code != 404 {
				t.Errorf("%s %s with another application's key: %d %s", rq.method, rq.path, r.Code, r.Body)
				continue
			}
			checkErrorShape(t, r)
		}

		// Through its own application, the key does not find them either.
		h.post(h.appPath("loginAttempts"), map[string]string{"type": "basic", "value": b64("bob:" + pw)}).expect(400, "invalid_credentials")
		h.post(h.appPath("apiKeyAttempts"), map[string]string{"type": "basic", "value": b64(key.ID + ":" + key.Secret)}).expect(400, "invalid_credentials")
		if h.get(h.appPath("apiKeys")+"?id="+key.ID).expect(200).Num("size") != 0 {
			t.Error("another application's key was found")
		}
		if h.get(h.appPath("accounts")+"?username=bob").expect(200).Num("size") != 0 {
			t.Error("another application's account was listed")
		}
		var apps struct{ Items []json.RawMessage }
		h.get("/v1/applications").expect(200).Decode(&apps)
		if len(apps.Items) != 1 {
			t.Errorf("the key sees %d applications", len(apps.Items))
		}

		// Nothing changed.
		if got, err := o.p.Account(ctx, acc.ID); err != nil || got.GivenName != "" {
			t.Fatalf("account: %+v, %v", got, err)
		}
		if cd, _ := o.p.CustomData(ctx, acc.ID); cd["k"] != "v" {
			t.Fatalf("custom data: %v", cd)
		}
		if got, _ := o.p.APIKey(ctx, key.ID); got == nil || got.Status != "ENABLED" {
			t.Fatalf("key: %+v", got)
		}
		if gs, _ := o.p.AccountGroups(ctx, acc.ID); len(gs) != 1 {
			t.Fatalf("memberships: %d", len(gs))
		}
		// And its own key still sees it all.
		o.get(a).expect(200)
		o.get(mem).expect(200)
	})
}
