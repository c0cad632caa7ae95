package identitytest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
)

func listTests() []test {
	return []test{
		{"List/Empty", testListEmpty},
		{"List/CreationOrder", testListCreationOrder},
		{"List/DefaultLimit", testListDefaultLimit},
		{"List/Paging", testListPaging},
		{"List/MaxLimit", testListMaxLimit},
		{"List/OffsetPastEnd", testListOffsetPastEnd},
		{"List/InvalidPaging", testListInvalidPaging},
		{"List/FilterUsername", testListFilterUsername},
		{"List/FilterEmail", testListFilterEmail},
		{"List/FilterStatus", testListFilterStatus},
		{"List/FilterQuery", testListFilterQuery},
		{"List/FilterPagingTotal", testListFilterPagingTotal},
	}
}

func updateTests() []test {
	return []test{
		{"Update/Fields", testUpdateFields},
		{"Update/NothingToChange", testUpdateNothing},
		{"Update/Username", testUpdateUsername},
		{"Update/UsernameCaseOnly", testUpdateUsernameCase},
		{"Update/Email", testUpdateEmail},
		{"Update/EmptyEmailRemoves", testUpdateEmptyEmail},
		{"Update/ConflictUsernameChangesNothing", testUpdateConflictUsername},
		{"Update/ConflictEmailChangesNothing", testUpdateConflictEmail},
		{"Update/ConflictUsernameIsOtherEmail", testUpdateConflictUsernameIsEmail},
		{"Update/Password", testUpdatePassword},
		{"Update/PasswordPolicy", testUpdatePasswordPolicy},
		{"Update/InvalidChangesNothing", testUpdateInvalid},
		{"Update/Unknown", testUpdateUnknown},
	}
}

func deleteTests() []test {
	return []test{
		{"Delete/AccountGone", testDeleteGone},
		{"Delete/Twice", testDeleteTwice},
		{"Delete/Unknown", testDeleteUnknown},
		{"Delete/OthersUnaffected", testDeleteOthersUnaffected},
		{"Delete/LoginsReusable", testDeleteLoginsReusable},
		{"Delete/APIKeysGone", testDeleteAPIKeysGone},
		{"Delete/MembershipsGone", testDeleteMembershipsGone},
		{"Delete/CustomDataGone", testDeleteCustomDataGone},
	}
}

// createN creates n accounts named prefix0, prefix1, … and returns their ids
// in creation order.
func createN(t *testing.T, p identity.Provider, prefix string, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range n {
		out[i] = MustCreateAccount(t, p, fmt.Sprintf("%s%02d", prefix, i)).ID
	}
	return out
}

func list(t *testing.T, p identity.Provider, f identity.AccountFilter) *identity.List[*identity.Account] {
	t.Helper()
	l, err := p.ListAccounts(t.Context(), f)
	if err != nil {
		t.Fatalf("ListAccounts(%+v): %v", f, err)
	}
	if l == nil {
		t.Fatalf("ListAccounts(%+v) returned nil", f)
	}
	return l
}

func requireIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !equalStrings(got, want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func testListEmpty(t *testing.T, p identity.Provider) {
	l := list(t, p, identity.AccountFilter{})
	if l.Total != 0 || len(l.Items) != 0 {
		t.Fatalf("empty provider lists %d items, total %d", len(l.Items), l.Total)
	}
}

func testListCreationOrder(t *testing.T, p identity.Provider) {
	// Names sort differently from creation order, so a backend ordering by
	// username or id would be caught.
	var want []string
	for _, name := range []string{"mike", "alpha", "zulu", "Bravo", "echo"} {
		want = append(want, MustCreateAccount(t, p, name).ID)
	}
	l := list(t, p, identity.AccountFilter{})
	requireIDs(t, "listed ids", accountIDs(l.Items), want)
	if l.Total != 5 {
		t.Fatalf("Total = %d, want 5", l.Total)
	}
	for i, a := range l.Items {
		requireSameAccount(t, a, MustGetAccount(t, p, want[i]))
	}
}

func testListDefaultLimit(t *testing.T, p identity.Provider) {
	ids := createN(t, p, "user", 30)
	l := list(t, p, identity.AccountFilter{})
	if l.Total != 30 || l.Limit != identity.DefaultLimit || l.Offset != 0 {
		t.Fatalf("Total %d, Limit %d, Offset %d; want 30, %d, 0", l.Total, l.Limit, l.Offset, identity.DefaultLimit)
	}
	requireIDs(t, "first page", accountIDs(l.Items), ids[:identity.DefaultLimit])
}

func testListPaging(t *testing.T, p identity.Provider) {
	ids := createN(t, p, "user", 7)
	var got []string
	for _, c := range []struct{ offset, n int }{{0, 3}, {3, 3}, {6, 1}} {
		l := list(t, p, identity.AccountFilter{Page: identity.Page{Offset: c.offset, Limit: 3}})
		if l.Total != 7 || l.Offset != c.offset || l.Limit != 3 || len(l.Items) != c.n {
			t.Fatalf("page at %d: %d items, Total %d, Offset %d, Limit %d; want %d, 7, %d, 3",
				c.offset, len(l.Items), l.Total, l.Offset, l.Limit, c.n, c.offset)
		}
		got = append(got, accountIDs(l.Items)...)
	}
	requireIDs(t, "pages together", got, ids)
	l := list(t, p, identity.AccountFilter{Page: identity.Page{Offset: 2, Limit: 4}})
	requireIDs(t, "page 2..5", accountIDs(l.Items), ids[2:6])
}

func testListMaxLimit(t *testing.T, p identity.Provider) {
	ids := createN(t, p, "user", 3)
	l := list(t, p, identity.AccountFilter{Page: identity.Page{Limit: identity.MaxLimit}})
	requireIDs(t, "listed ids", accountIDs(l.Items), ids)
	if l.Limit != identity.MaxLimit {
		t.Fatalf("Limit = %d, want %d", l.Limit, identity.MaxLimit)
	}
}

func testListOffsetPastEnd(t *testing.T, p identity.Provider) {
	createN(t, p, "user", 4)
	for _, off := range []int{4, 5, 1000} {
		l := list(t, p, identity.AccountFilter{Page: identity.Page{Offset: off, Limit: 10}})
		if len(l.Items) != 0 || l.Total != 4 {
			t.Fatalf("offset %d: %d items, Total %d; want 0 items, Total 4", off, len(l.Items), l.Total)
		}
	}
}

func testListInvalidPaging(t *testing.T, p identity.Provider) {
	createN(t, p, "user", 2)
	for _, pg := range []identity.Page{
		{Limit: identity.MaxLimit + 1},
		{Limit: -1},
		{Offset: -1},
		{Offset: -1, Limit: 10},
	} {
		_, err := p.ListAccounts(t.Context(), identity.AccountFilter{Page: pg})
		if err == nil {
			t.Fatalf("ListAccounts accepted page %+v", pg)
		}
		RequireCode(t, err, identity.CodeInvalidInput)
	}
	_, err := p.ListAccounts(t.Context(), identity.AccountFilter{Status: "ACTIVE"})
	RequireCode(t, err, identity.CodeInvalidInput)
}

// seedFilterAccounts creates accounts for the filter tests.
func seedFilterAccounts(t *testing.T, p identity.Provider) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, in := range []identity.AccountCreate{
		{Username: "alice", Email: "alice@example.com", GivenName: "Alice", Surname: "Smith"},
		{Username: "malice", Email: "m@evil.example", GivenName: "Mal", Surname: "Ice", Status: identity.StatusDisabled},
		{Username: "bob", Email: "bob@example.org", GivenName: "Robert", Surname: "Alison", Status: identity.StatusUnverified},
		{Username: "carol", GivenName: "Carol", Surname: "Smithers"},
		{Username: "dave", Email: "dave@example.com", Status: identity.StatusDisabled},
	} {
		in.Password = Password
		out[in.Username] = MustCreate(t, p, in).ID
	}
	return out
}

func requireFilter(t *testing.T, p identity.Provider, f identity.AccountFilter, ids map[string]string, want ...string) {
	t.Helper()
	var wantIDs []string
	for _, name := range want {
		wantIDs = append(wantIDs, ids[name])
	}
	l := list(t, p, f)
	if wantIDs == nil {
		wantIDs = []string{}
	}
	got := accountIDs(l.Items)
	if !equalStrings(got, wantIDs) || l.Total != len(want) {
		names := map[string]string{}
		for n, id := range ids {
			names[id] = n
		}
		var gotNames []string
		for _, id := range got {
			gotNames = append(gotNames, names[id])
		}
		t.Fatalf("ListAccounts(%+v) = %v (Total %d), want %v", f, gotNames, l.Total, want)
	}
}

