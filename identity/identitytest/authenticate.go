package identitytest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/password"
)

func authenticateTests() []test {
	return []test{
		{"Authenticate/ByUsername", testAuthByUsername},
		{"Authenticate/ByEmail", testAuthByEmail},
		{"Authenticate/CaseInsensitiveLogin", testAuthCaseInsensitive},
		{"Authenticate/PasswordCaseSensitive", testAuthPasswordCaseSensitive},
		{"Authenticate/WrongPassword", testAuthWrongPassword},
		{"Authenticate/UnknownLogin", testAuthUnknownLogin},
		{"Authenticate/UnknownLoginSameError", testAuthUnknownLoginSameError},
		{"Authenticate/Disabled", testAuthDisabled},
		{"Authenticate/Unverified", testAuthUnverified},
		{"Authenticate/DisabledWrongPassword", testAuthDisabledWrongPassword},
		{"Authenticate/EmptyPassword", testAuthEmptyPassword},
		{"Authenticate/EmptyLogin", testAuthEmptyLogin},
		{"Authenticate/HugePassword", testAuthHugePassword},
		{"Authenticate/HugeLogin", testAuthHugeLogin},
		{"Authenticate/AllFailuresIdentical", testAuthAllFailuresIdentical},
		{"Authenticate/ReEnabled", testAuthReEnabled},
		{"Authenticate/NoPrefixMatch", testAuthNoPrefixMatch},
		{"Authenticate/ImportedBcrypt", testAuthImportedBcrypt},
		{"Authenticate/ImportedBcryptNoTruncation", testAuthImportedBcryptTruncation},
		{"Authenticate/ImportedArgon2id", testAuthImportedArgon2id},
		{"Authenticate/ImportRunsNoKDF", testAuthImportRunsNoKDF},
		{"Authenticate/NFKCFullwidth", testAuthNFKCFullwidth},
		{"Authenticate/NFKCCompatibilityForms", testAuthNFKCCompat},
		{"Authenticate/DecomposedLongPassword", testAuthDecomposedPassword},
		{"Authenticate/DecomposedLongLogin", testAuthDecomposedLogin},
		{"Authenticate/CallerGone", testAuthCallerGone},
	}
}

// requireLogin authenticates and checks the account returned.
func requireLogin(t *testing.T, p identity.Provider, login, pw string, want *identity.Account) {
	t.Helper()
	got, err := p.Authenticate(t.Context(), login, pw)
	if err != nil {
		t.Fatalf("Authenticate(%.40q (%d bytes), %.40q (%d bytes)): %v (reason %q)", login, len(login), pw, len(pw), err, identity.ReasonOf(err))
	}
	if got == nil || got.ID != want.ID {
		t.Fatalf("Authenticate(%q) returned %+v, want account %s", login, got, want.ID)
	}
}

// requireCredentialsFailure checks one failed authentication: the error is
// ErrInvalidCredentials (by errors.Is and by code) with the generic text,
// exactly one password verification ran when the provider lets us count,
// and the reason, when the provider keeps it, is one of reasons. It returns
// the error text.
func requireCredentialsFailure(t *testing.T, p identity.Provider, login, pw string, reasons ...identity.FailureReason) string {
	t.Helper()
	count := verifications(p)
	a, err := p.Authenticate(t.Context(), login, pw)
	if err == nil {
		t.Fatalf("Authenticate(%.40q, %.40q) succeeded with %+v", login, pw, a)
	}
	requireCredentialsError(t, err, reasons...)
	if count != nil {
		if n := count(); n != 1 {
			t.Fatalf("Authenticate(%.40q, %.40q) ran %d password verifications, want exactly 1 (every failure must cost the same)", login, pw, n)
		}
	}
	return err.Error()
}

