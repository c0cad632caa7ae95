package directory_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

func TestCustomData(t *testing.T) {
	// given: an account whose custom data is {"keep":1,"obj":{"a":1,"b":2},"list":[1,2]}.
	withData := func(t *testing.T, h *harness) vars {
		a := h.mustAccount("jane", "")
		if _, err := h.p.ReplaceCustomData(context.Background(), a.ID, identity.CustomData{
			"keep": 1, "obj": map[string]any{"a": 1, "b": 2}, "list": []any{1, 2},
		}); err != nil {
			t.Fatal(err)
		}
		return vars{"acc": a.ID}
	}
	// stored checks the stored document's JSON.
	stored := func(want string) func(t *testing.T, h *harness, v vars, r *resp) {
		return func(t *testing.T, h *harness, v vars, r *resp) {
			t.Helper()
			cd, err := h.p.CustomData(context.Background(), v["acc"])
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(cd)
			if string(got) != want {
				t.Fatalf("stored %s, want %s", got, want)
			}
			if r.Code == 200 {
				// The answer is the whole document, with the read-only members.
				m := r.JSON()
				if m["href"] != testBase+"/v1/accounts/"+v["acc"]+"/customData" || m["createdAt"] == nil || m["modifiedAt"] == nil {
					t.Fatalf("answer lacks read-only members: %s", r.Body)
				}
				for _, k := range []string{"href", "createdAt", "modifiedAt"} {
					delete(m, k)
				}
				b, _ := json.Marshal(m)
				if string(b) != want {
					t.Fatalf("answer %s, want %s", b, want)
				}
			}
		}
	}
	runAll(t, []tcase{
		{name: "get", given: withData, when: req{method: "GET", path: "/v1/accounts/{acc}/customData"}, status: 200,
			expect: stored(`{"keep":1,"list":[1,2],"obj":{"a":1,"b":2}}`)},
		{name: "get of an account without any", given: func(t *testing.T, h *harness) vars { return vars{"acc": h.mustAccount("x", "").ID} },
			when: req{method: "GET", path: "/v1/accounts/{acc}/customData"}, status: 200, expect: stored(`{}`)},
		{name: "get unknown account", when: req{method: "GET", path: "/v1/accounts/0000000000000000000000/customData"}, status: 404, errCode: "not_found"},
		{name: "Stormpath update: members replace whole, null deletes, read-only ignored", given: withData,
			when:   req{method: "POST", path: "/v1/accounts/{acc}/customData", body: `{"href":"x","createdAt":"y","modifiedAt":"z","obj":{"c":3},"list":[3],"keep":null,"new":"v"}`},
			status: 200, expect: stored(`{"list":[3],"new":"v","obj":{"c":3}}`)},
		{name: "Stormpath update: nested nulls are dropped", given: withData,
			when:   req{method: "POST", path: "/v1/accounts/{acc}/customData", body: `{"obj":{"a":null,"d":{"e":null,"f":1}}}`},
			status: 200, expect: stored(`{"keep":1,"list":[1,2],"obj":{"d":{"f":1}}}`)},
		{name: "Stormpath update: only read-only members changes nothing", given: withData,
			when:   req{method: "POST", path: "/v1/accounts/{acc}/customData", body: `{"href":"x"}`},
			status: 200, expect: stored(`{"keep":1,"list":[1,2],"obj":{"a":1,"b":2}}`)},
		{name: "merge patch merges objects", given: withData,
			when:   req{method: "POST", path: "/v1/accounts/{acc}/customData", body: `{"obj":{"a":null,"c":3},"keep":null}`, contentType: "application/merge-patch+json"},
			status: 200, expect: stored(`{"list":[1,2],"obj":{"b":2,"c":3}}`)},
		{name: "put replaces", given: withData,
			when:   req{method: "PUT", path: "/v1/accounts/{acc}/customData", body: `{"href":"ignored","only":true}`},
			status: 200, expect: stored(`{"only":true}`)},
		{name: "delete empties", given: withData, when: req{method: "DELETE", path: "/v1/accounts/{acc}/customData"},
			status: 204, expect: stored(`{}`)},
		{name: "delete one member", given: withData, when: req{method: "DELETE", path: "/v1/accounts/{acc}/customData/keep"},
			status: 204, expect: stored(`{"list":[1,2],"obj":{"a":1,"b":2}}`)},
		{name: "delete an absent member", given: withData, when: req{method: "DELETE", path: "/v1/accounts/{acc}/customData/nothing"},
			status: 204, expect: stored(`{"keep":1,"list":[1,2],"obj":{"a":1,"b":2}}`)},
		{name: "delete a reserved name", given: withData, when: req{method: "DELETE", path: "/v1/accounts/{acc}/customData/spMeta"},
			status: 400, errCode: "invalid_input"},
		{name: "reserved name", given: withData,
			when:   req{method: "POST", path: "/v1/accounts/{acc}/customData", body: `{"meta":1}`},
			status: 400, errCode: "invalid_input",
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				if r.Num("code") != wire.CodeCustomDataField || !strings.HasPrefix(r.Str("field"), "customData") {
					t.Fatalf("body: %s", r.Body)
				}
			}},
		{name: "bad name", given: withData,
			when:   req{method: "PUT", path: "/v1/accounts/{acc}/customData", body: `{"a b":1}`},
			status: 400, errCode: "invalid_input"},
		{name: "too large", given: withData,
			when:   req{method: "POST", path: "/v1/accounts/{acc}/customData", body: `{"big":"` + strings.Repeat("x", 70<<10) + `"}`},
			status: 400, errCode: "limit_exceeded",
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				if r.Num("code") != wire.CodeCustomDataTooLarge {
					t.Fatalf("code %d", r.Num("code"))
				}
			}},
		{name: "too deep", given: withData,
			when:   req{method: "POST", path: "/v1/accounts/{acc}/customData", body: `{"d":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`},
			status: 400, errCode: "limit_exceeded"},
		{name: "not an object", given: withData,
			when:   req{method: "POST", path: "/v1/accounts/{acc}/customData", body: `[1]`},
			status: 400, errCode: "invalid_input"},
		{name: "not JSON", given: withData,
			when:   req{method: "POST", path: "/v1/accounts/{acc}/customData", body: `{"a":`},
			status: 400, errCode: "invalid_input"},
		{name: "wrong media type", given: withData,
			when:   req{method: "POST", path: "/v1/accounts/{acc}/customData", body: `{"a":1}`, contentType: "text/plain"},
			status: 415, errCode: "unsupported_media_type"},
		{name: "merge patch is not accepted by put", given: withData,
			when:   req{method: "PUT", path: "/v1/accounts/{acc}/customData", body: `{"a":1}`, contentType: "application/merge-patch+json"},
			status: 415, errCode: "unsupported_media_type"},
	})
}