func testListFilterUsername(t *testing.T, p identity.Provider) {
	ids := seedFilterAccounts(t, p)
	requireFilter(t, p, identity.AccountFilter{Username: "alice"}, ids, "alice")
	requireFilter(t, p, identity.AccountFilter{Username: "ALICE"}, ids, "alice")
	requireFilter(t, p, identity.AccountFilter{Username: "ali"}, ids)               // exact, not a substring
	requireFilter(t, p, identity.AccountFilter{Username: "alice@example.com"}, ids) // a username filter does not match emails
	requireFilter(t, p, identity.AccountFilter{Username: "nobody"}, ids)
}

func testListFilterEmail(t *testing.T, p identity.Provider) {
	ids := seedFilterAccounts(t, p)
	requireFilter(t, p, identity.AccountFilter{Email: "bob@example.org"}, ids, "bob")
	requireFilter(t, p, identity.AccountFilter{Email: "BOB@EXAMPLE.ORG"}, ids, "bob")
	requireFilter(t, p, identity.AccountFilter{Email: "example.org"}, ids)
	requireFilter(t, p, identity.AccountFilter{Email: "bob"}, ids)
}

func testListFilterStatus(t *testing.T, p identity.Provider) {
	ids := seedFilterAccounts(t, p)
	requireFilter(t, p, identity.AccountFilter{Status: identity.StatusEnabled}, ids, "alice", "carol")
	requireFilter(t, p, identity.AccountFilter{Status: identity.StatusDisabled}, ids, "malice", "dave")
	requireFilter(t, p, identity.AccountFilter{Status: identity.StatusUnverified}, ids, "bob")
	requireFilter(t, p, identity.AccountFilter{Status: identity.StatusDisabled, Username: "dave"}, ids, "dave")
	requireFilter(t, p, identity.AccountFilter{Status: identity.StatusEnabled, Username: "dave"}, ids)
}

func testListFilterQuery(t *testing.T, p identity.Provider) {
	ids := seedFilterAccounts(t, p)
	// "ali" is in alice's and malice's usernames and bob's surname (Alison).
	requireFilter(t, p, identity.AccountFilter{Query: "ali"}, ids, "alice", "malice", "bob")
	requireFilter(t, p, identity.AccountFilter{Query: "ALI"}, ids, "alice", "malice", "bob")
	requireFilter(t, p, identity.AccountFilter{Query: "smith"}, ids, "alice", "carol")      // surnames
	requireFilter(t, p, identity.AccountFilter{Query: "robert"}, ids, "bob")                // given name
	requireFilter(t, p, identity.AccountFilter{Query: "evil.example"}, ids, "malice")       // email
	requireFilter(t, p, identity.AccountFilter{Query: "example.com"}, ids, "alice", "dave") // email domain
	requireFilter(t, p, identity.AccountFilter{Query: "zzz"}, ids)
	requireFilter(t, p, identity.AccountFilter{Query: "ali", Status: identity.StatusEnabled}, ids, "alice")
}

func testListFilterPagingTotal(t *testing.T, p identity.Provider) {
	var want []string
	for i := range 6 {
		want = append(want, MustCreateAccount(t, p, fmt.Sprintf("match%d", i)).ID)
		MustCreateAccount(t, p, fmt.Sprintf("other%d", i))
	}
	l := list(t, p, identity.AccountFilter{Query: "match", Page: identity.Page{Offset: 2, Limit: 3}})
	if l.Total != 6 {
		t.Fatalf("Total = %d, want 6 (the filtered count)", l.Total)
	}
	requireIDs(t, "filtered page", accountIDs(l.Items), want[2:5])
}

// --- Update ---

func update(t *testing.T, p identity.Provider, id string, u identity.AccountUpdate) *identity.Account {
	t.Helper()
	a, err := p.UpdateAccount(t.Context(), id, u)
	if err != nil {
		t.Fatalf("UpdateAccount(%s): %v", id, err)
	}
	requireSameAccount(t, MustGetAccount(t, p, id), a)
	return a
}