func requireCredentialsError(t *testing.T, err error, reasons ...identity.FailureReason) {
	t.Helper()
	RequireCode(t, err, identity.CodeInvalidCredentials)
	if got, want := err.Error(), identity.ErrInvalidCredentials.Error(); got != want {
		t.Fatalf("error text %q, want the generic %q", got, want)
	}
	if msg := identity.ErrorMessage(err); msg != identity.ErrInvalidCredentials.Message {
		t.Fatalf("ErrorMessage = %q, want %q", msg, identity.ErrInvalidCredentials.Message)
	}
	if f := identity.ErrorField(err); f != "" {
		t.Fatalf("a credentials error names field %q", f)
	}
	if r := identity.ReasonOf(err); r != "" && len(reasons) > 0 && !slices.Contains(reasons, r) {
		t.Fatalf("ReasonOf = %q, want one of %q", r, reasons)
	}
}

func seedLoginAccount(t *testing.T, p identity.Provider, status identity.Status) *identity.Account {
	t.Helper()
	return MustCreate(t, p, identity.AccountCreate{
		Username: "alice", Password: Password, Email: "alice@example.com", GivenName: "Alice", Status: status,
	})
}

func testAuthByUsername(t *testing.T, p identity.Provider) {
	a := seedLoginAccount(t, p, "")
	MustCreateAccount(t, p, "bob")
	got, err := p.Authenticate(t.Context(), "alice", Password)
	noErr(t, err, "Authenticate")
	requireSameAccount(t, got, a)
}

func testAuthByEmail(t *testing.T, p identity.Provider) {
	a := seedLoginAccount(t, p, "")
	got, err := p.Authenticate(t.Context(), "alice@example.com", Password)
	noErr(t, err, "Authenticate")
	requireSameAccount(t, got, a)
}

func testAuthCaseInsensitive(t *testing.T, p identity.Provider) {
	a := MustCreate(t, p, identity.AccountCreate{Username: "Ærøskøbing", Password: Password, Email: "Alice@Example.com"})
	for _, login := range []string{"ÆRØSKØBING", "ærøskøbing", "ALICE@EXAMPLE.COM", "alice@example.com"} {
		requireLogin(t, p, login, Password, a)
	}
}

func testAuthPasswordCaseSensitive(t *testing.T, p identity.Provider) {
	seedLoginAccount(t, p, "")
	requireCredentialsFailure(t, p, "alice", "CORRECT HORSE BATTERY STAPLE", identity.ReasonWrongPassword)
	requireCredentialsFailure(t, p, "alice", "Correct horse battery staple", identity.ReasonWrongPassword)
}

func testAuthWrongPassword(t *testing.T, p identity.Provider) {
	seedLoginAccount(t, p, "")
	requireCredentialsFailure(t, p, "alice", "not the right password", identity.ReasonWrongPassword)
	requireCredentialsFailure(t, p, "alice@example.com", "not the right password", identity.ReasonWrongPassword)
}

func testAuthUnknownLogin(t *testing.T, p identity.Provider) {
	seedLoginAccount(t, p, "")
	for _, login := range []string{"nobody", "nobody@example.com", "alic", "gk_0123456789abcdefghijkl"} {
		requireCredentialsFailure(t, p, login, Password, identity.ReasonUnknownLogin)
	}
}

// testAuthUnknownLoginSameError proves an attacker cannot tell an unknown
// login from a wrong password: same error, same text, same code, and the same
// amount of password hashing.
func testAuthUnknownLoginSameError(t *testing.T, p identity.Provider) {
	seedLoginAccount(t, p, "")
	wrong := requireCredentialsFailure(t, p, "alice", "not the right password", identity.ReasonWrongPassword)
	unknown := requireCredentialsFailure(t, p, "mallory", "not the right password", identity.ReasonUnknownLogin)
	if wrong != unknown {
		t.Fatalf("wrong password says %q but unknown login says %q", wrong, unknown)
	}
	_, errWrong := p.Authenticate(t.Context(), "alice", "not the right password")
	_, errUnknown := p.Authenticate(t.Context(), "mallory", "not the right password")
	if identity.ErrorCode(errWrong) != identity.ErrorCode(errUnknown) || identity.ErrorMessage(errWrong) != identity.ErrorMessage(errUnknown) {
		t.Fatalf("codes or messages differ: %s/%q vs %s/%q", identity.ErrorCode(errWrong), identity.ErrorMessage(errWrong),
			identity.ErrorCode(errUnknown), identity.ErrorMessage(errUnknown))
	}
	if r1, r2 := identity.ReasonOf(errWrong), identity.ReasonOf(errUnknown); r1 != "" && r1 == r2 {
		t.Fatalf("both failures carry reason %q; the reason should tell them apart in logs", r1)
	}
}

