package password

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// FuzzVerify checks that Verify never panics on arbitrary stored hashes and
// that its results are self-consistent.
func FuzzVerify(f *testing.F) {
	h := NewHasher(InsecureFastParams)
	good, err := h.Hash("pw")
	if err != nil {
		f.Fatal(err)
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		good,
		string(bc),
		"",
		"$",
		"$argon2id$",
		"$argon2id$v=19$m=64,t=1,p=1$$",
		"$argon2id$v=16$m=64,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$m=64,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$2b$04$" + strings.Repeat("/", 53),
		"$2y$99$" + strings.Repeat("a", 53),
		"$scrypt$ln=1,r=1,p=1$$",
	} {
		f.Add(seed, "pw")
	}

	f.Fuzz(func(t *testing.T, encoded, password string) {
		// The bounds deliberately admit hashes costing up to 1 GiB and 32
		// passes, or bcrypt cost 17; a fuzzer that stumbles on one would
		// spend minutes on a single input. Skip costly but valid inputs;
		// parsing is what is being fuzzed, not the KDFs.
		if a, err := parseArgon2id(encoded); err == nil &&
			uint64(a.params.Memory)*uint64(a.params.Time) > 4096 {
			t.Skip("argon2id parameters too costly for fuzzing")
		}
		if strings.HasPrefix(encoded, "$2") && checkBcrypt(encoded) == nil && encoded[4:6] > "06" {
			t.Skip("bcrypt cost too high for fuzzing")
		}

		before := h.Verifications()
		match, rehash, err := h.Verify(encoded, password)
		runs := h.Verifications() - before

		if err != nil {
			if match || rehash {
				t.Errorf("error %v returned with match=%v rehash=%v", err, match, rehash)
			}
			if !errors.Is(err, ErrMalformedHash) && !errors.Is(err, ErrUnsupportedHash) {
				t.Errorf("error %v wraps neither sentinel", err)
			}
			if runs > 1 {
				t.Errorf("ran %d KDFs on an error path", runs)
			}
			return
		}
		if runs != 1 {
			t.Errorf("successful parse ran %d KDFs, want exactly 1", runs)
		}
		if rehash && !match {
			t.Error("needsRehash without a match")
		}
	})
}