func testUpdateFields(t *testing.T, p identity.Provider) {
	a := MustCreate(t, p, identity.AccountCreate{Username: "alice", Password: Password, Email: "alice@example.com", GivenName: "Alice", Surname: "Smith"})
	time.Sleep(5 * time.Millisecond)
	got := update(t, p, a.ID, identity.AccountUpdate{GivenName: ptr("Alicia"), Surname: ptr("")})
	if got.GivenName != "Alicia" || got.Surname != "" || got.Username != "alice" || got.Email != "alice@example.com" || got.Status != identity.StatusEnabled {
		t.Fatalf("after updating names: %+v", *got)
	}
	if !got.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("CreatedAt changed from %v to %v", a.CreatedAt, got.CreatedAt)
	}
	if got.ModifiedAt.Before(a.ModifiedAt) {
		t.Fatalf("ModifiedAt went back from %v to %v", a.ModifiedAt, got.ModifiedAt)
	}
	requireTime(t, "ModifiedAt", got.ModifiedAt)
	if !got.PasswordModifiedAt.Equal(a.PasswordModifiedAt) {
		t.Fatalf("PasswordModifiedAt changed from %v to %v without a password change", a.PasswordModifiedAt, got.PasswordModifiedAt)
	}
	got = update(t, p, a.ID, identity.AccountUpdate{Status: ptr(identity.StatusDisabled)})
	if got.Status != identity.StatusDisabled || got.GivenName != "Alicia" {
		t.Fatalf("after disabling: %+v", *got)
	}
	got = update(t, p, a.ID, identity.AccountUpdate{Status: ptr(identity.StatusUnverified), Surname: ptr("Jones")})
	if got.Status != identity.StatusUnverified || got.Surname != "Jones" {
		t.Fatalf("after marking unverified: %+v", *got)
	}
}

func testUpdateNothing(t *testing.T, p identity.Provider) {
	a := MustCreate(t, p, identity.AccountCreate{Username: "alice", Password: Password, Email: "alice@example.com", GivenName: "Alice"})
	got := update(t, p, a.ID, identity.AccountUpdate{})
	if got.Username != a.Username || got.Email != a.Email || got.GivenName != a.GivenName || got.Status != a.Status ||
		!got.CreatedAt.Equal(a.CreatedAt) || !got.PasswordModifiedAt.Equal(a.PasswordModifiedAt) {
		t.Fatalf("an empty update changed %+v into %+v", *a, *got)
	}
	if _, err := p.Authenticate(t.Context(), "alice", Password); err != nil {
		t.Fatalf("Authenticate after an empty update: %v", err)
	}
}

func testUpdateUsername(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	got := update(t, p, a.ID, identity.AccountUpdate{Username: ptr("alicia")})
	if got.Username != "alicia" {
		t.Fatalf("Username = %q, want %q", got.Username, "alicia")
	}
	_, err := p.FindAccount(t.Context(), "alice")
	RequireNotFound(t, err)
	found, err := p.FindAccount(t.Context(), "ALICIA")
	noErr(t, err, "FindAccount(new username)")
	if found.ID != a.ID {
		t.Fatalf("FindAccount(new username) = %s, want %s", found.ID, a.ID)
	}
	if _, err := p.Authenticate(t.Context(), "alice", Password); err == nil {
		t.Fatal("the old username still authenticates")
	}
	if _, err := p.Authenticate(t.Context(), "alicia", Password); err != nil {
		t.Fatalf("the new username does not authenticate: %v", err)
	}
	b := MustCreateAccount(t, p, "Alice") // the old name is free again
	found, err = p.FindAccount(t.Context(), "alice")
	noErr(t, err, "FindAccount(old username)")
	if found.ID != b.ID {
		t.Fatalf("FindAccount(old username) = %s, want the new owner %s", found.ID, b.ID)
	}
}