func testAuthDisabled(t *testing.T, p identity.Provider) {
	seedLoginAccount(t, p, identity.StatusDisabled)
	requireCredentialsFailure(t, p, "alice", Password, identity.ReasonDisabled)
	requireCredentialsFailure(t, p, "alice@example.com", Password, identity.ReasonDisabled)
}

func testAuthUnverified(t *testing.T, p identity.Provider) {
	seedLoginAccount(t, p, identity.StatusUnverified)
	requireCredentialsFailure(t, p, "alice", Password, identity.ReasonUnverified)
}

func testAuthDisabledWrongPassword(t *testing.T, p identity.Provider) {
	seedLoginAccount(t, p, identity.StatusDisabled)
	requireCredentialsFailure(t, p, "alice", "not the right password", identity.ReasonWrongPassword, identity.ReasonDisabled)
}

func testAuthEmptyPassword(t *testing.T, p identity.Provider) {
	seedLoginAccount(t, p, "")
	requireCredentialsFailure(t, p, "alice", "", identity.ReasonWrongPassword, identity.ReasonInvalidRequest)
	requireCredentialsFailure(t, p, "nobody", "", identity.ReasonUnknownLogin, identity.ReasonInvalidRequest)
}

func testAuthEmptyLogin(t *testing.T, p identity.Provider) {
	seedLoginAccount(t, p, "")
	requireCredentialsFailure(t, p, "", Password, identity.ReasonUnknownLogin, identity.ReasonInvalidRequest)
	requireCredentialsFailure(t, p, "", "", identity.ReasonUnknownLogin, identity.ReasonInvalidRequest)
}

func testAuthHugePassword(t *testing.T, p identity.Provider) {
	seedLoginAccount(t, p, "")
	huge := repeat("x", 10<<10)
	requireCredentialsFailure(t, p, "alice", huge, identity.ReasonWrongPassword, identity.ReasonInvalidRequest)
	requireCredentialsFailure(t, p, "nobody", huge, identity.ReasonUnknownLogin, identity.ReasonInvalidRequest)
	// The real password followed by padding is not the real password.
	requireCredentialsFailure(t, p, "alice", Password+huge, identity.ReasonWrongPassword, identity.ReasonInvalidRequest)
}

func testAuthHugeLogin(t *testing.T, p identity.Provider) {
	seedLoginAccount(t, p, "")
	requireCredentialsFailure(t, p, repeat("a", 10<<10), Password, identity.ReasonUnknownLogin, identity.ReasonInvalidRequest)
	requireCredentialsFailure(t, p, "alice\xff", Password, identity.ReasonUnknownLogin, identity.ReasonInvalidRequest)
}

func testAuthAllFailuresIdentical(t *testing.T, p identity.Provider) {
	seedLoginAccount(t, p, "")
	MustCreate(t, p, identity.AccountCreate{Username: "dis", Password: Password, Status: identity.StatusDisabled})
	MustCreate(t, p, identity.AccountCreate{Username: "unv", Password: Password, Status: identity.StatusUnverified})
	texts := map[string]string{
		"wrong password": requireCredentialsFailure(t, p, "alice", "not the right password"),
		"unknown login":  requireCredentialsFailure(t, p, "nobody", Password),
		"disabled":       requireCredentialsFailure(t, p, "dis", Password),
		"unverified":     requireCredentialsFailure(t, p, "unv", Password),
		"empty password": requireCredentialsFailure(t, p, "alice", ""),
		"empty login":    requireCredentialsFailure(t, p, "", Password),
		"huge password":  requireCredentialsFailure(t, p, "alice", repeat("x", 10<<10)),
	}
	want := texts["wrong password"]
	for path, text := range texts {
		if text != want {
			t.Errorf("%s fails with %q, wrong password with %q", path, text, want)
		}
	}
}

