package identitytest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity"
)

func groupTests() []test {
	return []test{
		{"Group/Create", testGroupCreate},
		{"Group/Get", testGroupGet},
		{"Group/GetUnknown", testGroupGetUnknown},
		{"Group/CreateConflictCaseInsensitive", testGroupConflict},
		{"Group/CreateInvalid", testGroupCreateInvalid},
		{"Group/ListOrderedByName", testGroupListOrder},
		{"Group/ListPaging", testGroupListPaging},
		{"Group/ListFilterName", testGroupListFilter},
		{"Group/ListInvalidPaging", testGroupListInvalidPaging},
		{"Group/AddMemberIdempotent", testGroupAddIdempotent},
		{"Group/AccountGroupsOrderedByName", testGroupAccountGroups},
		{"Group/MembersPaging", testGroupMembersPaging},
		{"Group/MembersInvalidPaging", testGroupMembersInvalidPaging},
		{"Group/Remove", testGroupRemove},
		{"Group/RemoveNonMember", testGroupRemoveNonMember},
		{"Group/AddRemoveUnknown", testGroupAddRemoveUnknown},
		{"Group/UnknownAccountOrGroup", testGroupLookupsUnknown},
		{"Group/DeleteRemovesMemberships", testGroupDelete},
		{"Group/DeleteUnknown", testGroupDeleteUnknown},
	}
}

func members(t *testing.T, p identity.Provider, groupID string, pg identity.Page) *identity.List[*identity.Account] {
	t.Helper()
	l, err := p.GroupMembers(t.Context(), groupID, pg)
	if err != nil {
		t.Fatalf("GroupMembers(%s, %+v): %v", groupID, pg, err)
	}
	return l
}

func accountGroups(t *testing.T, p identity.Provider, accountID string) []*identity.Group {
	t.Helper()
	gs, err := p.AccountGroups(t.Context(), accountID)
	if err != nil {
		t.Fatalf("AccountGroups(%s): %v", accountID, err)
	}
	return gs
}

func requireGroup(t *testing.T, got, want *identity.Group) {
	t.Helper()
	if got == nil {
		t.Fatalf("got nil group, want %+v", want)
	}
	if got.ID != want.ID || got.Name != want.Name || got.Description != want.Description ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.ModifiedAt.Equal(want.ModifiedAt) {
		t.Fatalf("group differs:\n got  %+v\n want %+v", *got, *want)
	}
}

func testGroupCreate(t *testing.T, p identity.Provider) {
	g, err := p.CreateGroup(t.Context(), identity.GroupCreate{Name: "Admins", Description: "People who can do anything"})
	noErr(t, err, "CreateGroup")
	requireID(t, "group", g.ID)
	if g.Name != "Admins" || g.Description != "People who can do anything" {
		t.Fatalf("created group %+v", *g)
	}
	requireTime(t, "CreatedAt", g.CreatedAt)
	requireTime(t, "ModifiedAt", g.ModifiedAt)
	if !g.CreatedAt.Equal(g.ModifiedAt) {
		t.Fatalf("CreatedAt %v != ModifiedAt %v at creation", g.CreatedAt, g.ModifiedAt)
	}
	g2 := MustCreateGroup(t, p, "Ünïcödé – group")
	if g2.ID == g.ID {
		t.Fatalf("two groups share id %s", g.ID)
	}
	if g2.Name != "Ünïcödé – group" || g2.Description != "" {
		t.Fatalf("created group %+v", *g2)
	}
}

func testGroupGet(t *testing.T, p identity.Provider) {
	g, err := p.CreateGroup(t.Context(), identity.GroupCreate{Name: "Admins", Description: "d"})
	noErr(t, err, "CreateGroup")
	got, err := p.Group(t.Context(), g.ID)
	noErr(t, err, "Group")
	requireGroup(t, got, g)
}

