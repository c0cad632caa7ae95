package directory_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha1"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/apikey"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

// The parameters Stormpath's Node SDK sends (observed).
const (
	sdkSalt     = "ZDlkMTlkYjgrN2JmZis0MQ"
	sdkEncQuery = "encryptSecret=true&encryptionKeySize=256&encryptionKeyIterations=1024&encryptionKeySalt=" + sdkSalt
)

// decryptSecret undoes the encryption as the SDK does
// (lib/resource/ApiKey.js): PBKDF2-HMAC-SHA1 of the admin secret, AES-CBC,
// IV first.
func decryptSecret(t *testing.T, adminSecret, salt string, iterations, size int, enc string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatalf("secret is not base64: %v", err)
	}
	s, _ := base64.RawURLEncoding.DecodeString(salt)
	key, err := pbkdf2.Key(sha1.New, adminSecret, s, iterations, size/8)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(key)
	if len(raw) < 32 || len(raw)%16 != 0 {
		t.Fatalf("ciphertext of %d bytes", len(raw))
	}
	msg := raw[16:]
	cipher.NewCBCDecrypter(block, raw[:16]).CryptBlocks(msg, msg)
	pad := int(msg[len(msg)-1])
	if pad < 1 || pad > 16 {
		t.Fatalf("bad padding %d", pad)
	}
	return string(msg[:len(msg)-pad])
}

