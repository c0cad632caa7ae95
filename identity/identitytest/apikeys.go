package identitytest

import (
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/apikey"
)

func apiKeyTests() []test {
	return []test{
		{"APIKey/Create", testKeyCreate},
		{"APIKey/CreateUnique", testKeyCreateUnique},
		{"APIKey/CreateUnknownAccount", testKeyCreateUnknownAccount},
		{"APIKey/CreateInvalidName", testKeyCreateInvalidName},
		{"APIKey/Get", testKeyGet},
		{"APIKey/GetUnknown", testKeyGetUnknown},
		{"APIKey/ListOldestFirstNoSecrets", testKeyList},
		{"APIKey/ListEmpty", testKeyListEmpty},
		{"APIKey/ListUnknownAccount", testKeyListUnknownAccount},
		{"APIKey/ListPerAccount", testKeyListPerAccount},
		{"APIKey/Authenticate", testKeyAuthenticate},
		{"APIKey/AuthenticateFailuresIdentical", testKeyAuthFailures},
		{"APIKey/AuthenticateOtherKeysSecret", testKeyAuthOtherSecret},
		{"APIKey/DisableAndReEnable", testKeyDisable},
		{"APIKey/AccountDisabled", testKeyAccountDisabled},
		{"APIKey/SetStatusInvalid", testKeySetStatusInvalid},
		{"APIKey/SetStatusUnknown", testKeySetStatusUnknown},
		{"APIKey/Delete", testKeyDelete},
		{"APIKey/DeleteUnknown", testKeyDeleteUnknown},
		{"APIKey/Limit", testKeyLimit},
	}
}

func requireKey(t *testing.T, got *identity.APIKey, want identity.APIKey) {
	t.Helper()
	if got == nil {
		t.Fatalf("got nil key, want %+v", want)
	}
	if got.ID != want.ID || got.AccountID != want.AccountID || got.Name != want.Name || got.Status != want.Status || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("key differs:\n got  %+v\n want %+v", *got, want)
	}
}

func requireKeyFailure(t *testing.T, p identity.Provider, id, secret string, reasons ...identity.FailureReason) string {
	t.Helper()
	acc, key, err := p.AuthenticateAPIKey(t.Context(), id, secret)
	if err == nil {
		t.Fatalf("AuthenticateAPIKey(%.40q, %.40q) succeeded with %+v, %+v", id, secret, acc, key)
	}
	if acc != nil || key != nil {
		t.Fatalf("a failed AuthenticateAPIKey returned account %+v and key %+v", acc, key)
	}
	requireCredentialsError(t, err, reasons...)
	return err.Error()
}

func requireKeyLogin(t *testing.T, p identity.Provider, k *identity.NewAPIKey) {
	t.Helper()
	acc, key, err := p.AuthenticateAPIKey(t.Context(), k.ID, k.Secret)
	if err != nil {
		t.Fatalf("AuthenticateAPIKey(%s): %v", k.ID, err)
	}
	if acc == nil || acc.ID != k.AccountID {
		t.Fatalf("AuthenticateAPIKey returned account %+v, want %s", acc, k.AccountID)
	}
	requireKey(t, key, k.APIKey)
}

func testKeyCreate(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	k, err := p.CreateAPIKey(t.Context(), a.ID, "CI deploy – ünïcode")
	noErr(t, err, "CreateAPIKey")
	if !apikey.IsID(k.ID) {
		t.Fatalf("key id %q does not have the API key id shape", k.ID)
	}
	if !apikey.IsSecret(k.Secret) {
		t.Fatalf("key secret %q does not have the API key secret shape", k.Secret)
	}
	if k.AccountID != a.ID || k.Name != "CI deploy – ünïcode" || k.Status != identity.StatusEnabled {
		t.Fatalf("created key %+v", k.APIKey)
	}
	requireTime(t, "CreatedAt", k.CreatedAt)
	if strings.Contains(k.Secret, k.ID) || strings.Contains(k.ID, k.Secret) {
		t.Fatalf("id %q and secret %q overlap", k.ID, k.Secret)
	}
	// A key without a name is fine.
	k2, err := p.CreateAPIKey(t.Context(), a.ID, "")
	noErr(t, err, "CreateAPIKey without a name")
	if k2.Name != "" {
		t.Fatalf("Name = %q, want empty", k2.Name)
	}
}

func testKeyCreateUnique(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	ids, secrets := map[string]bool{}, map[string]bool{}
	for range 10 {
		k := MustCreateAPIKey(t, p, a.ID, "same name")
		if ids[k.ID] || secrets[k.Secret] {
			t.Fatalf("key id %q or secret repeated", k.ID)
		}
		ids[k.ID], secrets[k.Secret] = true, true
	}
}

