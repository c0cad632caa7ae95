package identitytest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
)

func concurrencyTests() []test {
	return []test{
		{"Concurrency/CreateSameUsername", testConcCreateSameUsername},
		{"Concurrency/CreateSameEmail", testConcCreateSameEmail},
		{"Concurrency/CreateDistinct", testConcCreateDistinct},
		{"Concurrency/RenameToSameUsername", testConcRename},
		{"Concurrency/MergeCustomDataNoLostUpdate", testConcMerge},
		{"Concurrency/AddToGroupSamePair", testConcAddToGroup},
		{"Concurrency/CreateGroupSameName", testConcCreateGroup},
		{"Concurrency/APIKeyLimit", testConcAPIKeyLimit},
		{"Concurrency/AuthenticateWhileUpdating", testConcAuthUpdate},
	}
}

func contextTests() []test {
	return []test{
		{"Context/Cancelled", testContextCancelled},
	}
}

// parallel runs f(i) for i in [0, n) on n goroutines released together and
// returns the errors, indexed by i.
func parallel(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = f(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// requireOneWinner checks that exactly one of errs is nil and the others are
// conflicts, and returns the winner's index.
func requireOneWinner(t *testing.T, errs []error, code identity.Code) int {
	t.Helper()
	winner, wins := -1, 0
	for i, err := range errs {
		switch {
		case err == nil:
			winner = i
			wins++
		case identity.ErrorCode(err) != code:
			t.Fatalf("call %d failed with %v, want success or %s", i, err, code)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent calls succeeded, want exactly 1", wins, len(errs))
	}
	return winner
}

func usernameVariant(base string, i int) string {
	switch i % 3 {
	case 0:
		return base
	case 1:
		return strings.ToUpper(base)
	}
	return strings.ToUpper(base[:1]) + base[1:]
}

func testConcCreateSameUsername(t *testing.T, p identity.Provider) {
	const n = 50
	created := make([]*identity.Account, n)
	errs := parallel(n, func(i int) error {
		a, err := p.CreateAccount(t.Context(), identity.AccountCreate{Username: usernameVariant("racer", i), Password: Password})
		created[i] = a
		return err
	})
	w := requireOneWinner(t, errs, identity.CodeConflict)
	for i, err := range errs {
		if err != nil && !errors.Is(err, identity.ErrConflict) {
			t.Fatalf("call %d: %v is not ErrConflict", i, err)
		}
		if err != nil && identity.ErrorField(err) != "username" {
			t.Fatalf("call %d: conflict names %q, want username", i, identity.ErrorField(err))
		}
	}
	l := list(t, p, identity.AccountFilter{})
	if l.Total != 1 || l.Items[0].ID != created[w].ID {
		t.Fatalf("after the race %d accounts exist, want only the winner", l.Total)
	}
	requireLogin(t, p, "RACER", Password, created[w])
}

func testConcCreateSameEmail(t *testing.T, p identity.Provider) {
	const n = 20
	errs := parallel(n, func(i int) error {
		_, err := p.CreateAccount(t.Context(), identity.AccountCreate{
			Username: fmt.Sprintf("user%d", i), Password: Password, Email: usernameVariant("shared@example.com", i),
		})
		return err
	})
	requireOneWinner(t, errs, identity.CodeConflict)
	if l := list(t, p, identity.AccountFilter{}); l.Total != 1 {
		t.Fatalf("after the race %d accounts exist, want 1", l.Total)
	}
}

func testConcCreateDistinct(t *testing.T, p identity.Provider) {
	const n = 30
	errs := parallel(n, func(i int) error {
		_, err := p.CreateAccount(t.Context(), identity.AccountCreate{
			Username: fmt.Sprintf("user%02d", i), Password: Password, Email: fmt.Sprintf("user%02d@example.com", i),
		})
		return err
	})
	for i, err := range errs {
		noErr(t, err, fmt.Sprintf("CreateAccount %d", i))
	}
	l := list(t, p, identity.AccountFilter{Page: identity.Page{Limit: identity.MaxLimit}})
	if l.Total != n || len(l.Items) != n {
		t.Fatalf("%d accounts exist (%d listed), want %d", l.Total, len(l.Items), n)
	}
	seen := map[string]bool{}
	for _, a := range l.Items {
		if seen[a.ID] {
			t.Fatalf("id %s listed twice", a.ID)
		}
		seen[a.ID] = true
	}
}

func testConcRename(t *testing.T, p identity.Provider) {
	const n = 20
	ids := createN(t, p, "user", n)
	errs := parallel(n, func(i int) error {
		_, err := p.UpdateAccount(t.Context(), ids[i], identity.AccountUpdate{Username: ptr(usernameVariant("winner", i))})
		return err
	})
	w := requireOneWinner(t, errs, identity.CodeConflict)
	got, err := p.FindAccount(t.Context(), "winner")
	noErr(t, err, "FindAccount(winner)")
	if got.ID != ids[w] {
		t.Fatalf("winner is %s, want %s", got.ID, ids[w])
	}
	for i, id := range ids {
		a := MustGetAccount(t, p, id)
		want := fmt.Sprintf("user%02d", i)
		if i == w {
			want = usernameVariant("winner", i)
		}
		if a.Username != want {
			t.Fatalf("account %d is named %q, want %q", i, a.Username, want)
		}
	}
}

func testConcMerge(t *testing.T, p identity.Provider) {
	const n = 20
	a := MustCreateAccount(t, p, "alice")
	replaceData(t, p, a.ID, `{"base":true}`)
	errs := parallel(n, func(i int) error {
		_, err := p.MergeCustomData(t.Context(), a.ID, identity.CustomData{fmt.Sprintf("key%02d", i): i})
		return err
	})
	for i, err := range errs {
		noErr(t, err, fmt.Sprintf("MergeCustomData %d", i))
	}
	d := getData(t, p, a.ID)
	if len(d) != n+1 {
		t.Fatalf("after %d concurrent merges the object has %d keys (%v), want %d", n, len(d), keysOf(d), n+1)
	}
	for i := range n {
		k := fmt.Sprintf("key%02d", i)
		if fmt.Sprint(d[k]) != fmt.Sprint(i) {
			t.Fatalf("%s = %v, want %d (a concurrent merge was lost)", k, d[k], i)
		}
	}
}

func testConcAddToGroup(t *testing.T, p identity.Provider) {
	const n = 20
	a := MustCreateAccount(t, p, "alice")
	g := MustCreateGroup(t, p, "Admins")
	errs := parallel(n, func(int) error { return p.AddToGroup(t.Context(), a.ID, g.ID) })
	for i, err := range errs {
		noErr(t, err, fmt.Sprintf("AddToGroup %d", i))
	}
	m := members(t, p, g.ID, identity.Page{})
	if m.Total != 1 || len(m.Items) != 1 || m.Items[0].ID != a.ID {
		t.Fatalf("after %d concurrent adds: %d members (Total %d)", n, len(m.Items), m.Total)
	}
	if gs := accountGroups(t, p, a.ID); len(gs) != 1 {
		t.Fatalf("alice is in %d groups, want 1", len(gs))
	}
	noErr(t, p.RemoveFromGroup(t.Context(), a.ID, g.ID), "RemoveFromGroup")
	if m := members(t, p, g.ID, identity.Page{}); m.Total != 0 {
		t.Fatalf("one removal left %d memberships", m.Total)
	}
}

func testConcCreateGroup(t *testing.T, p identity.Provider) {
	const n = 20
	errs := parallel(n, func(i int) error {
		_, err := p.CreateGroup(t.Context(), identity.GroupCreate{Name: usernameVariant("admins", i)})
		return err
	})
	requireOneWinner(t, errs, identity.CodeConflict)
	l, err := p.ListGroups(t.Context(), identity.GroupFilter{})
	noErr(t, err, "ListGroups")
	if l.Total != 1 {
		t.Fatalf("after the race %d groups exist, want 1", l.Total)
	}
}

func testConcAPIKeyLimit(t *testing.T, p identity.Provider) {
	max := identity.DefaultLimits().APIKeysPerAccount
	const extra, racers = 5, 20
	a := MustCreateAccount(t, p, "alice")
	for range max - extra {
		MustCreateAPIKey(t, p, a.ID, "")
	}
	errs := parallel(racers, func(int) error {
		_, err := p.CreateAPIKey(t.Context(), a.ID, "racer")
		return err
	})
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case identity.ErrorCode(err) != identity.CodeLimitExceeded:
			t.Fatalf("racer %d: %v, want success or ErrLimitExceeded", i, err)
		}
	}
	if ok != extra {
		t.Fatalf("%d of %d racing creates succeeded with room for %d", ok, racers, extra)
	}
	keys, err := p.ListAPIKeys(t.Context(), a.ID)
	noErr(t, err, "ListAPIKeys")
	if len(keys) != max {
		t.Fatalf("the account holds %d keys, limit %d", len(keys), max)
	}
}

// testConcAuthUpdate authenticates while the password changes back and
// forth: a login with either password may succeed or fail with
// ErrInvalidCredentials (the password may change between the two tries),
// never with another error, such as a torn read of the account.
func testConcAuthUpdate(t *testing.T, p identity.Provider) {
	const other = "the other password"
	a := MustCreateAccount(t, p, "alice")
	var wg sync.WaitGroup
	wg.Add(1)
	updateErr := make(chan error, 1)
	go func() {
		defer wg.Done()
		for i := range 20 {
			pw := Password
			if i%2 == 0 {
				pw = other
			}
			if _, err := p.UpdateAccount(t.Context(), a.ID, identity.AccountUpdate{Password: &pw}); err != nil {
				updateErr <- err
				return
			}
		}
	}()
	errs := parallel(20, func(int) error {
		_, err1 := p.Authenticate(t.Context(), "alice", Password)
		_, err2 := p.Authenticate(t.Context(), "alice", other)
		for _, err := range []error{err1, err2} {
			if err != nil && !errors.Is(err, identity.ErrInvalidCredentials) {
				return err
			}
		}
		return nil
	})
	wg.Wait()
	close(updateErr)
	if err := <-updateErr; err != nil {
		t.Fatalf("UpdateAccount: %v", err)
	}
	for i, err := range errs {
		noErr(t, err, fmt.Sprintf("Authenticate %d", i))
	}
	// The last update set Password.
	requireLogin(t, p, "alice", Password, a)
}

func testContextCancelled(t *testing.T, p identity.Provider) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	a, err := p.CreateAccount(ctx, identity.AccountCreate{Username: "alice", Password: Password})
	if err != nil {
		// A backend that checks the context must say so; it must not turn
		// cancellation into a domain error such as a conflict.
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("CreateAccount with a cancelled context: %v, want an error wrapping context.Canceled (or success)", err)
		}
		_, err := p.FindAccount(t.Context(), "alice")
		RequireNotFound(t, err)
		MustCreateAccount(t, p, "alice") // nothing half-created
		return
	}
	requireSameAccount(t, MustGetAccount(t, p, a.ID), a)

	// Reads with an expired deadline likewise either work or report it.
	dctx, dcancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer dcancel()
	if _, err := p.Account(dctx, a.ID); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Account with an expired deadline: %v", err)
	}
}