func testAuthReEnabled(t *testing.T, p identity.Provider) {
	a := seedLoginAccount(t, p, "")
	update(t, p, a.ID, identity.AccountUpdate{Status: ptr(identity.StatusDisabled)})
	requireCredentialsFailure(t, p, "alice", Password, identity.ReasonDisabled)
	update(t, p, a.ID, identity.AccountUpdate{Status: ptr(identity.StatusEnabled)})
	requireLogin(t, p, "alice", Password, a)
}

func testAuthNoPrefixMatch(t *testing.T, p identity.Provider) {
	seedLoginAccount(t, p, "")
	requireCredentialsFailure(t, p, "alice", Password[:len(Password)-1], identity.ReasonWrongPassword)
	requireCredentialsFailure(t, p, "alice", Password+"!", identity.ReasonWrongPassword)
	requireCredentialsFailure(t, p, "alice", " "+Password, identity.ReasonWrongPassword)
}

func testAuthImportedBcrypt(t *testing.T, p identity.Provider) {
	const pw = "imported from stormpath"
	hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	noErr(t, err, "bcrypt")
	a := MustCreate(t, p, identity.AccountCreate{Username: "legacy", PasswordHash: string(hash), Email: "legacy@example.com"})
	requireCredentialsFailure(t, p, "legacy", "not the right password", identity.ReasonWrongPassword)
	requireLogin(t, p, "legacy", pw, a)
	// The first login rehashed the password with argon2id; it still works,
	// by username and by email, and a wrong password still fails.
	requireLogin(t, p, "legacy", pw, a)
	requireLogin(t, p, "LEGACY@example.com", pw, a)
	requireCredentialsFailure(t, p, "legacy", "not the right password", identity.ReasonWrongPassword)
}

// bcrypt only looks at the first 72 bytes of a password; a provider must not
// let a longer password whose first 72 bytes match log in.
func testAuthImportedBcryptTruncation(t *testing.T, p identity.Provider) {
	pw := repeat("0123456789", 7) + "ab" // 72 bytes
	hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	noErr(t, err, "bcrypt")
	a := MustCreate(t, p, identity.AccountCreate{Username: "legacy", PasswordHash: string(hash)})
	requireCredentialsFailure(t, p, "legacy", pw+"c", identity.ReasonWrongPassword)
	requireLogin(t, p, "legacy", pw, a)
}

func testAuthImportedArgon2id(t *testing.T, p identity.Provider) {
	const pw = "imported argon2id password"
	hash, err := password.NewHasher(password.InsecureFastParams).Hash(pw)
	noErr(t, err, "Hash")
	a := MustCreate(t, p, identity.AccountCreate{Username: "imported", PasswordHash: hash})
	requireCredentialsFailure(t, p, "imported", "not the right password", identity.ReasonWrongPassword)
	requireLogin(t, p, "imported", pw, a)
	requireLogin(t, p, "imported", pw, a)
}

func testAuthNFKCFullwidth(t *testing.T, p identity.Provider) {
	// NFKC maps fullwidth letters and digits to ASCII, so the password typed
	// on a keyboard in fullwidth mode is the same password.
	const fullwidth = "ｐａｓｓｗｏｒｄ１２３４"
	a := MustCreate(t, p, identity.AccountCreate{Username: "wide", Password: fullwidth})
	requireLogin(t, p, "wide", "password1234", a)
	requireLogin(t, p, "wide", fullwidth, a)
	requireLogin(t, p, "wide", "ｐａｓｓword1234", a)
	requireCredentialsFailure(t, p, "wide", "PASSWORD1234", identity.ReasonWrongPassword)

	b := MustCreate(t, p, identity.AccountCreate{Username: "narrow", Password: "narrowpass99"})
	requireLogin(t, p, "narrow", "ｎａｒｒｏｗｐａｓｓ９９", b)
}

func testAuthNFKCCompat(t *testing.T, p identity.Provider) {
	// Composed and decomposed forms of the same letters, and the "ﬁ"
	// ligature, are the same password after NFKC.
	a := MustCreate(t, p, identity.AccountCreate{Username: "compat", Password: "crème brûlée ﬁne"})
	requireLogin(t, p, "compat", "cre\u0300me bru\u0302le\u0301e fine", a)
	requireLogin(t, p, "compat", "crème brûlée fine", a)
}

