package token

import (
	"testing"
)

func BenchmarkSign(b *testing.B) {
	k := newKey(b)
	c := testClaims()
	for b.Loop() {
		if _, err := Sign(k, c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	k := newKey(b)
	raw := mustSign(b, k, testClaims())
	v := verifierFor(0, k)
	for b.Loop() {
		if _, err := v.Verify(raw, t0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLooksLikeJWT(b *testing.B) {
	k := newKey(b)
	raw := mustSign(b, k, testClaims())
	for b.Loop() {
		if !LooksLikeJWT(raw) {
			b.Fatal("not a JWT")
		}
	}
}