func testGroupGetUnknown(t *testing.T, p identity.Provider) {
	MustCreateGroup(t, p, "Admins")
	a := MustCreateAccount(t, p, "alice")
	for _, id := range []string{"nonexistent", "", a.ID} {
		_, err := p.Group(t.Context(), id)
		RequireNotFound(t, err)
	}
}

func testGroupConflict(t *testing.T, p identity.Provider) {
	MustCreateGroup(t, p, "Admins")
	for _, name := range []string{"Admins", "ADMINS", "admins"} {
		_, err := p.CreateGroup(t.Context(), identity.GroupCreate{Name: name})
		RequireField(t, err, identity.CodeConflict, "name")
	}
	MustCreateGroup(t, p, "Straße")
	_, err := p.CreateGroup(t.Context(), identity.GroupCreate{Name: "STRASSE"})
	RequireField(t, err, identity.CodeConflict, "name")
	l, err := p.ListGroups(t.Context(), identity.GroupFilter{})
	noErr(t, err, "ListGroups")
	if l.Total != 2 {
		t.Fatalf("conflicting creates left %d groups, want 2", l.Total)
	}
}

func testGroupCreateInvalid(t *testing.T, p identity.Provider) {
	for _, c := range []struct {
		name, field string
		in          identity.GroupCreate
	}{
		{"EmptyName", "name", identity.GroupCreate{Name: ""}},
		{"NameTooLong", "name", identity.GroupCreate{Name: repeat("g", 256)}},
		{"NameControl", "name", identity.GroupCreate{Name: "a\nb"}},
		{"NameInvalidUTF8", "name", identity.GroupCreate{Name: "a\xffb"}},
		{"DescriptionTooLong", "description", identity.GroupCreate{Name: "ok", Description: repeat("d", 256)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := p.CreateGroup(t.Context(), c.in)
			RequireInvalid(t, err, c.field)
		})
	}
	l, err := p.ListGroups(t.Context(), identity.GroupFilter{})
	noErr(t, err, "ListGroups")
	if l.Total != 0 {
		t.Fatalf("refused creates left %d groups", l.Total)
	}
}

func testGroupListOrder(t *testing.T, p identity.Provider) {
	for _, name := range []string{"Gamma", "Alpha", "Delta", "Beta"} {
		MustCreateGroup(t, p, name)
	}
	l, err := p.ListGroups(t.Context(), identity.GroupFilter{})
	noErr(t, err, "ListGroups")
	if got, want := groupNames(l.Items), []string{"Alpha", "Beta", "Delta", "Gamma"}; !equalStrings(got, want) {
		t.Fatalf("groups listed as %v, want %v", got, want)
	}
	if l.Total != 4 || l.Limit != identity.DefaultLimit || l.Offset != 0 {
		t.Fatalf("Total %d, Limit %d, Offset %d; want 4, %d, 0", l.Total, l.Limit, l.Offset, identity.DefaultLimit)
	}
	for _, g := range l.Items {
		got, err := p.Group(t.Context(), g.ID)
		noErr(t, err, "Group")
		requireGroup(t, got, g)
	}
}

func testGroupListPaging(t *testing.T, p identity.Provider) {
	var want []string
	for i := 4; i >= 0; i-- {
		name := fmt.Sprintf("group-%d", i)
		MustCreateGroup(t, p, name)
		want = append(want, name)
	}
	slices.Sort(want)
	var got []string
	for off := 0; off < 6; off += 2 {
		l, err := p.ListGroups(t.Context(), identity.GroupFilter{Page: identity.Page{Offset: off, Limit: 2}})
		noErr(t, err, "ListGroups")
		if l.Total != 5 || l.Offset != off || l.Limit != 2 {
			t.Fatalf("page at %d: Total %d, Offset %d, Limit %d", off, l.Total, l.Offset, l.Limit)
		}
		got = append(got, groupNames(l.Items)...)
	}
	if !equalStrings(got, want) {
		t.Fatalf("pages together: %v, want %v", got, want)
	}
	l, err := p.ListGroups(t.Context(), identity.GroupFilter{Page: identity.Page{Offset: 50, Limit: 2}})
	noErr(t, err, "ListGroups past the end")
	if len(l.Items) != 0 || l.Total != 5 {
		t.Fatalf("past the end: %d items, Total %d", len(l.Items), l.Total)
	}
}