func testUpdateUsernameCase(t *testing.T, p identity.Provider) {
	a := MustCreate(t, p, identity.AccountCreate{Username: "alice", Password: Password, Email: "alice@example.com"})
	got := update(t, p, a.ID, identity.AccountUpdate{Username: ptr("Alice"), Email: ptr("ALICE@example.com")})
	if got.Username != "Alice" || got.Email != "ALICE@example.com" {
		t.Fatalf("after a case-only change: %+v", *got)
	}
	found, err := p.FindAccount(t.Context(), "alice")
	noErr(t, err, "FindAccount")
	if found.ID != a.ID {
		t.Fatalf("FindAccount = %s, want %s", found.ID, a.ID)
	}
}

func testUpdateEmail(t *testing.T, p identity.Provider) {
	a := MustCreate(t, p, identity.AccountCreate{Username: "alice", Password: Password, Email: "alice@example.com"})
	got := update(t, p, a.ID, identity.AccountUpdate{Email: ptr("alice@example.org")})
	if got.Email != "alice@example.org" {
		t.Fatalf("Email = %q, want %q", got.Email, "alice@example.org")
	}
	_, err := p.FindAccount(t.Context(), "alice@example.com")
	RequireNotFound(t, err)
	if _, err := p.Authenticate(t.Context(), "alice@example.org", Password); err != nil {
		t.Fatalf("the new email does not authenticate: %v", err)
	}
	MustCreate(t, p, identity.AccountCreate{Username: "bob", Password: Password, Email: "Alice@Example.com"})
}

func testUpdateEmptyEmail(t *testing.T, p identity.Provider) {
	a := MustCreate(t, p, identity.AccountCreate{Username: "alice", Password: Password, Email: "alice@example.com"})
	got := update(t, p, a.ID, identity.AccountUpdate{Email: ptr("")})
	if got.Email != "" {
		t.Fatalf("Email = %q after setting it empty", got.Email)
	}
	_, err := p.FindAccount(t.Context(), "alice@example.com")
	RequireNotFound(t, err)
	if _, err := p.Authenticate(t.Context(), "alice", Password); err != nil {
		t.Fatalf("the username no longer authenticates: %v", err)
	}
	MustCreate(t, p, identity.AccountCreate{Username: "bob", Password: Password, Email: "alice@example.com"})
}

func testUpdateConflictUsername(t *testing.T, p identity.Provider) {
	MustCreateAccount(t, p, "alice")
	b := MustCreate(t, p, identity.AccountCreate{Username: "bob", Password: Password, GivenName: "Bob", Email: "bob@example.com"})
	_, err := p.UpdateAccount(t.Context(), b.ID, identity.AccountUpdate{
		Username: ptr("ALICE"), GivenName: ptr("Robert"), Email: ptr("robert@example.com"),
	})
	RequireField(t, err, identity.CodeConflict, "username")
	requireSameAccount(t, MustGetAccount(t, p, b.ID), b)
	if _, err := p.FindAccount(t.Context(), "robert@example.com"); err == nil {
		t.Fatal("a failed update claimed the new email")
	}
	if _, err := p.Authenticate(t.Context(), "bob", Password); err != nil {
		t.Fatalf("after a failed update the old username does not authenticate: %v", err)
	}
}

func testUpdateConflictEmail(t *testing.T, p identity.Provider) {
	MustCreate(t, p, identity.AccountCreate{Username: "alice", Password: Password, Email: "alice@example.com"})
	b := MustCreate(t, p, identity.AccountCreate{Username: "bob", Password: Password, Email: "bob@example.com", Surname: "Builder"})
	_, err := p.UpdateAccount(t.Context(), b.ID, identity.AccountUpdate{
		Username: ptr("robert"), Email: ptr("Alice@Example.com"), Surname: ptr("Marley"),
	})
	RequireField(t, err, identity.CodeConflict, "email")
	requireSameAccount(t, MustGetAccount(t, p, b.ID), b)
	if _, err := p.FindAccount(t.Context(), "robert"); err == nil {
		t.Fatal("a failed update claimed the new username")
	}
	if _, err := p.FindAccount(t.Context(), "bob@example.com"); err != nil {
		t.Fatalf("a failed update released the old email: %v", err)
	}
}

