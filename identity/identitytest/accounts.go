package identitytest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
)

func accountTests() []test {
	return []test{
		{"Account/CreateWithCustomData", testCreateWithCustomData},
		{"Account/CreateWithBadCustomDataCreatesNothing", testCreateWithBadCustomData},
		{"Account/Create", testAccountCreate},
		{"Account/CreateMinimal", testAccountCreateMinimal},
		{"Account/IDsDiffer", testAccountIDsDiffer},
		{"Account/GetRoundTrip", testAccountGetRoundTrip},
		{"Account/GetUnknown", testAccountGetUnknown},
		{"Account/FindByUsernameCaseInsensitive", testAccountFindByUsername},
		{"Account/FindByEmailCaseInsensitive", testAccountFindByEmail},
		{"Account/FindUnknown", testAccountFindUnknown},
		{"Account/StatusExplicit", testAccountStatusExplicit},
		{"Account/CreateInvalid", testAccountCreateInvalid},
		{"Account/UsernameMaxLengthCountsCodePoints", testAccountUsernameMaxLength},
		{"Account/UnicodeRoundTrip", testAccountUnicodeRoundTrip},
		{"Account/UsernameStoredNFC", testAccountUsernameNFC},
		{"Account/CreateConflictNFCvsNFD", testAccountConflictNFD},
		{"Account/CreateConflictCaseFolded", testAccountConflictCaseFolded},
		{"Account/CreateConflictUsernameCaseInsensitive", testAccountConflictUsername},
		{"Account/CreateConflictEmailCaseInsensitive", testAccountConflictEmail},
		{"Account/CreateConflictUsernameIsOtherEmail", testAccountConflictUsernameIsEmail},
		{"Account/CreateConflictEmailIsOtherUsername", testAccountConflictEmailIsUsername},
		{"Account/UsernameEqualsOwnEmail", testAccountUsernameIsOwnEmail},
		{"Account/ConflictCreatesNothing", testAccountConflictCreatesNothing},
		{"Account/PasswordLengthCountsCodePoints", testAccountPasswordCodePoints},
		{"Account/PasswordMaxLengthAccepted", testAccountPasswordMaxLength},
		{"Account/ReturnedValuesAreCopies", testAccountReturnedCopies},
	}
}

func testAccountCreate(t *testing.T, p identity.Provider) {
	in := identity.AccountCreate{
		Username:  "alice",
		Password:  Password,
		Email:     "alice@example.com",
		GivenName: "Alice",
		Surname:   "Liddell",
	}
	a, err := p.CreateAccount(t.Context(), in)
	noErr(t, err, "CreateAccount")
	requireID(t, "account", a.ID)
	if a.Username != in.Username || a.Email != in.Email || a.GivenName != in.GivenName || a.Surname != in.Surname {
		t.Fatalf("created account %+v does not carry the input %+v", *a, in)
	}
	if a.Status != identity.StatusEnabled {
		t.Fatalf("Status = %q, want default %q", a.Status, identity.StatusEnabled)
	}
	requireTime(t, "CreatedAt", a.CreatedAt)
	requireTime(t, "ModifiedAt", a.ModifiedAt)
	requireTime(t, "PasswordModifiedAt", a.PasswordModifiedAt)
	if !a.CreatedAt.Equal(a.ModifiedAt) {
		t.Fatalf("CreatedAt %v != ModifiedAt %v at creation", a.CreatedAt, a.ModifiedAt)
	}
	if a.PasswordModifiedAt.Before(a.CreatedAt) {
		t.Fatalf("PasswordModifiedAt %v is before CreatedAt %v", a.PasswordModifiedAt, a.CreatedAt)
	}
	if d := time.Since(a.CreatedAt); d < -time.Minute || d > time.Hour {
		t.Fatalf("CreatedAt %v is not near now (%v ago)", a.CreatedAt, d)
	}
}

