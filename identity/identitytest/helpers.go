package identitytest

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/password"
)

// Password is the password the helpers give the accounts they create. It
// satisfies the default policy (12 to 128 code points).
const Password = "correct horse battery staple"

// MustCreateAccount creates an ENABLED account with username, no email and
// Password, and fails the test if that is refused.
func MustCreateAccount(t testing.TB, p identity.Provider, username string) *identity.Account {
	t.Helper()
	return MustCreate(t, p, identity.AccountCreate{Username: username, Password: Password})
}

// MustCreate creates the account in and fails the test if that is refused.
func MustCreate(t testing.TB, p identity.Provider, in identity.AccountCreate) *identity.Account {
	t.Helper()
	a, err := p.CreateAccount(t.Context(), in)
	if err != nil {
		t.Fatalf("CreateAccount(%q): %v", in.Username, err)
	}
	if a == nil {
		t.Fatalf("CreateAccount(%q) returned a nil account and no error", in.Username)
	}
	return a
}

// MustGetAccount reads an account back and fails the test if it is missing.
func MustGetAccount(t testing.TB, p identity.Provider, id string) *identity.Account {
	t.Helper()
	a, err := p.Account(t.Context(), id)
	if err != nil {
		t.Fatalf("Account(%q): %v", id, err)
	}
	return a
}

// MustCreateGroup creates a group named name and fails the test if that is
// refused.
func MustCreateGroup(t testing.TB, p identity.Provider, name string) *identity.Group {
	t.Helper()
	g, err := p.CreateGroup(t.Context(), identity.GroupCreate{Name: name})
	if err != nil {
		t.Fatalf("CreateGroup(%q): %v", name, err)
	}
	return g
}

// MustCreateAPIKey creates an API key for the account and fails the test if
// that is refused.
func MustCreateAPIKey(t testing.TB, p identity.Provider, accountID, name string) *identity.NewAPIKey {
	t.Helper()
	k, err := p.CreateAPIKey(t.Context(), accountID, name)
	if err != nil {
		t.Fatalf("CreateAPIKey(%q, %q): %v", accountID, name, err)
	}
	return k
}

// MustAddToGroup adds the account to the group and fails the test if that
// is refused.
func MustAddToGroup(t testing.TB, p identity.Provider, accountID, groupID string) {
	t.Helper()
	if err := p.AddToGroup(t.Context(), accountID, groupID); err != nil {
		t.Fatalf("AddToGroup(%q, %q): %v", accountID, groupID, err)
	}
}

// RequireCode fails the test unless err carries code: it must match the
// sentinel with errors.Is and identity.ErrorCode must report code.
func RequireCode(t testing.TB, err error, code identity.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if got := identity.ErrorCode(err); got != code {
		t.Fatalf("got error %q (code %s), want code %s", err, got, code)
	}
	if s := sentinel(code); s != nil && !errors.Is(err, s) {
		t.Fatalf("errors.Is(%q, %s sentinel) = false", err, code)
	}
}

// RequireField fails the test unless err carries code and names field.
func RequireField(t testing.TB, err error, code identity.Code, field string) {
	t.Helper()
	RequireCode(t, err, code)
	if got := identity.ErrorField(err); got != field {
		t.Fatalf("error %q names field %q, want %q", err, got, field)
	}
}

// RequireNotFound fails the test unless err is an ErrNotFound.
func RequireNotFound(t testing.TB, err error) {
	t.Helper()
	RequireCode(t, err, identity.CodeNotFound)
}

// RequireInvalid fails the test unless err is an ErrInvalidInput naming
// field.
func RequireInvalid(t testing.TB, err error, field string) {
	t.Helper()
	RequireField(t, err, identity.CodeInvalidInput, field)
}

func sentinel(code identity.Code) error {
	switch code {
	case identity.CodeInvalidInput:
		return identity.ErrInvalidInput
	case identity.CodeNotFound:
		return identity.ErrNotFound
	case identity.CodeConflict:
		return identity.ErrConflict
	case identity.CodeInvalidCredentials:
		return identity.ErrInvalidCredentials
	case identity.CodeLimitExceeded:
		return identity.ErrLimitExceeded
	case identity.CodeUnavailable:
		return identity.ErrUnavailable
	}
	return nil
}

// noErr fails the test if err is not nil.
func noErr(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

var idShape = regexp.MustCompile(`^[0-9A-Za-z]{22}$`)

// requireID fails the test unless id has the shape of a Gatehouse id: 22
// base62 characters.
func requireID(t testing.TB, what, id string) {
	t.Helper()
	if !idShape.MatchString(id) {
		t.Fatalf("%s id %q is not 22 base62 characters", what, id)
	}
}

// requireTime fails the test unless tm is set and in UTC.
func requireTime(t testing.TB, what string, tm time.Time) {
	t.Helper()
	if tm.IsZero() {
		t.Fatalf("%s is zero", what)
	}
	if tm.Location() != time.UTC {
		t.Fatalf("%s = %v is in %v, want UTC", what, tm, tm.Location())
	}
}

// requireSameAccount fails the test unless got and want describe the same
// account state (times compared with Equal).
func requireSameAccount(t testing.TB, got, want *identity.Account) {
	t.Helper()
	if got == nil {
		t.Fatalf("got nil account, want %+v", want)
	}
	if got.ID != want.ID || got.Username != want.Username || got.Email != want.Email ||
		got.GivenName != want.GivenName || got.Surname != want.Surname || got.Status != want.Status ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.ModifiedAt.Equal(want.ModifiedAt) ||
		!got.PasswordModifiedAt.Equal(want.PasswordModifiedAt) {
		t.Fatalf("account differs:\n got  %+v\n want %+v", *got, *want)
	}
}

// accountIDs returns the ids of accounts, in order.
func accountIDs(as []*identity.Account) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

func groupNames(gs []*identity.Group) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.Name
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// hasher returns the provider's password hasher when it exposes one, so the
// suite can count password verifications.
func hasher(p identity.Provider) *password.Hasher {
	if h, ok := p.(interface{ Hasher() *password.Hasher }); ok {
		return h.Hasher()
	}
	return nil
}

// verifications returns a function reporting how many password
// verifications the provider ran since verifications was called, or nil if
// the provider does not expose its hasher.
func verifications(p identity.Provider) func() uint64 {
	h := hasher(p)
	if h == nil {
		return nil
	}
	before := h.Verifications()
	return func() uint64 { return h.Verifications() - before }
}

// mustJSON returns the JSON encoding of v (object keys sorted, which makes
// it a canonical form for comparing custom data).
func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal(%#v): %v", v, err)
	}
	return string(b)
}

// data decodes a JSON object the way providers return custom data.
func data(t testing.TB, s string) identity.CustomData {
	t.Helper()
	d, err := identity.DecodeCustomData([]byte(s))
	if err != nil {
		t.Fatalf("DecodeCustomData(%s): %v", s, err)
	}
	return d
}

// requireData fails the test unless got encodes to the same JSON as the
// object want (given as JSON text).
func requireData(t testing.TB, got identity.CustomData, want string) {
	t.Helper()
	if got == nil {
		t.Fatalf("custom data is nil, want %s", want)
	}
	g, w := mustJSON(t, got), mustJSON(t, data(t, want))
	if g != w {
		t.Fatalf("custom data = %s, want %s", g, w)
	}
}

func ptr[T any](v T) *T { return &v }

func repeat(s string, n int) string { return strings.Repeat(s, n) }