func testUpdateConflictUsernameIsEmail(t *testing.T, p identity.Provider) {
	MustCreate(t, p, identity.AccountCreate{Username: "alice", Password: Password, Email: "alice@example.com"})
	b := MustCreateAccount(t, p, "bob")
	_, err := p.UpdateAccount(t.Context(), b.ID, identity.AccountUpdate{Username: ptr("alice@example.com")})
	RequireCode(t, err, identity.CodeConflict)
	requireSameAccount(t, MustGetAccount(t, p, b.ID), b)
	// Its own email may become its username.
	c := MustCreate(t, p, identity.AccountCreate{Username: "carol", Password: Password, Email: "carol@example.com"})
	got := update(t, p, c.ID, identity.AccountUpdate{Username: ptr("carol@example.com")})
	if got.Username != "carol@example.com" || got.Email != "carol@example.com" {
		t.Fatalf("after taking its own email as username: %+v", *got)
	}
	_, err = p.FindAccount(t.Context(), "carol")
	RequireNotFound(t, err)
}

func testUpdatePassword(t *testing.T, p identity.Provider) {
	a := MustCreate(t, p, identity.AccountCreate{Username: "alice", Password: Password, Email: "alice@example.com"})
	time.Sleep(5 * time.Millisecond)
	const newPassword = "new password, much better"
	got := update(t, p, a.ID, identity.AccountUpdate{Password: ptr(newPassword)})
	if got.PasswordModifiedAt.Before(a.PasswordModifiedAt) || got.ModifiedAt.Before(a.ModifiedAt) {
		t.Fatalf("timestamps went back: PasswordModifiedAt %v -> %v, ModifiedAt %v -> %v",
			a.PasswordModifiedAt, got.PasswordModifiedAt, a.ModifiedAt, got.ModifiedAt)
	}
	requireTime(t, "PasswordModifiedAt", got.PasswordModifiedAt)
	if got.PasswordModifiedAt.After(got.ModifiedAt) {
		t.Fatalf("PasswordModifiedAt %v is after ModifiedAt %v", got.PasswordModifiedAt, got.ModifiedAt)
	}
	_, err := p.Authenticate(t.Context(), "alice", Password)
	RequireCode(t, err, identity.CodeInvalidCredentials)
	if _, err := p.Authenticate(t.Context(), "alice", newPassword); err != nil {
		t.Fatalf("the new password does not authenticate: %v", err)
	}
	if _, err := p.Authenticate(t.Context(), "alice@example.com", newPassword); err != nil {
		t.Fatalf("the new password does not authenticate by email: %v", err)
	}
}

func testUpdatePasswordPolicy(t *testing.T, p identity.Provider) {
	a := MustCreate(t, p, identity.AccountCreate{Username: "longusername1", Password: Password, Email: "longusername@example.com"})
	for _, c := range []struct {
		name string
		u    identity.AccountUpdate
	}{
		{"TooShort", identity.AccountUpdate{Password: ptr("short")}},
		{"TooLong", identity.AccountUpdate{Password: ptr(repeat("x", 129))}},
		{"EqualsUsername", identity.AccountUpdate{Password: ptr("LONGUSERNAME1")}},
		{"EqualsEmail", identity.AccountUpdate{Password: ptr("LongUsername@example.com")}},
		// The policy applies to the names the account will have.
		{"EqualsNewUsername", identity.AccountUpdate{Username: ptr("anotherlongname"), Password: ptr("AnotherLongName")}},
		{"EqualsNewEmail", identity.AccountUpdate{Email: ptr("brand.new@example.com"), Password: ptr("brand.new@example.com")}},
		{"Empty", identity.AccountUpdate{Password: ptr("")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := p.UpdateAccount(t.Context(), a.ID, c.u)
			RequireInvalid(t, err, "password")
			requireSameAccount(t, MustGetAccount(t, p, a.ID), a)
			if _, err := p.Authenticate(t.Context(), "longusername1", Password); err != nil {
				t.Fatalf("the old password no longer works after a refused change: %v", err)
			}
		})
	}
}