func TestAPIKeys(t *testing.T) {
	account := func(t *testing.T, h *harness) vars { return vars{"acc": h.mustAccount("jane", "").ID} }
	withKey := func(t *testing.T, h *harness) vars {
		v := account(t, h)
		k, err := h.p.CreateAPIKey(context.Background(), v["acc"], "ci")
		if err != nil {
			t.Fatal(err)
		}
		v["key"] = k.ID
		return v
	}
	runAll(t, []tcase{
		{name: "create with an empty body and no media type (as the SDKs send it)", given: account,
			when: req{method: "POST", path: "/v1/accounts/{acc}/apiKeys"}, status: 201,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				var k wire.APIKey
				r.Decode(&k)
				if !apikey.IsID(k.ID) || !apikey.IsSecret(k.Secret) || k.Href != testBase+"/v1/apiKeys/"+k.ID || r.Header.Get("Location") != k.Href {
					t.Fatalf("key %+v", k)
				}
				if k.Account.Href != testBase+"/v1/accounts/"+v["acc"] || k.Status != "ENABLED" {
					t.Fatalf("key %+v", k)
				}
				if r.Header.Get("Cache-Control") != "no-store" {
					t.Fatal("a secret without Cache-Control: no-store")
				}
				// The secret works, and is never shown again.
				h.post(h.appPath("apiKeyAttempts"), map[string]string{"type": "basic", "value": b64(k.ID + ":" + k.Secret)}).expect(200)
				if strings.Contains(string(h.get("/v1/apiKeys/"+k.ID).expect(200).Body), k.Secret) {
					t.Fatal("a read shows the secret")
				}
			}},
		{name: "create with a name", given: account,
			when: req{method: "POST", path: "/v1/accounts/{acc}/apiKeys", body: `{"name":"deploy"}`}, status: 201,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				if r.Str("name") != "deploy" {
					t.Fatalf("name %q", r.Str("name"))
				}
			}},
		{name: "create with a description", given: account,
			when: req{method: "POST", path: "/v1/accounts/{acc}/apiKeys", body: `{"description":"x"}`}, status: 400, errCode: "invalid_input", field: "description"},
		{name: "create for an unknown account", when: req{method: "POST", path: "/v1/accounts/0000000000000000000000/apiKeys"}, status: 404, errCode: "not_found"},
		{name: "create with the secret encrypted, account expanded (SDK)", given: account,
			when: req{method: "POST", path: "/v1/accounts/{acc}/apiKeys?expand=account&" + sdkEncQuery}, status: 201,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				var k wire.APIKey
				r.Decode(&k)
				plain := decryptSecret(t, h.secret, sdkSalt, 1024, 256, k.Secret)
				if !apikey.IsSecret(plain) {
					t.Fatalf("decrypted secret %q", plain)
				}
				h.post(h.appPath("apiKeyAttempts"), map[string]string{"type": "basic", "value": b64(k.ID + ":" + plain)}).expect(200)
				if acc := r.JSON()["account"].(map[string]any); acc["username"] != "jane" {
					t.Fatalf("account not expanded: %v", acc)
				}
			}},
		{name: "create with a 128-bit key", given: account,
			when: req{method: "POST", path: "/v1/accounts/{acc}/apiKeys?encryptSecret=true&encryptionKeySize=128&encryptionKeyIterations=10&encryptionKeySalt=c2FsdA"}, status: 201,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				if plain := decryptSecret(t, h.secret, "c2FsdA", 10, 128, r.Str("secret")); !apikey.IsSecret(plain) {
					t.Fatalf("decrypted %q", plain)
				}
			}},
		{name: "bad encryption size", given: account,
			when: req{method: "POST", path: "/v1/accounts/{acc}/apiKeys?encryptSecret=true&encryptionKeySize=512&encryptionKeySalt=c2FsdA"}, status: 400, field: "encryptionKeySize"},
		{name: "too many iterations", given: account,
			when: req{method: "POST", path: "/v1/accounts/{acc}/apiKeys?encryptSecret=true&encryptionKeyIterations=100000000&encryptionKeySalt=c2FsdA"}, status: 400, field: "encryptionKeyIterations"},
		{name: "missing salt", given: account,
			when: req{method: "POST", path: "/v1/accounts/{acc}/apiKeys?encryptSecret=true"}, status: 400, field: "encryptionKeySalt",
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				keys, _ := h.p.ListAPIKeys(context.Background(), v["acc"])
				if len(keys) != 0 {
					t.Fatal("a key was created by a refused request")
				}
			}},
		{name: "list without secrets", given: withKey, when: req{method: "GET", path: "/v1/accounts/{acc}/apiKeys"}, status: 200,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				var c wire.Collection[wire.APIKey]
				r.Decode(&c)
				if c.Size != 1 || c.Items[0].ID != v["key"] || c.Items[0].Secret != "" || c.Items[0].Name != "ci" {
					t.Fatalf("collection %+v", c)
				}
			}},
		{name: "list with encryption asked: the encryption of nothing", given: withKey,
			when: req{method: "GET", path: "/v1/accounts/{acc}/apiKeys?expand=account&" + sdkEncQuery}, status: 200,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				var c wire.Collection[wire.APIKey]
				r.Decode(&c)
				if got := decryptSecret(t, h.secret, sdkSalt, 1024, 256, c.Items[0].Secret); got != "" {
					t.Fatalf("listed secret decrypts to %q", got)
				}
			}},
		{name: "get", given: withKey, when: req{method: "GET", path: "/v1/apiKeys/{key}"}, status: 200,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				if r.Str("id") != v["key"] || r.Str("secret") != "" {
					t.Fatalf("key %s", r.Body)
				}
			}},
		{name: "get unknown", when: req{method: "GET", path: "/v1/apiKeys/gk_0000000000000000000000"}, status: 404, errCode: "not_found"},
		{name: "find by id (SDK app.getApiKey)", given: withKey,
			when: req{method: "GET", path: "/v1/applications/{app}/apiKeys?expand=account&" + sdkEncQuery + "&id={key}"}, status: 200,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				var c wire.Collection[wire.APIKey]
				r.Decode(&c)
				if c.Size != 1 || c.Items[0].ID != v["key"] {
					t.Fatalf("collection %+v", c)
				}
			}},
		{name: "find an unknown id", when: req{method: "GET", path: "/v1/applications/{app}/apiKeys?id=gk_0000000000000000000000"}, status: 200,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				if r.Num("size") != 0 {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "find without id", when: req{method: "GET", path: "/v1/applications/{app}/apiKeys"}, status: 400, field: "id"},
		{name: "disable", given: withKey, when: req{method: "POST", path: "/v1/apiKeys/{key}", body: `{"status":"DISABLED"}`}, status: 200,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				k, _ := h.p.APIKey(context.Background(), v["key"])
				if k.Status != identity.StatusDisabled || r.Str("status") != "DISABLED" {
					t.Fatalf("status %s / %s", k.Status, r.Body)
				}
			}},
		{name: "save of the whole key (SDK)", given: withKey,
			when:   req{method: "POST", path: "/v1/apiKeys/{key}", body: `{"href":"x","id":"{key}","secret":"enc","name":"ci","description":null,"status":"DISABLED","createdAt":"2020-01-01T00:00:00.000Z","account":{"href":"x"},"tenant":{"href":"y"}}`},
			status: 200},
		{name: "rename", given: withKey, when: req{method: "POST", path: "/v1/apiKeys/{key}", body: `{"name":"other"}`}, status: 400, field: "name"},
		{name: "bad status", given: withKey, when: req{method: "POST", path: "/v1/apiKeys/{key}", body: `{"status":"UNVERIFIED"}`}, status: 400, field: "status"},
		{name: "delete", given: withKey, when: req{method: "DELETE", path: "/v1/apiKeys/{key}"}, status: 204,
			expect: func(t *testing.T, h *harness, v vars, r *resp) { h.get("/v1/apiKeys/" + v["key"]).expect(404) }},
		{name: "delete unknown", when: req{method: "DELETE", path: "/v1/apiKeys/gk_0000000000000000000000"}, status: 404},
	})
}