func testGroupListFilter(t *testing.T, p identity.Provider) {
	alpha := MustCreateGroup(t, p, "Alpha")
	MustCreateGroup(t, p, "Alphabet")
	MustCreateGroup(t, p, "Beta")
	for _, name := range []string{"Alpha", "ALPHA", "alpha"} {
		l, err := p.ListGroups(t.Context(), identity.GroupFilter{Name: name})
		noErr(t, err, "ListGroups")
		if l.Total != 1 || len(l.Items) != 1 || l.Items[0].ID != alpha.ID {
			t.Fatalf("filter %q: %v (Total %d), want only Alpha", name, groupNames(l.Items), l.Total)
		}
	}
	l, err := p.ListGroups(t.Context(), identity.GroupFilter{Name: "Alp"})
	noErr(t, err, "ListGroups")
	if l.Total != 0 || len(l.Items) != 0 {
		t.Fatalf("filter %q (not an exact name) matched %v", "Alp", groupNames(l.Items))
	}
}

func testGroupListInvalidPaging(t *testing.T, p identity.Provider) {
	MustCreateGroup(t, p, "Alpha")
	for _, pg := range []identity.Page{{Limit: identity.MaxLimit + 1}, {Limit: -1}, {Offset: -1}} {
		_, err := p.ListGroups(t.Context(), identity.GroupFilter{Page: pg})
		RequireCode(t, err, identity.CodeInvalidInput)
	}
}

func testGroupAddIdempotent(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	g := MustCreateGroup(t, p, "Admins")
	for range 3 {
		MustAddToGroup(t, p, a.ID, g.ID)
	}
	m := members(t, p, g.ID, identity.Page{})
	if m.Total != 1 || len(m.Items) != 1 {
		t.Fatalf("after adding one account 3 times the group has %d members (Total %d)", len(m.Items), m.Total)
	}
	requireSameAccount(t, m.Items[0], a)
	gs := accountGroups(t, p, a.ID)
	if len(gs) != 1 {
		t.Fatalf("account is in %d groups, want 1", len(gs))
	}
	requireGroup(t, gs[0], g)
}

func testGroupAccountGroups(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	b := MustCreateAccount(t, p, "bob")
	var gs []*identity.Group
	for _, name := range []string{"Zeta", "Alpha", "Mu", "Beta"} {
		gs = append(gs, MustCreateGroup(t, p, name))
	}
	for _, g := range gs[:3] {
		MustAddToGroup(t, p, a.ID, g.ID)
	}
	MustAddToGroup(t, p, b.ID, gs[3].ID)
	if got := groupNames(accountGroups(t, p, a.ID)); !equalStrings(got, []string{"Alpha", "Mu", "Zeta"}) {
		t.Fatalf("alice's groups: %v, want [Alpha Mu Zeta]", got)
	}
	if got := groupNames(accountGroups(t, p, b.ID)); !equalStrings(got, []string{"Beta"}) {
		t.Fatalf("bob's groups: %v, want [Beta]", got)
	}
	c := MustCreateAccount(t, p, "carol")
	if got := accountGroups(t, p, c.ID); len(got) != 0 {
		t.Fatalf("carol is in %v", groupNames(got))
	}
}

