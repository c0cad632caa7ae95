package directory_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

// withoutRequestID returns an error body without its requestId, to compare
// failures.
func withoutRequestID(t *testing.T, r *resp) string {
	t.Helper()
	m := r.JSON()
	delete(m, "requestId")
	b, _ := json.Marshal(m)
	return string(b)
}

// TestLoginAttempts: success with a link or the expanded account; every
// failure exactly the same answer but for the request id.
func TestLoginAttempts(t *testing.T) {
	tenants(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		jane := h.mustAccount("jane", "jane@example.com")
		dis := h.mustAccount("dis", "")
		unv := h.mustAccount("unv", "")
		for id, st := range map[string]identity.Status{dis.ID: identity.StatusDisabled, unv.ID: identity.StatusUnverified} {
			if _, err := h.p.UpdateAccount(ctx, id, identity.AccountUpdate{Status: &st}); err != nil {
				t.Fatal(err)
			}
		}
		attempt := func(value string, q string) *resp {
			return h.post(h.appPath("loginAttempts")+q, map[string]string{"type": "basic", "value": value})
		}

		r := attempt(b64("jane:"+pw), "").expect(200)
		var res wire.AttemptResult
		r.Decode(&res)
		var link map[string]any
		_ = json.Unmarshal(res.Account, &link)
		if len(link) != 1 || link["href"] != testBase+"/v1/accounts/"+jane.ID {
			t.Fatalf("account link: %s", res.Account)
		}
		r = attempt(b64("JANE@example.com:"+pw), "?expand=account").expect(200)
		r.Decode(&res)
		var acc wire.Account
		if err := json.Unmarshal(res.Account, &acc); err != nil || acc.Username != "jane" || acc.Href != testBase+"/v1/accounts/"+jane.ID {
			t.Fatalf("expanded account: %s", res.Account)
		}
		// A password holding a colon: the login ends at the first colon.
		if _, err := h.p.UpdateAccount(ctx, jane.ID, identity.AccountUpdate{Password: ptr("pass:word:with colons")}); err != nil {
			t.Fatal(err)
		}
		attempt(b64("jane:pass:word:with colons"), "").expect(200)

		failures := map[string]*resp{
			"wrong password":     attempt(b64("jane:wrong password!"), ""),
			"unknown login":      attempt(b64("nobody:"+pw), ""),
			"disabled account":   attempt(b64("dis:"+pw), ""),
			"unverified account": attempt(b64("unv:"+pw), "?expand=account"),
			"not base64":         attempt("%%%not base64", ""),
			"no colon":           attempt(b64("janepassword"), ""),
			"empty value":        attempt("", ""),
			"empty login":        attempt(b64(":"+pw), ""),
		}
		var want string
		for name, r := range failures {
			r.expect(400, "invalid_credentials")
			checkErrorShape(t, r)
			got := withoutRequestID(t, r)
			if want == "" {
				want = got
				m := r.JSON()
				if m["message"] != "Invalid username or password." || m["code"].(json.Number).String() != "7100" || m["developerMessage"] != m["message"] {
					t.Fatalf("failure body: %s", r.Body)
				}
				if _, has := m["field"]; has {
					t.Fatalf("failure names a field: %s", r.Body)
				}
			}
			if got != want {
				t.Fatalf("%s answers differently:\n%s\nvs\n%s", name, got, want)
			}
		}

		// The request's shape is checked like any input.
		h.post(h.appPath("loginAttempts"), map[string]string{"type": "digest", "value": b64("jane:x")}).expect(400, "invalid_input")
		h.post(h.appPath("loginAttempts"), map[string]any{"type": "basic", "value": b64("jane:x"), "extra": 1}).expect(400, "invalid_input")
		// Stormpath's accountStore is accepted and ignored.
		h.post(h.appPath("loginAttempts"), map[string]any{"type": "basic", "value": b64("jane:pass:word:with colons"),
			"accountStore": map[string]string{"href": testBase + h.appPath("")}}).expect(200)
	})
}

func ptr[T any](v T) *T { return &v }

// TestAPIKeyAttempts: verification of account keys, one failure body.
func TestAPIKeyAttempts(t *testing.T) {
	tenants(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		jane := h.mustAccount("jane", "")
		k, err := h.p.CreateAPIKey(ctx, jane.ID, "ci")
		if err != nil {
			t.Fatal(err)
		}
		off, _ := h.p.CreateAPIKey(ctx, jane.ID, "off")
		if _, err := h.p.SetAPIKeyStatus(ctx, off.ID, identity.StatusDisabled); err != nil {
			t.Fatal(err)
		}
		bob := h.mustAccount("bob", "")
		bk, _ := h.p.CreateAPIKey(ctx, bob.ID, "")
		st := identity.StatusDisabled
		if _, err := h.p.UpdateAccount(ctx, bob.ID, identity.AccountUpdate{Status: &st}); err != nil {
			t.Fatal(err)
		}
		attempt := func(value, q string) *resp {
			return h.post(h.appPath("apiKeyAttempts")+q, map[string]string{"type": "basic", "value": value})
		}
		r := attempt(b64(k.ID+":"+k.Secret), "").expect(200)
		m := r.JSON()
		if m["account"].(map[string]any)["href"] != testBase+"/v1/accounts/"+jane.ID || m["apiKey"].(map[string]any)["href"] != testBase+"/v1/apiKeys/"+k.ID {
			t.Fatalf("result: %s", r.Body)
		}
		r = attempt(b64(k.ID+":"+k.Secret), "?expand=account,apiKey").expect(200)
		m = r.JSON()
		ak := m["apiKey"].(map[string]any)
		if m["account"].(map[string]any)["username"] != "jane" || ak["id"] != k.ID || ak["name"] != "ci" {
			t.Fatalf("expanded result: %s", r.Body)
		}
		if _, has := ak["secret"]; has {
			t.Fatalf("a verification answer shows a secret: %s", r.Body)
		}

		var want string
		for name, r := range map[string]*resp{
			"wrong secret":     attempt(b64(k.ID+":gks_wrong"), ""),
			"unknown key":      attempt(b64("gk_0000000000000000000000:"+k.Secret), ""),
			"disabled key":     attempt(b64(off.ID+":"+off.Secret), ""),
			"disabled account": attempt(b64(bk.ID+":"+bk.Secret), ""),
			"malformed":        attempt("!!", ""),
			"no colon":         attempt(b64(k.ID), ""),
		} {
			r.expect(400, "invalid_credentials")
			got := withoutRequestID(t, r)
			if want == "" {
				want = got
				if r.Num("code") != wire.CodeAPIKeyFailed || r.Str("message") != "Invalid API key." {
					t.Fatalf("failure body: %s", r.Body)
				}
			}
			if got != want {
				t.Fatalf("%s answers differently:\n%s\nvs\n%s", name, got, want)
			}
		}
	})
}
