package directory_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestHostileInputNeverFails: nothing a client sends may produce a 5xx.
// Each request is sent to every tenant; the answer must be below 500 and,
// for errors, in the protocol's shape.
func TestHostileInputNeverFails(t *testing.T) {
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	bad := "\xff\xfe"
	requests := func(h *harness, acc, grp, key string) []req {
		a := "/v1/accounts/" + acc
		return []req{
			{method: "GET", path: "/v1/accounts/" + strings.Repeat("x", 10000)},
			{method: "GET", path: "/v1/accounts/%00"},
			{method: "GET", path: "/v1/accounts/%FF%FE"},
			{method: "GET", path: "/v1/accounts/..%2F..%2Fapplications"},
			{method: "GET", path: "/v1/apiKeys/gk_%00"},
			{method: "GET", path: "/v1/groupMemberships/%FF-%00"},
			{method: "GET", path: "/v1/groupMemberships/" + acc + "-" + grp + "-x"},
			{method: "GET", path: h.appPath("accounts") + "?q=%00"},
			{method: "GET", path: h.appPath("accounts") + "?q=%FF"},
			{method: "GET", path: h.appPath("accounts") + "?username=%FF%00"},
			{method: "GET", path: h.appPath("accounts") + "?email=%00"},
			{method: "GET", path: h.appPath("accounts") + "?status=%FF"},
			{method: "GET", path: h.appPath("accounts") + "?q=" + strings.Repeat("%25", 2000)},
			{method: "GET", path: h.appPath("accounts") + "?limit=%zz"},
			{method: "GET", path: h.appPath("accounts") + "?expand=customData((("},
			{method: "GET", path: h.appPath("groups") + "?name=%FF"},
			{method: "GET", path: h.appPath("groups") + "?name=%00"},
			{method: "GET", path: "/v1/applications?name=%FF"},
			{method: "GET", path: h.appPath("apiKeys") + "?id=%FF"},
			{method: "GET", path: h.appPath("revocations") + "/%FF%00"},
			{method: "GET", path: h.appPath("revocations") + "/" + strings.Repeat("j", 5000)},
			{method: "POST", path: h.appPath("revocations"), body: `{"jti":"\u0000\udfff","expiresAt":"2099-01-01T00:00:00Z"}`},
			{method: "POST", path: h.appPath("revocations"), body: `{"jti":"` + strings.Repeat("j", 500) + `","expiresAt":"2099-01-01T00:00:00Z"}`},
			{method: "POST", path: h.appPath("revocations"), body: `{"jti":"x","expiresAt":"-292277022657-01-27T08:29:52Z"}`},
			{method: "POST", path: h.appPath("accounts"), body: deep},
			{method: "POST", path: h.appPath("accounts"), body: `{"username":"a` + bad + `b","password":"` + pw + `"}`},
			{method: "POST", path: h.appPath("accounts"), body: `{"username":"a\u0000b","password":"` + pw + `"}`},
			{method: "POST", path: h.appPath("accounts"), body: `{"username":"x","email":"a\u0000@b.c","password":"` + pw + `"}`},
			{method: "POST", path: h.appPath("accounts"), body: `{"username":"x","password":"` + pw + `\u0000"}`},
			{method: "POST", path: h.appPath("accounts"), body: `{"username":"x","password":"` + pw + `","givenName":"` + strings.Repeat("é", 5000) + `"}`},
			{method: "POST", path: h.appPath("accounts"), body: `{"username":"x","passwordHash":"$argon2id$v=19$m=99999999999,t=1,p=1$c2FsdA$aGFzaA"}`},
			{method: "POST", path: h.appPath("accounts"), body: `{"username":"x","passwordHash":"$2a$31$` + strings.Repeat("a", 53) + `"}`},
			{method: "POST", path: h.appPath("accounts"), body: `{"username":"y","password":"` + pw + `","customData":{"n":1e999999}}`},
			{method: "POST", path: h.appPath("accounts"), body: `{"username":"z","password":"` + pw + `","customData":"str"}`},
			{method: "POST", path: h.appPath("accounts"), body: "\xef\xbb\xbf" + `{"username":"bom","password":"` + pw + `"}`},
			{method: "POST", path: h.appPath("accounts"), body: `{"username":"d","username":"e","password":"` + pw + `"}`},
			{method: "POST", path: h.appPath("accounts"), body: `{"username":"ct","password":"` + pw + `"}`, contentType: `application/json; charset="`},
			{method: "POST", path: a, body: `{"status":"` + bad + `"}`},
			{method: "POST", path: a, body: `{"email":"not an email"}`},
			{method: "POST", path: a, body: `{"customData":{"` + bad + `":1}}`},
			{method: "POST", path: a + "/customData", body: `{"k":"\u0000"}`},
			{method: "POST", path: a + "/customData", body: `{"k":` + deep + `}`},
			{method: "POST", path: a + "/customData", body: `{"k":-1e400}`},
			{method: "PUT", path: a + "/customData", body: `{"\u0000":1}`},
			{method: "POST", path: a + "/customData", body: `{"a":1}`, contentType: "application/merge-patch+json; x"},
			{method: "DELETE", path: a + "/customData/%FF"},
			{method: "DELETE", path: a + "/customData/%00"},
			{method: "DELETE", path: a + "/customData/" + strings.Repeat("k", 1000)},
			{method: "POST", path: a + "/apiKeys", body: `{"name":"` + bad + `"}`},
			{method: "POST", path: a + "/apiKeys?encryptSecret=true&encryptionKeySalt=%FF%FF"},
			{method: "POST", path: a + "/apiKeys?encryptSecret=true&encryptionKeySalt=" + strings.Repeat("A", 5000)},
			{method: "POST", path: a + "/accessTokens", body: `{"ttl":1e30}`},
			{method: "POST", path: a + "/accessTokens", body: `{"scope":"` + strings.Repeat("s ", 5000) + `"}`},
			{method: "POST", path: "/v1/apiKeys/" + key, body: `{"status":"` + bad + `"}`},
			{method: "POST", path: h.appPath("groups"), body: `{"name":"\u0000"}`},
			{method: "POST", path: h.appPath("groups"), body: `{"name":"` + bad + `"}`},
			{method: "POST", path: "/v1/groupMemberships", body: `{"account":{"href":"` + bad + `"},"group":{"href":"%00"}}`},
			{method: "POST", path: "/v1/groupMemberships", body: `{"account":"x","group":1}`},
			{method: "POST", path: h.appPath("loginAttempts"), body: `{"type":"basic","value":"` + b64("a\x00b:c\xffd") + `"}`},
			{method: "POST", path: h.appPath("loginAttempts"), body: `{"type":"basic","value":"` + b64(strings.Repeat("l", 300000)+":p") + `"}`},
			{method: "POST", path: h.appPath("loginAttempts"), body: `{"type":"basic","value":"` + b64(bad+":"+bad) + `"}`},
			{method: "POST", path: h.appPath("apiKeyAttempts"), body: `{"type":"basic","value":"` + b64("gk_\x00:"+bad) + `"}`},
			{method: "POST", path: h.appPath("signingKeys"), body: `{"x":1}`},
			{method: "GET", path: h.appPath(""), auth: "Basic " + strings.Repeat("A", 100000)},
			{method: "GET", path: h.appPath(""), auth: basic(strings.Repeat("u", 100000), "p")},
			{method: "GET", path: h.appPath(""), auth: basic(bad, bad)},
			{method: "POST", path: h.appPath("groups"), body: `{"name":"idem"}`, header: map[string]string{"Idempotency-Key": bad}},
		}
	}
	tenants(t, func(t *testing.T, h *harness) {
		acc := h.mustAccount("target", "target@example.com")
		grp := h.mustGroup("target")
		k, err := h.p.CreateAPIKey(context.Background(), acc.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		for i, rq := range requests(h, acc.ID, grp.ID, k.ID) {
			r := h.do(rq)
			name := fmt.Sprintf("#%d %s %.80s", i, rq.method, rq.path)
			if testing.Verbose() {
				t.Logf("%s: %d %.120s", name, r.Code, r.Body)
			}
			if r.Code >= 500 {
				t.Errorf("%s: %d %s", name, r.Code, r.Body)
				continue
			}
			if r.Code >= 400 {
				checkErrorShape(t, r)
			}
		}
	})
}