func testKeyCreateUnknownAccount(t *testing.T, p identity.Provider) {
	MustCreateAccount(t, p, "alice")
	_, err := p.CreateAPIKey(t.Context(), "nonexistent", "key")
	RequireNotFound(t, err)
}

func testKeyCreateInvalidName(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	for _, name := range []string{repeat("n", 256), "bad\x00name", "bad\xffname"} {
		_, err := p.CreateAPIKey(t.Context(), a.ID, name)
		RequireInvalid(t, err, "name")
	}
	keys, err := p.ListAPIKeys(t.Context(), a.ID)
	noErr(t, err, "ListAPIKeys")
	if len(keys) != 0 {
		t.Fatalf("refused creates left %d keys", len(keys))
	}
}

func testKeyGet(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	k := MustCreateAPIKey(t, p, a.ID, "laptop")
	got, err := p.APIKey(t.Context(), k.ID)
	noErr(t, err, "APIKey")
	requireKey(t, got, k.APIKey)
}

func testKeyGetUnknown(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	MustCreateAPIKey(t, p, a.ID, "laptop")
	for _, id := range []string{apikey.NewID(), "nonexistent", "", a.ID, "gk_short"} {
		_, err := p.APIKey(t.Context(), id)
		RequireNotFound(t, err)
	}
}

func testKeyList(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	var created []*identity.NewAPIKey
	for _, name := range []string{"zeta", "alpha", "mu"} {
		created = append(created, MustCreateAPIKey(t, p, a.ID, name))
	}
	keys, err := p.ListAPIKeys(t.Context(), a.ID)
	noErr(t, err, "ListAPIKeys")
	if len(keys) != len(created) {
		t.Fatalf("listed %d keys, want %d", len(keys), len(created))
	}
	for i, k := range keys {
		requireKey(t, k, created[i].APIKey)
	}
	enc := mustJSON(t, keys)
	for _, k := range created {
		if strings.Contains(enc, k.Secret) || strings.Contains(enc, k.Secret[len(apikey.SecretPrefix):]) {
			t.Fatalf("the key list exposes a secret: %s", enc)
		}
	}
	if strings.Contains(enc, `"secret"`) {
		t.Fatalf("the key list has a secret member: %s", enc)
	}
	one, err := p.APIKey(t.Context(), created[0].ID)
	noErr(t, err, "APIKey")
	if enc := mustJSON(t, one); strings.Contains(enc, created[0].Secret) {
		t.Fatalf("APIKey exposes the secret: %s", enc)
	}
}

func testKeyListEmpty(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	keys, err := p.ListAPIKeys(t.Context(), a.ID)
	noErr(t, err, "ListAPIKeys")
	if len(keys) != 0 {
		t.Fatalf("a new account has %d keys", len(keys))
	}
}

func testKeyListUnknownAccount(t *testing.T, p identity.Provider) {
	MustCreateAccount(t, p, "alice")
	_, err := p.ListAPIKeys(t.Context(), "nonexistent")
	RequireNotFound(t, err)
}

func testKeyListPerAccount(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	b := MustCreateAccount(t, p, "bob")
	ka := MustCreateAPIKey(t, p, a.ID, "a1")
	kb1 := MustCreateAPIKey(t, p, b.ID, "b1")
	kb2 := MustCreateAPIKey(t, p, b.ID, "b2")
	keys, err := p.ListAPIKeys(t.Context(), a.ID)
	noErr(t, err, "ListAPIKeys(alice)")
	if len(keys) != 1 {
		t.Fatalf("alice has %d keys, want 1", len(keys))
	}
	requireKey(t, keys[0], ka.APIKey)
	keys, err = p.ListAPIKeys(t.Context(), b.ID)
	noErr(t, err, "ListAPIKeys(bob)")
	if len(keys) != 2 {
		t.Fatalf("bob has %d keys, want 2", len(keys))
	}
	requireKey(t, keys[0], kb1.APIKey)
	requireKey(t, keys[1], kb2.APIKey)
}

func testKeyAuthenticate(t *testing.T, p identity.Provider) {
	a := MustCreate(t, p, identity.AccountCreate{Username: "alice", Password: Password, Email: "alice@example.com"})
	k := MustCreateAPIKey(t, p, a.ID, "laptop")
	acc, key, err := p.AuthenticateAPIKey(t.Context(), k.ID, k.Secret)
	noErr(t, err, "AuthenticateAPIKey")
	requireSameAccount(t, acc, a)
	requireKey(t, key, k.APIKey)
	requireKeyLogin(t, p, k) // and again
}