func testGroupMembersPaging(t *testing.T, p identity.Provider) {
	g := MustCreateGroup(t, p, "Team")
	other := MustCreateGroup(t, p, "Other")
	want := map[string]bool{}
	for i := range 5 {
		a := MustCreateAccount(t, p, fmt.Sprintf("member%d", i))
		MustAddToGroup(t, p, a.ID, g.ID)
		want[a.ID] = true
		MustAddToGroup(t, p, MustCreateAccount(t, p, fmt.Sprintf("outsider%d", i)).ID, other.ID)
	}
	MustCreateAccount(t, p, "loner")
	seen := map[string]bool{}
	for off := 0; off < 6; off += 2 {
		l := members(t, p, g.ID, identity.Page{Offset: off, Limit: 2})
		if l.Total != 5 || l.Offset != off || l.Limit != 2 {
			t.Fatalf("page at %d: Total %d, Offset %d, Limit %d; want 5, %d, 2", off, l.Total, l.Offset, l.Limit, off)
		}
		if wantN := min(2, 5-off); len(l.Items) != wantN {
			t.Fatalf("page at %d has %d items, want %d", off, len(l.Items), wantN)
		}
		for _, a := range l.Items {
			if !want[a.ID] {
				t.Fatalf("%s (%s) is listed but not a member", a.Username, a.ID)
			}
			if seen[a.ID] {
				t.Fatalf("%s is listed on two pages", a.Username)
			}
			seen[a.ID] = true
			requireSameAccount(t, a, MustGetAccount(t, p, a.ID))
		}
	}
	if len(seen) != 5 {
		t.Fatalf("pages list %d distinct members, want 5", len(seen))
	}
	l := members(t, p, g.ID, identity.Page{})
	if l.Total != 5 || len(l.Items) != 5 || l.Limit != identity.DefaultLimit {
		t.Fatalf("default page: %d items, Total %d, Limit %d", len(l.Items), l.Total, l.Limit)
	}
	l = members(t, p, g.ID, identity.Page{Offset: 10})
	if l.Total != 5 || len(l.Items) != 0 {
		t.Fatalf("past the end: %d items, Total %d", len(l.Items), l.Total)
	}
	empty := MustCreateGroup(t, p, "Empty")
	if l := members(t, p, empty.ID, identity.Page{}); l.Total != 0 || len(l.Items) != 0 {
		t.Fatalf("an empty group has %d members", l.Total)
	}
}

func testGroupMembersInvalidPaging(t *testing.T, p identity.Provider) {
	g := MustCreateGroup(t, p, "Team")
	for _, pg := range []identity.Page{{Limit: identity.MaxLimit + 1}, {Limit: -1}, {Offset: -1}} {
		_, err := p.GroupMembers(t.Context(), g.ID, pg)
		RequireCode(t, err, identity.CodeInvalidInput)
	}
}

func testGroupRemove(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	b := MustCreateAccount(t, p, "bob")
	g := MustCreateGroup(t, p, "Admins")
	g2 := MustCreateGroup(t, p, "Users")
	MustAddToGroup(t, p, a.ID, g.ID)
	MustAddToGroup(t, p, b.ID, g.ID)
	MustAddToGroup(t, p, a.ID, g2.ID)
	noErr(t, p.RemoveFromGroup(t.Context(), a.ID, g.ID), "RemoveFromGroup")
	requireIDs(t, "members of Admins", accountIDs(members(t, p, g.ID, identity.Page{}).Items), []string{b.ID})
	if got := groupNames(accountGroups(t, p, a.ID)); !equalStrings(got, []string{"Users"}) {
		t.Fatalf("alice's groups: %v, want [Users]", got)
	}
	RequireNotFound(t, p.RemoveFromGroup(t.Context(), a.ID, g.ID)) // already removed
	MustAddToGroup(t, p, a.ID, g.ID)                               // and back
	if got := groupNames(accountGroups(t, p, a.ID)); !equalStrings(got, []string{"Admins", "Users"}) {
		t.Fatalf("alice's groups: %v, want [Admins Users]", got)
	}
}