func testUpdateInvalid(t *testing.T, p identity.Provider) {
	a := MustCreate(t, p, identity.AccountCreate{Username: "alice", Password: Password, Email: "alice@example.com", GivenName: "Alice", Surname: "Smith"})
	for _, c := range []struct {
		name, field string
		u           identity.AccountUpdate
	}{
		{"UsernameEmpty", "username", identity.AccountUpdate{Username: ptr(""), GivenName: ptr("X")}},
		{"UsernameColon", "username", identity.AccountUpdate{Username: ptr("a:b"), Surname: ptr("X")}},
		{"UsernameAPIKeyPrefix", "username", identity.AccountUpdate{Username: ptr("gk_x")}},
		{"UsernameTooLong", "username", identity.AccountUpdate{Username: ptr(repeat("u", 256))}},
		{"EmailInvalid", "email", identity.AccountUpdate{Email: ptr("nope"), GivenName: ptr("X")}},
		{"GivenNameTooLong", "given_name", identity.AccountUpdate{GivenName: ptr(repeat("g", 256)), Username: ptr("bob")}},
		{"SurnameControl", "surname", identity.AccountUpdate{Surname: ptr("a\tb"), Email: ptr("bob@example.com")}},
		{"StatusInvalid", "status", identity.AccountUpdate{Status: ptr(identity.Status("BOGUS")), GivenName: ptr("X")}},
		{"StatusEmpty", "status", identity.AccountUpdate{Status: ptr(identity.Status(""))}},
		{"PasswordShort", "password", identity.AccountUpdate{Password: ptr("short"), GivenName: ptr("X")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := p.UpdateAccount(t.Context(), a.ID, c.u)
			RequireInvalid(t, err, c.field)
			requireSameAccount(t, MustGetAccount(t, p, a.ID), a)
		})
	}
	if _, err := p.FindAccount(t.Context(), "bob"); err == nil {
		t.Fatal("a refused update claimed the username bob")
	}
}

func testUpdateUnknown(t *testing.T, p identity.Provider) {
	MustCreateAccount(t, p, "alice")
	_, err := p.UpdateAccount(t.Context(), "nonexistent", identity.AccountUpdate{GivenName: ptr("X")})
	RequireNotFound(t, err)
	_, err = p.UpdateAccount(t.Context(), "nonexistent", identity.AccountUpdate{Password: ptr("a valid new password")})
	RequireNotFound(t, err)
	_, err = p.UpdateAccount(t.Context(), "nonexistent", identity.AccountUpdate{})
	RequireNotFound(t, err)
}

// --- Delete ---

func testDeleteGone(t *testing.T, p identity.Provider) {
	a := MustCreate(t, p, identity.AccountCreate{Username: "alice", Password: Password, Email: "alice@example.com"})
	noErr(t, p.DeleteAccount(t.Context(), a.ID), "DeleteAccount")
	_, err := p.Account(t.Context(), a.ID)
	RequireNotFound(t, err)
	for _, login := range []string{"alice", "alice@example.com"} {
		_, err = p.FindAccount(t.Context(), login)
		RequireNotFound(t, err)
		_, err = p.Authenticate(t.Context(), login, Password)
		RequireCode(t, err, identity.CodeInvalidCredentials)
	}
	if l := list(t, p, identity.AccountFilter{}); l.Total != 0 || len(l.Items) != 0 {
		t.Fatalf("a deleted account is still listed: %v", accountIDs(l.Items))
	}
	_, err = p.UpdateAccount(t.Context(), a.ID, identity.AccountUpdate{GivenName: ptr("X")})
	RequireNotFound(t, err)
}

func testDeleteTwice(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	noErr(t, p.DeleteAccount(t.Context(), a.ID), "DeleteAccount")
	RequireNotFound(t, p.DeleteAccount(t.Context(), a.ID))
}

func testDeleteUnknown(t *testing.T, p identity.Provider) {
	MustCreateAccount(t, p, "alice")
	RequireNotFound(t, p.DeleteAccount(t.Context(), "nonexistent"))
	RequireNotFound(t, p.DeleteAccount(t.Context(), ""))
	if l := list(t, p, identity.AccountFilter{}); l.Total != 1 {
		t.Fatalf("deleting an unknown id changed the account count to %d", l.Total)
	}
}