func testKeyAuthFailures(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	k := MustCreateAPIKey(t, p, a.ID, "laptop")
	disabled := MustCreateAPIKey(t, p, a.ID, "disabled")
	_, err := p.SetAPIKeyStatus(t.Context(), disabled.ID, identity.StatusDisabled)
	noErr(t, err, "SetAPIKeyStatus")
	b := MustCreateAccount(t, p, "bob")
	kb := MustCreateAPIKey(t, p, b.ID, "bob's")
	update(t, p, b.ID, identity.AccountUpdate{Status: ptr(identity.StatusDisabled)})
	c := MustCreate(t, p, identity.AccountCreate{Username: "carol", Password: Password, Status: identity.StatusUnverified})
	kc := MustCreateAPIKey(t, p, c.ID, "carol's")

	wrongSecret := k.Secret[:len(k.Secret)-1] + "A"
	if wrongSecret == k.Secret {
		wrongSecret = k.Secret[:len(k.Secret)-1] + "B"
	}
	texts := map[string]string{
		"wrong secret":     requireKeyFailure(t, p, k.ID, wrongSecret, identity.ReasonWrongSecret),
		"empty secret":     requireKeyFailure(t, p, k.ID, "", identity.ReasonWrongSecret, identity.ReasonInvalidRequest),
		"password":         requireKeyFailure(t, p, k.ID, Password, identity.ReasonWrongSecret),
		"unknown id":       requireKeyFailure(t, p, apikey.NewID(), k.Secret, identity.ReasonUnknownKey),
		"malformed id":     requireKeyFailure(t, p, "not-a-key", k.Secret, identity.ReasonUnknownKey, identity.ReasonInvalidRequest),
		"account id":       requireKeyFailure(t, p, a.ID, k.Secret, identity.ReasonUnknownKey, identity.ReasonInvalidRequest),
		"empty id":         requireKeyFailure(t, p, "", k.Secret, identity.ReasonUnknownKey, identity.ReasonInvalidRequest),
		"disabled key":     requireKeyFailure(t, p, disabled.ID, disabled.Secret, identity.ReasonKeyDisabled),
		"disabled account": requireKeyFailure(t, p, kb.ID, kb.Secret, identity.ReasonDisabled),
		"unverified":       requireKeyFailure(t, p, kc.ID, kc.Secret, identity.ReasonDisabled, identity.ReasonUnverified),
		"huge secret":      requireKeyFailure(t, p, k.ID, repeat("s", 10<<10), identity.ReasonWrongSecret, identity.ReasonInvalidRequest),
	}
	want := texts["wrong secret"]
	for path, text := range texts {
		if text != want {
			t.Errorf("%s fails with %q, wrong secret with %q", path, text, want)
		}
	}
	requireKeyLogin(t, p, k) // failures did not lock the good key out
}

func testKeyAuthOtherSecret(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	k1 := MustCreateAPIKey(t, p, a.ID, "one")
	k2 := MustCreateAPIKey(t, p, a.ID, "two")
	b := MustCreateAccount(t, p, "bob")
	kb := MustCreateAPIKey(t, p, b.ID, "bob's")
	requireKeyFailure(t, p, k1.ID, k2.Secret, identity.ReasonWrongSecret)
	requireKeyFailure(t, p, k1.ID, kb.Secret, identity.ReasonWrongSecret)
	requireKeyFailure(t, p, kb.ID, k1.Secret, identity.ReasonWrongSecret)
	requireKeyLogin(t, p, k1)
	requireKeyLogin(t, p, k2)
	requireKeyLogin(t, p, kb)
}

func testKeyDisable(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	k := MustCreateAPIKey(t, p, a.ID, "laptop")
	other := MustCreateAPIKey(t, p, a.ID, "other")
	got, err := p.SetAPIKeyStatus(t.Context(), k.ID, identity.StatusDisabled)
	noErr(t, err, "SetAPIKeyStatus(DISABLED)")
	want := k.APIKey
	want.Status = identity.StatusDisabled
	requireKey(t, got, want)
	stored, err := p.APIKey(t.Context(), k.ID)
	noErr(t, err, "APIKey")
	requireKey(t, stored, want)
	requireKeyFailure(t, p, k.ID, k.Secret, identity.ReasonKeyDisabled)
	requireKeyLogin(t, p, other)

	got, err = p.SetAPIKeyStatus(t.Context(), k.ID, identity.StatusEnabled)
	noErr(t, err, "SetAPIKeyStatus(ENABLED)")
	requireKey(t, got, k.APIKey)
	requireKeyLogin(t, p, k)
	// Setting the status it already has is fine.
	_, err = p.SetAPIKeyStatus(t.Context(), k.ID, identity.StatusEnabled)
	noErr(t, err, "SetAPIKeyStatus(ENABLED) again")
}