func testGroupRemoveNonMember(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	b := MustCreateAccount(t, p, "bob")
	g := MustCreateGroup(t, p, "Admins")
	MustAddToGroup(t, p, b.ID, g.ID)
	RequireNotFound(t, p.RemoveFromGroup(t.Context(), a.ID, g.ID))
	requireIDs(t, "members", accountIDs(members(t, p, g.ID, identity.Page{}).Items), []string{b.ID})
}

func testGroupAddRemoveUnknown(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	g := MustCreateGroup(t, p, "Admins")
	RequireNotFound(t, p.AddToGroup(t.Context(), "nonexistent", g.ID))
	RequireNotFound(t, p.AddToGroup(t.Context(), a.ID, "nonexistent"))
	RequireNotFound(t, p.AddToGroup(t.Context(), g.ID, a.ID)) // swapped ids
	RequireNotFound(t, p.RemoveFromGroup(t.Context(), "nonexistent", g.ID))
	RequireNotFound(t, p.RemoveFromGroup(t.Context(), a.ID, "nonexistent"))
	if l := members(t, p, g.ID, identity.Page{}); l.Total != 0 {
		t.Fatalf("failed adds left %d members", l.Total)
	}
	if gs := accountGroups(t, p, a.ID); len(gs) != 0 {
		t.Fatalf("failed adds left alice in %v", groupNames(gs))
	}
}

func testGroupLookupsUnknown(t *testing.T, p identity.Provider) {
	MustCreateAccount(t, p, "alice")
	MustCreateGroup(t, p, "Admins")
	_, err := p.AccountGroups(t.Context(), "nonexistent")
	RequireNotFound(t, err)
	_, err = p.GroupMembers(t.Context(), "nonexistent", identity.Page{})
	RequireNotFound(t, err)
}

func testGroupDelete(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	b := MustCreateAccount(t, p, "bob")
	g := MustCreateGroup(t, p, "Admins")
	keep := MustCreateGroup(t, p, "Users")
	for _, acc := range []*identity.Account{a, b} {
		MustAddToGroup(t, p, acc.ID, g.ID)
		MustAddToGroup(t, p, acc.ID, keep.ID)
	}
	noErr(t, p.DeleteGroup(t.Context(), g.ID), "DeleteGroup")
	_, err := p.Group(t.Context(), g.ID)
	RequireNotFound(t, err)
	_, err = p.GroupMembers(t.Context(), g.ID, identity.Page{})
	RequireNotFound(t, err)
	for _, acc := range []*identity.Account{a, b} {
		if got := groupNames(accountGroups(t, p, acc.ID)); !equalStrings(got, []string{"Users"}) {
			t.Fatalf("%s's groups after deleting Admins: %v", acc.Username, got)
		}
		requireSameAccount(t, MustGetAccount(t, p, acc.ID), acc)
	}
	if l := members(t, p, keep.ID, identity.Page{}); l.Total != 2 {
		t.Fatalf("Users has %d members, want 2", l.Total)
	}
	l, err := p.ListGroups(t.Context(), identity.GroupFilter{})
	noErr(t, err, "ListGroups")
	if got := groupNames(l.Items); !equalStrings(got, []string{"Users"}) || l.Total != 1 {
		t.Fatalf("groups after delete: %v (Total %d)", got, l.Total)
	}
	RequireNotFound(t, p.DeleteGroup(t.Context(), g.ID))
	// The name is free again, and the new group starts empty.
	g2 := MustCreateGroup(t, p, "admins")
	if g2.ID == g.ID {
		t.Fatalf("a new group reused the deleted id %s", g.ID)
	}
	if l := members(t, p, g2.ID, identity.Page{}); l.Total != 0 {
		t.Fatalf("the recreated group inherited %d members", l.Total)
	}
}

func testGroupDeleteUnknown(t *testing.T, p identity.Provider) {
	MustCreateGroup(t, p, "Admins")
	RequireNotFound(t, p.DeleteGroup(t.Context(), "nonexistent"))
	RequireNotFound(t, p.DeleteGroup(t.Context(), ""))
}
