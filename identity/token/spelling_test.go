package token

import "testing"

// TestOneSpellingPerToken: Verify's comment promises that a token has a
// single accepted spelling, which is what makes Hash(raw) a sound cache or
// revocation key. A 64-byte Ed25519 signature takes 86 base64url
// characters, whose last one carries 4 unused bits; a decoder that ignores
// them accepts 16 spellings of every token. Only the one Sign produced may
// verify.
func TestOneSpellingPerToken(t *testing.T) {
	k := newKey(t)
	good := mustSign(t, k, testClaims())
	v := verifierFor(0, k)
	if _, err := v.Verify(good, t0); err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range len(good) {
		if good[i] == '.' {
			continue
		}
		for j := range len(alphabet) {
			if alphabet[j] == good[i] {
				continue
			}
			alt := good[:i] + string(alphabet[j]) + good[i+1:]
			if _, err := v.Verify(alt, t0); err == nil {
				t.Fatalf("Verify accepts another spelling of the token: character %d %q → %q", i, good[i], alphabet[j])
			}
		}
	}
}