// hangulJamo is the syllable 각 (U+AC01) spelled as its three conjoining
// jamo: 9 bytes and 3 code points that NFC and NFKC compose into one code
// point of 3 bytes.
const hangulJamo = "\u1100\u1161\u11A8"

// A password the policy accepted at creation must authenticate when typed
// exactly the same way again. The policy counts code points after NFKC, so
// 60 decomposed Hangul syllables are a 60-character password even though
// their raw UTF-8 is 540 bytes.
func testAuthDecomposedPassword(t *testing.T, p identity.Provider) {
	pw := repeat(hangulJamo, 60)
	a := MustCreate(t, p, identity.AccountCreate{Username: "hangul", Password: pw})
	requireLogin(t, p, "hangul", repeat("\uAC01", 60), a) // the composed spelling
	requireLogin(t, p, "hangul", pw, a)                   // the very bytes it was set with
}

// Likewise a username of 255 syllables (the maximum, counted after NFC) must
// log in when typed decomposed, since FindAccount finds it that way.
func testAuthDecomposedLogin(t *testing.T, p identity.Provider) {
	composed := repeat("\uAC01", 255)
	a := MustCreateAccount(t, p, composed)
	decomposed := repeat(hangulJamo, 255)
	found, err := p.FindAccount(t.Context(), decomposed)
	noErr(t, err, "FindAccount(decomposed)")
	if found.ID != a.ID {
		t.Fatalf("FindAccount(decomposed) = %s, want %s", found.ID, a.ID)
	}
	requireLogin(t, p, composed, Password, a)
	requireLogin(t, p, decomposed, Password, a)
}

// testAuthImportRunsNoKDF: creating an account from an existing hash checks
// the hash without running the KDF, so bulk imports stay cheap.
func testAuthImportRunsNoKDF(t *testing.T, p identity.Provider) {
	h := hasher(p)
	if h == nil {
		t.Skip("provider does not expose its hasher")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("imported password"), bcrypt.MinCost)
	noErr(t, err, "bcrypt")
	before := h.Verifications()
	MustCreate(t, p, identity.AccountCreate{Username: "imported", PasswordHash: string(hash)})
	if n := h.Verifications() - before; n != 0 {
		t.Errorf("importing a hash ran %d password verifications, want 0", n)
	}
}

// testAuthCallerGone: a login whose context has ended is not decided. Every
// path (right password, wrong password, unknown login, disabled account,
// empty password) answers with the context's error, never "invalid
// credentials", which would be counted as a failed login and would tell
// the paths apart by error. A provider that can count its KDF runs ran
// none. Only a right password may still succeed, from a cache that need not
// ask anyone.
func testAuthCallerGone(t *testing.T, p identity.Provider) {
	a := seedLoginAccount(t, p, "")
	MustCreate(t, p, identity.AccountCreate{Username: "dis", Password: Password, Status: identity.StatusDisabled})
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	expired, cancelExpired := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancelExpired()
	ran := verifications(p)
	for _, c := range []struct {
		ctx  context.Context
		want error
	}{{cancelled, context.Canceled}, {expired, context.DeadlineExceeded}} {
		for _, try := range []struct{ name, login, pw string }{
			{"right password", "alice", Password},
			{"wrong password", "alice", "not the right password"},
			{"unknown login", "nobody", Password},
			{"disabled", "dis", Password},
			{"empty password", "alice", ""},
		} {
			acc, err := p.Authenticate(c.ctx, try.login, try.pw)
			if err == nil && try.pw == Password && try.login == "alice" && acc != nil {
				continue
			}
			if !errors.Is(err, c.want) || errors.Is(err, identity.ErrInvalidCredentials) {
				t.Errorf("%s after %v: %v, want an error wrapping %v (and not invalid credentials)", try.name, c.want, err, c.want)
			}
		}
	}
	if ran != nil && ran() != 0 {
		t.Errorf("%d password verifications for callers that had gone", ran())
	}
	// The same logins with a live context are decided as usual.
	requireCredentialsFailure(t, p, "alice", "not the right password", identity.ReasonWrongPassword)
	requireLogin(t, p, "alice", Password, a)
}