func testKeyAccountDisabled(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	k := MustCreateAPIKey(t, p, a.ID, "laptop")
	update(t, p, a.ID, identity.AccountUpdate{Status: ptr(identity.StatusDisabled)})
	requireKeyFailure(t, p, k.ID, k.Secret, identity.ReasonDisabled)
	// The key itself is untouched and works again with the account.
	stored, err := p.APIKey(t.Context(), k.ID)
	noErr(t, err, "APIKey")
	requireKey(t, stored, k.APIKey)
	update(t, p, a.ID, identity.AccountUpdate{Status: ptr(identity.StatusEnabled)})
	requireKeyLogin(t, p, k)
}

func testKeySetStatusInvalid(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	k := MustCreateAPIKey(t, p, a.ID, "laptop")
	for _, st := range []identity.Status{identity.StatusUnverified, "foo", "", "enabled"} {
		_, err := p.SetAPIKeyStatus(t.Context(), k.ID, st)
		RequireCode(t, err, identity.CodeInvalidInput)
	}
	stored, err := p.APIKey(t.Context(), k.ID)
	noErr(t, err, "APIKey")
	requireKey(t, stored, k.APIKey)
	requireKeyLogin(t, p, k)
}

func testKeySetStatusUnknown(t *testing.T, p identity.Provider) {
	MustCreateAccount(t, p, "alice")
	for _, id := range []string{apikey.NewID(), "nonexistent"} {
		_, err := p.SetAPIKeyStatus(t.Context(), id, identity.StatusDisabled)
		RequireNotFound(t, err)
	}
}

func testKeyDelete(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	k := MustCreateAPIKey(t, p, a.ID, "laptop")
	keep := MustCreateAPIKey(t, p, a.ID, "keep")
	noErr(t, p.DeleteAPIKey(t.Context(), k.ID), "DeleteAPIKey")
	requireKeyFailure(t, p, k.ID, k.Secret, identity.ReasonUnknownKey)
	_, err := p.APIKey(t.Context(), k.ID)
	RequireNotFound(t, err)
	_, err = p.SetAPIKeyStatus(t.Context(), k.ID, identity.StatusEnabled)
	RequireNotFound(t, err)
	RequireNotFound(t, p.DeleteAPIKey(t.Context(), k.ID))
	keys, err := p.ListAPIKeys(t.Context(), a.ID)
	noErr(t, err, "ListAPIKeys")
	if len(keys) != 1 {
		t.Fatalf("after deleting one of two keys, %d are listed", len(keys))
	}
	requireKey(t, keys[0], keep.APIKey)
	requireKeyLogin(t, p, keep)
	// The account is untouched.
	if _, err := p.Authenticate(t.Context(), "alice", Password); err != nil {
		t.Fatalf("Authenticate after deleting a key: %v", err)
	}
}

func testKeyDeleteUnknown(t *testing.T, p identity.Provider) {
	MustCreateAccount(t, p, "alice")
	for _, id := range []string{apikey.NewID(), "nonexistent", ""} {
		RequireNotFound(t, p.DeleteAPIKey(t.Context(), id))
	}
}

// testKeyLimit assumes the default limit of identity.DefaultLimits.
func testKeyLimit(t *testing.T, p identity.Provider) {
	max := identity.DefaultLimits().APIKeysPerAccount
	a := MustCreateAccount(t, p, "alice")
	var first *identity.NewAPIKey
	for i := range max {
		k, err := p.CreateAPIKey(t.Context(), a.ID, "")
		if err != nil {
			t.Fatalf("creating key %d of %d: %v", i+1, max, err)
		}
		if first == nil {
			first = k
		}
	}
	_, err := p.CreateAPIKey(t.Context(), a.ID, "one too many")
	RequireCode(t, err, identity.CodeLimitExceeded)
	keys, err := p.ListAPIKeys(t.Context(), a.ID)
	noErr(t, err, "ListAPIKeys")
	if len(keys) != max {
		t.Fatalf("account holds %d keys, want %d", len(keys), max)
	}
	// The limit is per account.
	b := MustCreateAccount(t, p, "bob")
	MustCreateAPIKey(t, p, b.ID, "bob's")
	// Deleting a key makes room for another.
	noErr(t, p.DeleteAPIKey(t.Context(), first.ID), "DeleteAPIKey")
	MustCreateAPIKey(t, p, a.ID, "replacement")
	_, err = p.CreateAPIKey(t.Context(), a.ID, "one too many")
	RequireCode(t, err, identity.CodeLimitExceeded)
}