func testAccountCreateMinimal(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "bob")
	got := MustGetAccount(t, p, a.ID)
	if got.Email != "" || got.GivenName != "" || got.Surname != "" {
		t.Fatalf("optional fields not empty: %+v", *got)
	}
	if got.Status != identity.StatusEnabled {
		t.Fatalf("Status = %q, want %q", got.Status, identity.StatusEnabled)
	}
}

func testAccountIDsDiffer(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "first")
	b := MustCreateAccount(t, p, "second")
	requireID(t, "first account", a.ID)
	requireID(t, "second account", b.ID)
	if a.ID == b.ID {
		t.Fatalf("two accounts share id %q", a.ID)
	}
}

func testAccountGetRoundTrip(t *testing.T, p identity.Provider) {
	a := MustCreate(t, p, identity.AccountCreate{
		Username: "carol", Password: Password, Email: "carol@example.com",
		GivenName: "Carol", Surname: "Danvers", Status: identity.StatusDisabled,
	})
	requireSameAccount(t, MustGetAccount(t, p, a.ID), a)
	byName, err := p.FindAccount(t.Context(), "carol")
	noErr(t, err, "FindAccount(username)")
	requireSameAccount(t, byName, a)
	byEmail, err := p.FindAccount(t.Context(), "carol@example.com")
	noErr(t, err, "FindAccount(email)")
	requireSameAccount(t, byEmail, a)
}

func testAccountGetUnknown(t *testing.T, p identity.Provider) {
	MustCreateAccount(t, p, "dave")
	for _, id := range []string{"nonexistent", "", "0123456789abcdefABCDEF"} {
		_, err := p.Account(t.Context(), id)
		RequireNotFound(t, err)
	}
}

func testAccountFindByUsername(t *testing.T, p identity.Provider) {
	a := MustCreate(t, p, identity.AccountCreate{Username: "Alice", Password: Password, Email: "alice@example.com"})
	if a.Username != "Alice" {
		t.Fatalf("Username = %q, want the case kept: %q", a.Username, "Alice")
	}
	for _, login := range []string{"Alice", "ALICE", "alice", "aLiCe"} {
		got, err := p.FindAccount(t.Context(), login)
		noErr(t, err, "FindAccount("+login+")")
		requireSameAccount(t, got, a)
	}
}

func testAccountFindByEmail(t *testing.T, p identity.Provider) {
	a := MustCreate(t, p, identity.AccountCreate{Username: "Alice", Password: Password, Email: "Alice@Example.com"})
	if a.Email != "Alice@Example.com" {
		t.Fatalf("Email = %q, want the case kept: %q", a.Email, "Alice@Example.com")
	}
	for _, login := range []string{"Alice@Example.com", "ALICE@EXAMPLE.COM", "alice@example.com"} {
		got, err := p.FindAccount(t.Context(), login)
		noErr(t, err, "FindAccount("+login+")")
		requireSameAccount(t, got, a)
	}
}

func testAccountFindUnknown(t *testing.T, p identity.Provider) {
	MustCreate(t, p, identity.AccountCreate{Username: "erin", Password: Password, Email: "erin@example.com"})
	for _, login := range []string{"nobody", "", "erin@example.org", "eri", "erin ", "\xff"} {
		_, err := p.FindAccount(t.Context(), login)
		RequireNotFound(t, err)
	}
}

func testAccountStatusExplicit(t *testing.T, p identity.Provider) {
	for _, st := range []identity.Status{identity.StatusEnabled, identity.StatusDisabled, identity.StatusUnverified} {
		a := MustCreate(t, p, identity.AccountCreate{Username: "user-" + string(st), Password: Password, Status: st})
		if a.Status != st {
			t.Fatalf("created Status = %q, want %q", a.Status, st)
		}
		if got := MustGetAccount(t, p, a.ID); got.Status != st {
			t.Fatalf("read back Status = %q, want %q", got.Status, st)
		}
	}
}