func testDeleteOthersUnaffected(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	b := MustCreate(t, p, identity.AccountCreate{Username: "bob", Password: Password, Email: "bob@example.com"})
	k := MustCreateAPIKey(t, p, b.ID, "bob's key")
	_, err := p.ReplaceCustomData(t.Context(), b.ID, data(t, `{"color":"blue"}`))
	noErr(t, err, "ReplaceCustomData")
	g := MustCreateGroup(t, p, "team")
	MustAddToGroup(t, p, a.ID, g.ID)
	MustAddToGroup(t, p, b.ID, g.ID)

	noErr(t, p.DeleteAccount(t.Context(), a.ID), "DeleteAccount")
	requireSameAccount(t, MustGetAccount(t, p, b.ID), b)
	if _, err := p.Authenticate(t.Context(), "bob", Password); err != nil {
		t.Fatalf("bob no longer authenticates: %v", err)
	}
	if _, _, err := p.AuthenticateAPIKey(t.Context(), k.ID, k.Secret); err != nil {
		t.Fatalf("bob's key no longer authenticates: %v", err)
	}
	cd, err := p.CustomData(t.Context(), b.ID)
	noErr(t, err, "CustomData")
	requireData(t, cd, `{"color":"blue"}`)
	m, err := p.GroupMembers(t.Context(), g.ID, identity.Page{})
	noErr(t, err, "GroupMembers")
	requireIDs(t, "members", accountIDs(m.Items), []string{b.ID})
}

func testDeleteLoginsReusable(t *testing.T, p identity.Provider) {
	a := MustCreate(t, p, identity.AccountCreate{Username: "alice", Password: Password, Email: "alice@example.com"})
	noErr(t, p.DeleteAccount(t.Context(), a.ID), "DeleteAccount")
	b := MustCreate(t, p, identity.AccountCreate{Username: "ALICE", Password: "another fine password", Email: "Alice@Example.com"})
	if b.ID == a.ID {
		t.Fatalf("a new account reused the deleted id %s", a.ID)
	}
	if _, err := p.Authenticate(t.Context(), "alice", Password); err == nil {
		t.Fatal("the deleted account's password authenticates the new account")
	}
	got, err := p.Authenticate(t.Context(), "alice@example.com", "another fine password")
	noErr(t, err, "Authenticate")
	if got.ID != b.ID {
		t.Fatalf("Authenticate returned %s, want %s", got.ID, b.ID)
	}
}

func testDeleteAPIKeysGone(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	k1 := MustCreateAPIKey(t, p, a.ID, "one")
	k2 := MustCreateAPIKey(t, p, a.ID, "two")
	noErr(t, p.DeleteAccount(t.Context(), a.ID), "DeleteAccount")
	for _, k := range []*identity.NewAPIKey{k1, k2} {
		_, _, err := p.AuthenticateAPIKey(t.Context(), k.ID, k.Secret)
		RequireCode(t, err, identity.CodeInvalidCredentials)
		_, err = p.APIKey(t.Context(), k.ID)
		RequireNotFound(t, err)
	}
	_, err := p.ListAPIKeys(t.Context(), a.ID)
	RequireNotFound(t, err)
}

func testDeleteMembershipsGone(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	b := MustCreateAccount(t, p, "bob")
	g1 := MustCreateGroup(t, p, "admins")
	g2 := MustCreateGroup(t, p, "users")
	for _, g := range []*identity.Group{g1, g2} {
		MustAddToGroup(t, p, a.ID, g.ID)
		MustAddToGroup(t, p, b.ID, g.ID)
	}
	noErr(t, p.DeleteAccount(t.Context(), a.ID), "DeleteAccount")
	for _, g := range []*identity.Group{g1, g2} {
		m, err := p.GroupMembers(t.Context(), g.ID, identity.Page{})
		noErr(t, err, "GroupMembers")
		requireIDs(t, "members of "+g.Name, accountIDs(m.Items), []string{b.ID})
		if m.Total != 1 {
			t.Fatalf("group %s Total = %d, want 1", g.Name, m.Total)
		}
	}
	_, err := p.AccountGroups(t.Context(), a.ID)
	RequireNotFound(t, err)
}

func testDeleteCustomDataGone(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	_, err := p.ReplaceCustomData(t.Context(), a.ID, data(t, `{"secret":"s3cr3t"}`))
	noErr(t, err, "ReplaceCustomData")
	noErr(t, p.DeleteAccount(t.Context(), a.ID), "DeleteAccount")
	_, err = p.CustomData(t.Context(), a.ID)
	RequireNotFound(t, err)
	b := MustCreateAccount(t, p, "alice")
	cd, err := p.CustomData(t.Context(), b.ID)
	noErr(t, err, "CustomData")
	requireData(t, cd, `{}`)
}
