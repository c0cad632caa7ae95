package directory_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity"
)

// TestInvalidUTF8BodyRefused: JSON text is UTF-8 (RFC 8259 section 8.1);
// encoding/json silently replaces invalid bytes with U+FFFD, so the
// directory must refuse such a body itself rather than store what the
// client did not send.
func TestInvalidUTF8BodyRefused(t *testing.T) {
	tenants(t, func(t *testing.T, h *harness) {
		acc := h.mustAccount("target", "target@example.com")
		ctx := context.Background()
		state := func() string {
			accs, err := h.p.ListAccounts(ctx, identity.AccountFilter{Page: identity.Page{Limit: identity.MaxLimit}})
			if err != nil {
				t.Fatal(err)
			}
			groups, err := h.p.ListGroups(ctx, identity.GroupFilter{Page: identity.Page{Limit: identity.MaxLimit}})
			if err != nil {
				t.Fatal(err)
			}
			cd, err := h.p.CustomData(ctx, acc.ID)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, a := range accs.Items {
				b.WriteString(a.Username + "|" + a.GivenName + ";")
			}
			for _, g := range groups.Items {
				b.WriteString(g.Name + ";")
			}
			for k, v := range cd {
				b.WriteString(k)
				if s, ok := v.(string); ok {
					b.WriteString("=" + s)
				}
			}
			return b.String()
		}
		for _, tc := range []struct{ name, method, path, body string }{
			{"username", "POST", h.appPath("accounts"), "{\"username\":\"a\xffb\",\"password\":\"correct horse battery\"}"},
			{"given name", "POST", "/v1/accounts/" + acc.ID, "{\"givenName\":\"\xc0\xaf\"}"},
			{"custom data value", "POST", "/v1/accounts/" + acc.ID + "/customData", "{\"a\":\"\xff\"}"},
			{"replaced custom data value", "PUT", "/v1/accounts/" + acc.ID + "/customData", "{\"a\":\"\xed\xa0\x80\"}"},
			{"group name", "POST", h.appPath("groups"), "{\"name\":\"g\xfe\"}"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := state()
				r := h.do(req{method: tc.method, path: tc.path, body: tc.body})
				if r.Code != 400 {
					t.Errorf("status %d, want 400: %.300s", r.Code, r.Body)
				} else {
					checkErrorShape(t, r)
				}
				if after := state(); after != before {
					t.Errorf("the request changed the data:\nbefore %q\nafter  %q", before, after)
				}
			})
		}
	})
}