func testAccountCreateInvalid(t *testing.T, p identity.Provider) {
	valid := func(f func(*identity.AccountCreate)) identity.AccountCreate {
		in := identity.AccountCreate{Username: "valid", Password: Password, Email: "valid@example.com"}
		f(&in)
		return in
	}
	cases := []struct {
		name   string
		in     identity.AccountCreate
		fields []string // acceptable fields, first is preferred
	}{
		{"UsernameEmpty", valid(func(in *identity.AccountCreate) { in.Username = "" }), []string{"username"}},
		{"UsernameTooLong", valid(func(in *identity.AccountCreate) { in.Username = repeat("a", 256) }), []string{"username"}},
		{"UsernameTooLongMultibyte", valid(func(in *identity.AccountCreate) { in.Username = repeat("é", 256) }), []string{"username"}},
		{"UsernameColon", valid(func(in *identity.AccountCreate) { in.Username = "ali:ce" }), []string{"username"}},
		{"UsernameNUL", valid(func(in *identity.AccountCreate) { in.Username = "ali\x00ce" }), []string{"username"}},
		{"UsernameNewline", valid(func(in *identity.AccountCreate) { in.Username = "ali\nce" }), []string{"username"}},
		{"UsernameDEL", valid(func(in *identity.AccountCreate) { in.Username = "ali\x7fce" }), []string{"username"}},
		{"UsernameInvalidUTF8", valid(func(in *identity.AccountCreate) { in.Username = "ali\xffce" }), []string{"username"}},
		{"UsernameAPIKeyPrefix", valid(func(in *identity.AccountCreate) { in.Username = "gk_alice" }), []string{"username"}},
		{"UsernameAPIKeyPrefixUpper", valid(func(in *identity.AccountCreate) { in.Username = "GK_alice" }), []string{"username"}},
		{"UsernameLooksLikeJWT", valid(func(in *identity.AccountCreate) { in.Username = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln" }), []string{"username"}},
		{"UsernameLeadingSpace", valid(func(in *identity.AccountCreate) { in.Username = " alice" }), []string{"username"}},
		{"UsernameTrailingSpace", valid(func(in *identity.AccountCreate) { in.Username = "alice " }), []string{"username"}},
		{"EmailInvalid", valid(func(in *identity.AccountCreate) { in.Email = "not-an-email" }), []string{"email"}},
		{"EmailNoDomain", valid(func(in *identity.AccountCreate) { in.Email = "alice@" }), []string{"email"}},
		{"EmailWithDisplayName", valid(func(in *identity.AccountCreate) { in.Email = "Alice <alice@example.com>" }), []string{"email"}},
		{"EmailControlChar", valid(func(in *identity.AccountCreate) { in.Email = "ali\x01ce@example.com" }), []string{"email"}},
		{"PasswordMissing", valid(func(in *identity.AccountCreate) { in.Password = "" }), []string{"password"}},
		{"PasswordTooShort", valid(func(in *identity.AccountCreate) { in.Password = "abcdefghijk" }), []string{"password"}},
		{"PasswordTooShortEmoji", valid(func(in *identity.AccountCreate) { in.Password = repeat("😀", 11) }), []string{"password"}},
		{"PasswordTooLong", valid(func(in *identity.AccountCreate) { in.Password = repeat("p", 129) }), []string{"password"}},
		{"PasswordControlChar", valid(func(in *identity.AccountCreate) { in.Password = "correct horse\x00battery" }), []string{"password"}},
		{"PasswordInvalidUTF8", valid(func(in *identity.AccountCreate) { in.Password = "correct horse\xffbattery" }), []string{"password"}},
		{"PasswordEqualsUsername", valid(func(in *identity.AccountCreate) {
			in.Username, in.Password = "CorrectHorse42", "correcthorse42"
		}), []string{"password"}},
		{"PasswordEqualsEmail", valid(func(in *identity.AccountCreate) {
			in.Email, in.Password = "horse.battery@example.com", "Horse.Battery@Example.com"
		}), []string{"password"}},
		{"PasswordAndHash", valid(func(in *identity.AccountCreate) {
			in.PasswordHash = "$2a$04$abcdefghijklmnopqrstuuOtfqQ9Ao3i0Q4bTG0pMnTq8DT6SC7Oy"
		}), []string{"password", "password_hash"}},
		{"PasswordHashInvalid", valid(func(in *identity.AccountCreate) { in.Password, in.PasswordHash = "", "not-a-hash" }), []string{"password_hash"}},
		{"PasswordHashUnsupported", valid(func(in *identity.AccountCreate) {
			in.Password, in.PasswordHash = "", "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E"
		}), []string{"password_hash"}},
		{"StatusInvalid", valid(func(in *identity.AccountCreate) { in.Status = "ACTIVE" }), []string{"status"}},
		{"StatusLowercase", valid(func(in *identity.AccountCreate) { in.Status = "enabled" }), []string{"status"}},
		{"GivenNameTooLong", valid(func(in *identity.AccountCreate) { in.GivenName = repeat("g", 256) }), []string{"given_name"}},
		{"GivenNameControlChar", valid(func(in *identity.AccountCreate) { in.GivenName = "Al\x1bice" }), []string{"given_name"}},
		{"SurnameTooLong", valid(func(in *identity.AccountCreate) { in.Surname = repeat("s", 256) }), []string{"surname"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := p.CreateAccount(t.Context(), c.in)
			if err == nil {
				t.Fatalf("CreateAccount accepted %+v as %+v", c.in, *a)
			}
			RequireCode(t, err, identity.CodeInvalidInput)
			field := identity.ErrorField(err)
			for _, f := range c.fields {
				if f == field {
					return
				}
			}
			t.Fatalf("error %q names field %q, want %q", err, field, c.fields[0])
		})
	}
	l, err := p.ListAccounts(t.Context(), identity.AccountFilter{})
	noErr(t, err, "ListAccounts")
	if l.Total != 0 {
		t.Fatalf("invalid creates left %d accounts: %v", l.Total, accountIDs(l.Items))
	}
}

func testAccountUsernameMaxLength(t *testing.T, p identity.Provider) {
	// 255 code points of two bytes each: the limit counts characters.
	name := repeat("ü", 255)
	a := MustCreateAccount(t, p, name)
	if a.Username != name {
		t.Fatalf("Username not kept: got %d bytes, want %d", len(a.Username), len(name))
	}
	got, err := p.FindAccount(t.Context(), repeat("Ü", 255))
	noErr(t, err, "FindAccount(upper case)")
	if got.ID != a.ID {
		t.Fatalf("FindAccount found %q, want %q", got.ID, a.ID)
	}
}

func testAccountUnicodeRoundTrip(t *testing.T, p identity.Provider) {
	for _, c := range []struct{ name, upper, email string }{
		{"Ærøskøbing", "ÆRØSKØBING", "ærø@exämple.dk"},
		{"ñandú", "ÑANDÚ", "ñandú@example.com"},
		{"Δημήτρης", "ΔΗΜΉΤΡΗΣ", ""},
		{"東京太郎", "東京太郎", ""},
	} {
		a := MustCreate(t, p, identity.AccountCreate{Username: c.name, Password: Password, Email: c.email, GivenName: c.name})
		if a.Username != c.name || a.GivenName != c.name || a.Email != c.email {
			t.Fatalf("created %+v, want username/given name %q, email %q", *a, c.name, c.email)
		}
		requireSameAccount(t, MustGetAccount(t, p, a.ID), a)
		for _, login := range []string{c.name, c.upper} {
			got, err := p.FindAccount(t.Context(), login)
			noErr(t, err, "FindAccount("+login+")")
			requireSameAccount(t, got, a)
		}
		if c.email != "" {
			got, err := p.FindAccount(t.Context(), c.email)
			noErr(t, err, "FindAccount("+c.email+")")
			requireSameAccount(t, got, a)
		}
	}
}

const (
	zoeNFC = "Zo\u00eb"  // ë precomposed
	zoeNFD = "Zoe\u0308" // e + combining diaeresis
)

func testAccountUsernameNFC(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, zoeNFD)
	if a.Username != zoeNFC {
		t.Fatalf("Username = %+q, want its NFC form %+q", a.Username, zoeNFC)
	}
	for _, login := range []string{zoeNFC, zoeNFD, "ZOË", "zoe\u0308"} {
		got, err := p.FindAccount(t.Context(), login)
		noErr(t, err, "FindAccount("+login+")")
		if got.ID != a.ID {
			t.Fatalf("FindAccount(%+q) = %q, want %q", login, got.ID, a.ID)
		}
	}
}

func testAccountConflictNFD(t *testing.T, p identity.Provider) {
	MustCreateAccount(t, p, zoeNFC)
	_, err := p.CreateAccount(t.Context(), identity.AccountCreate{Username: zoeNFD, Password: Password})
	RequireField(t, err, identity.CodeConflict, "username")
}

func testAccountConflictCaseFolded(t *testing.T, p identity.Provider) {
	MustCreateAccount(t, p, "ÄLICE")
	for _, name := range []string{"älice", "a\u0308lice", "Älice"} {
		_, err := p.CreateAccount(t.Context(), identity.AccountCreate{Username: name, Password: Password})
		RequireField(t, err, identity.CodeConflict, "username")
	}
	// "Straße" and "STRASSE" fold to the same key under full case folding.
	MustCreateAccount(t, p, "Straße")
	_, err := p.CreateAccount(t.Context(), identity.AccountCreate{Username: "STRASSE", Password: Password})
	RequireField(t, err, identity.CodeConflict, "username")
}

func testAccountConflictUsername(t *testing.T, p identity.Provider) {
	MustCreateAccount(t, p, "alice")
	for _, name := range []string{"alice", "ALICE", "Alice"} {
		_, err := p.CreateAccount(t.Context(), identity.AccountCreate{Username: name, Password: Password})
		RequireField(t, err, identity.CodeConflict, "username")
	}
}

func testAccountConflictEmail(t *testing.T, p identity.Provider) {
	MustCreate(t, p, identity.AccountCreate{Username: "alice", Password: Password, Email: "shared@example.com"})
	for _, email := range []string{"shared@example.com", "SHARED@EXAMPLE.COM"} {
		_, err := p.CreateAccount(t.Context(), identity.AccountCreate{Username: "bob", Password: Password, Email: email})
		RequireField(t, err, identity.CodeConflict, "email")
	}
}

func testAccountConflictUsernameIsEmail(t *testing.T, p identity.Provider) {
	MustCreate(t, p, identity.AccountCreate{Username: "bob", Password: Password, Email: "bob@example.com"})
	_, err := p.CreateAccount(t.Context(), identity.AccountCreate{Username: "BOB@example.com", Password: Password})
	RequireField(t, err, identity.CodeConflict, "username")
}

func testAccountConflictEmailIsUsername(t *testing.T, p identity.Provider) {
	MustCreateAccount(t, p, "carol@example.com")
	_, err := p.CreateAccount(t.Context(), identity.AccountCreate{Username: "carol", Password: Password, Email: "Carol@Example.com"})
	RequireField(t, err, identity.CodeConflict, "email")
}

func testAccountUsernameIsOwnEmail(t *testing.T, p identity.Provider) {
	a := MustCreate(t, p, identity.AccountCreate{Username: "dave@example.com", Password: Password, Email: "Dave@Example.com"})
	got, err := p.FindAccount(t.Context(), "DAVE@EXAMPLE.COM")
	noErr(t, err, "FindAccount")
	requireSameAccount(t, got, a)
	if _, err := p.Authenticate(t.Context(), "dave@example.com", Password); err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	_, err = p.CreateAccount(t.Context(), identity.AccountCreate{Username: "other", Password: Password, Email: "dave@example.com"})
	RequireField(t, err, identity.CodeConflict, "email")
	_, err = p.CreateAccount(t.Context(), identity.AccountCreate{Username: "dave@example.com", Password: Password})
	RequireField(t, err, identity.CodeConflict, "username")
}

func testAccountConflictCreatesNothing(t *testing.T, p identity.Provider) {
	a := MustCreate(t, p, identity.AccountCreate{Username: "alice", Password: Password, Email: "alice@example.com"})
	// The username is free but the email is taken: nothing may be created,
	// not even a half account owning the username.
	_, err := p.CreateAccount(t.Context(), identity.AccountCreate{Username: "bob", Password: Password, Email: "ALICE@example.com"})
	RequireField(t, err, identity.CodeConflict, "email")
	l, err := p.ListAccounts(t.Context(), identity.AccountFilter{})
	noErr(t, err, "ListAccounts")
	if l.Total != 1 || len(l.Items) != 1 || l.Items[0].ID != a.ID {
		t.Fatalf("after a conflict the accounts are %v (total %d), want only %s", accountIDs(l.Items), l.Total, a.ID)
	}
	_, err = p.FindAccount(t.Context(), "bob")
	RequireNotFound(t, err)
	MustCreateAccount(t, p, "bob")
}

func testAccountPasswordCodePoints(t *testing.T, p identity.Provider) {
	for i, pw := range []string{
		repeat("😀", 12), // 48 bytes, 12 code points
		"密码密码密码密码密码密码",  // 36 bytes, 12 code points
		"Ærøskøbing42",  // 15 bytes, 12 code points
	} {
		name := "codepoints" + string(rune('a'+i))
		MustCreate(t, p, identity.AccountCreate{Username: name, Password: pw})
		if _, err := p.Authenticate(t.Context(), name, pw); err != nil {
			t.Fatalf("Authenticate with %q: %v", pw, err)
		}
	}
}

func testAccountPasswordMaxLength(t *testing.T, p identity.Provider) {
	pw := repeat("é", 128) // 256 bytes, 128 code points
	MustCreate(t, p, identity.AccountCreate{Username: "longpass", Password: pw})
	if _, err := p.Authenticate(t.Context(), "longpass", pw); err != nil {
		t.Fatalf("Authenticate with a 128-character password: %v", err)
	}
}

func testAccountReturnedCopies(t *testing.T, p identity.Provider) {
	a := MustCreate(t, p, identity.AccountCreate{Username: "alice", Password: Password, GivenName: "Alice"})
	want := *a
	a.Username, a.GivenName, a.Status = "mallory", "Mallory", identity.StatusDisabled
	got := MustGetAccount(t, p, want.ID)
	requireSameAccount(t, got, &want)
	got.GivenName = "Changed"
	l, err := p.ListAccounts(t.Context(), identity.AccountFilter{})
	noErr(t, err, "ListAccounts")
	l.Items[0].Surname = "Changed"
	requireSameAccount(t, MustGetAccount(t, p, want.ID), &want)
}

func testCreateWithCustomData(t *testing.T, p identity.Provider) {
	data, err := identity.DecodeCustomData([]byte(`{"plan":{"tier":"pro","seats":5},"tags":["a","b"]}`))
	noErr(t, err, "decode")
	a := MustCreate(t, p, identity.AccountCreate{Username: "withdata", Password: Password, CustomData: data})
	got, err := p.CustomData(t.Context(), a.ID)
	noErr(t, err, "CustomData")
	if g, w := mustJSON(t, got), mustJSON(t, data); g != w {
		t.Errorf("custom data = %s, want %s", g, w)
	}
}

// testCreateWithBadCustomData: custom data that breaks a rule fails the
// whole creation; no account is left behind.
func testCreateWithBadCustomData(t *testing.T, p identity.Provider) {
	for _, tc := range []struct {
		name     string
		data     identity.CustomData
		sentinel error
	}{
		{"reserved", identity.CustomData{"meta": 1}, identity.ErrInvalidInput},
		{"too large", identity.CustomData{"blob": strings.Repeat("x", 70_000)}, identity.ErrLimitExceeded},
	} {
		_, err := p.CreateAccount(t.Context(), identity.AccountCreate{Username: "baddata", Password: Password, CustomData: tc.data})
		if !errors.Is(err, tc.sentinel) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.sentinel)
		}
		if _, err := p.FindAccount(t.Context(), "baddata"); !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("%s: an account was left behind: %v", tc.name, err)
		}
	}
}
