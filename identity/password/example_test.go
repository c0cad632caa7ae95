package password_test

import (
	"fmt"

	"github.com/gatehouse-id/gatehouse/identity/password"
)

func Example() {
	// Production code uses password.NewHasher(password.DefaultParams).
	h := password.NewHasher(password.InsecureFastParams)

	stored, err := h.Hash("correct horse battery staple")
	if err != nil {
		panic(err)
	}

	match, needsRehash, err := h.Verify(stored, "correct horse battery staple")
	fmt.Println(match, needsRehash, err)

	match, _, err = h.Verify(stored, "Tr0ub4dor&3")
	fmt.Println(match, err)

	// For an unknown user, spend the same effort as for a wrong password.
	h.VerifyDummy("whatever was typed")
	fmt.Println(h.Verifications())
	// Output:
	// true false <nil>
	// false <nil>
	// 3
}
