package directory

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

// apiKeyJSON is wire.APIKey with an account that may be expanded. With a
// link it is exactly wire.APIKey's JSON.
type apiKeyJSON struct {
	Href        string          `json:"href"`
	ID          string          `json:"id"`
	Secret      string          `json:"secret,omitempty"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Status      string          `json:"status"`
	CreatedAt   wire.Time       `json:"createdAt"`
	Account     json.RawMessage `json:"account"`
	Tenant      wire.Link       `json:"tenant"`
}

// apiKeyJSON renders a key; account is the expanded account, or nil for a
// link; secret is what the answer shows as the secret ("" for none).
func (s *server) apiKeyJSON(c echo.Context, k *identity.APIKey, account json.RawMessage, secret string) apiKeyJSON {
	if account == nil {
		account, _ = json.Marshal(s.link(c, wire.AccountPath(k.AccountID, "")))
	}
	return apiKeyJSON{
		Href:      s.href(c, wire.APIKeyPath(k.ID)),
		ID:        k.ID,
		Secret:    secret,
		Name:      k.Name,
		Status:    string(k.Status),
		CreatedAt: wire.Time(k.CreatedAt),
		Account:   account,
		Tenant:    s.link(c, wire.TenantPath(TenantID)),
	}
}

// Query parameters of the API key resources: Stormpath's SDKs ask for
// secrets encrypted, and expand the account.
var apiKeyQueryParams = []string{"expand", "encryptSecret", "encryptionKeySize", "encryptionKeyIterations", "encryptionKeySalt"}

// keyRenderer renders keys as one request asked: expanded account or not,
// secret encrypted or not.
type keyRenderer struct {
	s        *server
	c        echo.Context
	expand   bool
	enc      *secretCipher
	accounts map[string]json.RawMessage
}

func (s *server) keyRenderer(c echo.Context, q url.Values) (*keyRenderer, error) {
	enc, err := newSecretCipher(c, q)
	if err != nil {
		return nil, err
	}
	return &keyRenderer{s: s, c: c, expand: expansions(q)["account"], enc: enc, accounts: map[string]json.RawMessage{}}, nil
}

// render renders k; plaintext is its secret, known only when it was just
// created. When the caller asked for encrypted secrets, a key read later
// gets the encryption of "": the directory keeps no secret to show, and the
// Stormpath SDKs fail on a missing one.
func (r *keyRenderer) render(k *identity.APIKey, plaintext string) (apiKeyJSON, error) {
	var account json.RawMessage
	if r.expand {
		account = r.accounts[k.AccountID]
		if account == nil {
			acc, err := provider(r.c).Account(r.c.Request().Context(), k.AccountID)
			if err != nil {
				return apiKeyJSON{}, err
			}
			if account, err = json.Marshal(r.s.accountJSON(r.c, acc, nil)); err != nil {
				return apiKeyJSON{}, err
			}
			r.accounts[k.AccountID] = account
		}
	}
	secret := plaintext
	if r.enc != nil {
		var err error
		if secret, err = r.enc.encrypt(plaintext); err != nil {
			return apiKeyJSON{}, err
		}
	}
	return r.s.apiKeyJSON(r.c, k, account, secret), nil
}

// secretCipher encrypts API key secrets the way Stormpath's SDKs decrypt
// them (stormpath-sdk-node lib/resource/ApiKey.js): AES-CBC with a random
// IV, PKCS#7 padding, the key derived by PBKDF2-HMAC-SHA1 from the secret of
// the admin key that made the request, with the salt, iterations and size
// the request names; the answer is base64(IV || ciphertext). Only the
// caller, who holds that admin secret, can decrypt it.
type secretCipher struct {
	block cipher.Block
}

// Bounds of the encryption parameters a caller may ask for. The SDKs ask
// for 1024 iterations; the bound keeps a request from buying minutes of
// PBKDF2.
const (
	maxEncryptionIterations = 100_000
	maxEncryptionSaltBytes  = 256
)

// newSecretCipher reads the encryption parameters of a request; it returns
// nil when the request does not ask for encryption (encryptSecret=true).
func newSecretCipher(c echo.Context, q url.Values) (*secretCipher, error) {
	if !strings.EqualFold(q.Get("encryptSecret"), "true") {
		return nil, nil
	}
	size := 256
	if v := q.Get("encryptionKeySize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || (n != 128 && n != 256) {
			return nil, identity.Invalid("encryptionKeySize", "The encryption key size must be 128 or 256.")
		}
		size = n
	}
	iterations := 1024
	if v := q.Get("encryptionKeyIterations"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxEncryptionIterations {
			return nil, identity.Invalid("encryptionKeyIterations", "The iterations must be from 1 to %d.", maxEncryptionIterations)
		}
		iterations = n
	}
	salt, ok := decodeSalt(q.Get("encryptionKeySalt"))
	if !ok {
		return nil, identity.Invalid("encryptionKeySalt", "The salt must be 1 to %d bytes, base64-encoded.", maxEncryptionSaltBytes)
	}
	password, _ := c.Get(ctxAdminSecret).(string)
	key, err := pbkdf2.Key(sha1.New, password, salt, iterations, size/8)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return &secretCipher{block: block}, nil
}

// decodeSalt decodes a salt in any base64 alphabet, padded or not (the
// SDKs send URL-safe base64 without padding).
func decodeSalt(v string) ([]byte, bool) {
	v = strings.TrimRight(v, "=")
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(v); err == nil && len(b) > 0 && len(b) <= maxEncryptionSaltBytes {
			return b, true
		}
	}
	return nil, false
}

func (sc *secretCipher) encrypt(plain string) (string, error) {
	bs := sc.block.BlockSize()
	pad := bs - len(plain)%bs
	buf := make([]byte, bs+len(plain)+pad)
	iv := buf[:bs]
	if _, err := rand.Read(iv); err != nil {
		return "", err
	}
	msg := buf[bs:]
	copy(msg, plain)
	for i := len(plain); i < len(msg); i++ {
		msg[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(sc.block, iv).CryptBlocks(msg, msg)
	return base64.StdEncoding.EncodeToString(buf), nil
}

// apiKeyCreate is the optional body of a key creation.
type apiKeyCreate struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

// noDescription refuses an API key description: keys have none, and
// dropping one silently would lose data.
func noDescription(v *string) error {
	if v != nil && *v != "" {
		return identity.Invalid("description", "API keys have no description.")
	}
	return nil
}

// createAPIKey makes a key for the account. Its secret is in this answer
// only (encrypted if asked). It ignores Idempotency-Key: a stored answer
// would be a stored secret.
func (s *server) createAPIKey(c echo.Context) error {
	accountID, err := accountParam(c)
	if err != nil {
		return err
	}
	q, err := query(c, apiKeyQueryParams...)
	if err != nil {
		return err
	}
	var in apiKeyCreate
	if _, err := decodeJSON(c, true, &in); err != nil {
		return err
	}
	if err := noDescription(in.Description); err != nil {
		return err
	}
	r, err := s.keyRenderer(c, q)
	if err != nil {
		return err
	}
	k, err := provider(c).CreateAPIKey(c.Request().Context(), accountID, deref(in.Name))
	if err != nil {
		return err
	}
	out, err := r.render(&k.APIKey, k.Secret)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return created(c, out.Href, out)
}

func (s *server) listAPIKeys(c echo.Context) error {
	accountID, err := accountParam(c)
	if err != nil {
		return err
	}
	q, p, err := pagedQuery(c, apiKeyQueryParams...)
	if err != nil {
		return err
	}
	r, err := s.keyRenderer(c, q)
	if err != nil {
		return err
	}
	keys, err := provider(c).ListAPIKeys(c.Request().Context(), accountID)
	if err != nil {
		return err
	}
	items := []apiKeyJSON{}
	for _, k := range pageSlice(keys, p) {
		out, err := r.render(k, "")
		if err != nil {
			return err
		}
		items = append(items, out)
	}
	return send(c, http.StatusOK, collection(s, c, wire.AccountPath(accountID, "apiKeys"), items, p, len(keys)))
}

// findAPIKey is Stormpath's key lookup, GET /applications/{id}/apiKeys?id=
// (the SDKs' app.getApiKey): a collection of the one key with that id, or
// none.
func (s *server) findAPIKey(c echo.Context) error {
	a, err := ownApplication(c)
	if err != nil {
		return err
	}
	q, p, err := pagedQuery(c, append([]string{"id"}, apiKeyQueryParams...)...)
	if err != nil {
		return err
	}
	id := q.Get("id")
	if id == "" {
		return identity.Invalid("id", "Give the key id to look up (?id=).")
	}
	r, err := s.keyRenderer(c, q)
	if err != nil {
		return err
	}
	all := []apiKeyJSON{}
	if validID(id) {
		k, err := provider(c).APIKey(c.Request().Context(), id)
		switch {
		case err == nil:
			out, err := r.render(k, "")
			if err != nil {
				return err
			}
			all = append(all, out)
		case identity.ErrorCode(err) != identity.CodeNotFound:
			return err
		}
	}
	return send(c, http.StatusOK, collection(s, c, wire.ApplicationPath(a.ID, "apiKeys"), pageSlice(all, p), p, len(all)))
}

// keyParam reads the :id parameter as an API key id.
func keyParam(c echo.Context) (string, error) { return idParam(c, "id", "api_key") }

func (s *server) getAPIKey(c echo.Context) error {
	id, err := keyParam(c)
	if err != nil {
		return err
	}
	q, err := query(c, apiKeyQueryParams...)
	if err != nil {
		return err
	}
	r, err := s.keyRenderer(c, q)
	if err != nil {
		return err
	}
	k, err := provider(c).APIKey(c.Request().Context(), id)
	if err != nil {
		return err
	}
	out, err := r.render(k, "")
	if err != nil {
		return err
	}
	return send(c, http.StatusOK, out)
}

// apiKeyReadOnly are the read-only members of a key, which an SDK saving
// the whole key sends back.
var apiKeyReadOnly = []string{"href", "id", "secret", "createdAt", "account", "tenant"}

// updateAPIKey enables or disables a key. A key's name cannot change (the
// Provider has no such operation): the same name is accepted, another is a
// 400.
func (s *server) updateAPIKey(c echo.Context) error {
	id, err := keyParam(c)
	if err != nil {
		return err
	}
	q, err := query(c, apiKeyQueryParams...)
	if err != nil {
		return err
	}
	var in wire.APIKeyWrite
	if _, err := decodeJSON(c, false, &in, apiKeyReadOnly...); err != nil {
		return err
	}
	if err := noDescription(in.Description); err != nil {
		return err
	}
	r, err := s.keyRenderer(c, q)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	p := provider(c)
	k, err := p.APIKey(ctx, id)
	if err != nil {
		return err
	}
	if in.Name != nil && *in.Name != k.Name {
		return identity.Invalid("name", "An API key's name cannot be changed.")
	}
	if in.Status != nil && identity.Status(*in.Status) != k.Status {
		if k, err = p.SetAPIKeyStatus(ctx, id, identity.Status(*in.Status)); err != nil {
			return err
		}
	}
	out, err := r.render(k, "")
	if err != nil {
		return err
	}
	return send(c, http.StatusOK, out)
}

func (s *server) deleteAPIKey(c echo.Context) error {
	id, err := keyParam(c)
	if err != nil {
		return err
	}
	if err := bodiless(c); err != nil {
		return err
	}
	if err := provider(c).DeleteAPIKey(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
