// Package identitytest is the conformance suite of identity.Provider: the
// behaviour every implementation (the SQL store, the mock, the remote client)
// must share, written once as tests.
//
// A backend's tests call Run with a factory of fresh, empty providers:
//
//	func TestConformance(t *testing.T) {
//		identitytest.Run(t, func(t *testing.T) identity.Provider {
//			return mock.New(mock.WithFastHashing())
//		})
//	}
//
// The factory owns cleanup (t.Cleanup) and should configure cheap password
// hashing, since the suite creates many accounts. Subtests run one after the
// other, each on its own provider, because some backends (SQLite) serialise
// writers anyway and parallel subtests would only make failures harder to
// read.
//
// The helpers (MustCreateAccount and friends) are exported for the tests of
// other packages that need a populated provider.
package identitytest

import (
	"testing"

	"github.com/gatehouse-id/gatehouse/identity"
)

// test is one conformance check, run on a fresh provider.
type test struct {
	name string
	run  func(t *testing.T, p identity.Provider)
}

// Factory returns a fresh, empty provider.
type Factory = func(t *testing.T) identity.Provider

// tests returns the whole conformance suite, in the order Run executes it.
// The few checks that need a second provider get it from newProvider.
func tests(newProvider Factory) []test {
	var all []test
	for _, group := range [][]test{
		accountTests(),
		listTests(),
		updateTests(),
		deleteTests(),
		authenticateTests(),
		apiKeyTests(),
		customDataTests(),
		groupTests(),
		tokenTests(newProvider),
		hostedLoginTests(),
		concurrencyTests(),
		contextTests(),
	} {
		all = append(all, group...)
	}
	return all
}

// Run runs the conformance suite against the providers newProvider returns.
// newProvider must return a fresh, empty provider each time it is called
// (a few subtests call it twice) and register its cleanup with t.Cleanup.
// Subtests run sequentially, each on its own provider.
func Run(t *testing.T, newProvider func(t *testing.T) identity.Provider) {
	t.Helper()
	seen := map[string]bool{}
	for _, tc := range tests(newProvider) {
		if seen[tc.name] {
			t.Fatalf("identitytest: duplicate subtest name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t)
			if p == nil {
				t.Fatal("newProvider returned nil")
			}
			tc.run(t, p)
		})
	}
}
