// Package ids generates and checks Gatehouse's opaque random identifiers.
//
// An id is 22 characters drawn uniformly from the base62 alphabet
// [0-9A-Za-z], which carries log2(62)*22 ≈ 131 bits of entropy: enough that
// ids can be minted independently on any node without coordination and
// without a realistic chance of collision, and enough that an id cannot be
// guessed. Base62 is used rather than base64 or hex because the result is
// URL-, filename- and double-click-safe and shorter than hex.
//
// Ids carry no structure (no timestamp, no node number), so they leak nothing
// about when or where they were created. Callers that need ordering must
// store a timestamp separately.
package ids

import "crypto/rand"

// Length is the number of characters in an id produced by New.
const Length = 22

// Alphabet is the set of characters ids are drawn from, in the order used to
// map random values to characters.
const Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// New returns a fresh random id of Length base62 characters.
//
// It reads from crypto/rand, which since Go 1.24 never returns an error (the
// runtime aborts the program instead of handing out weak randomness), so New
// has no error result.
func New() string {
	return RandomString(Length)
}

// RandomString returns n characters drawn uniformly and independently from
// Alphabet using crypto/rand. It panics if n is negative.
//
// Each random byte is masked to 6 bits (0..63) and values 62 and 63 are
// rejected and redrawn. Reducing modulo 62 instead would make the first two
// characters of the alphabet slightly more likely than the others; rejection
// sampling keeps every character exactly equally likely, at the price of
// discarding about 3% of the random bytes.
func RandomString(n int) string {
	if n < 0 {
		panic("ids: negative length")
	}
	out := make([]byte, 0, n)
	// Over-read a little so that one rand.Read usually suffices despite the
	// ~3% of bytes that get rejected.
	buf := make([]byte, n+n/8+8)
	for len(out) < n {
		rand.Read(buf) // never returns an error; see New.
		for _, b := range buf {
			v := b & 63
			if v >= byte(len(Alphabet)) {
				continue
			}
			out = append(out, Alphabet[v])
			if len(out) == n {
				break
			}
		}
	}
	return string(out)
}

// Valid reports whether s has the shape of an id produced by New: exactly
// Length characters, each in Alphabet. It says nothing about whether the id
// exists anywhere.
func Valid(s string) bool {
	return len(s) == Length && IsBase62(s)
}

// IsBase62 reports whether s is non-empty and consists only of characters in
// Alphabet.
func IsBase62(s string) bool {
	if s == "" {
		return false
	}
	// Index by byte, not rune: any non-ASCII byte is simply not in the
	// alphabet, so multi-byte UTF-8 input is rejected without decoding it.
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		default:
			return false
		}
	}
	return true
}
