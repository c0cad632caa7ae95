package ids

import (
	"strings"
	"testing"
)

func TestNewShape(t *testing.T) {
	for range 1000 {
		id := New()
		if len(id) != Length {
			t.Fatalf("New() = %q: length %d, want %d", id, len(id), Length)
		}
		for _, c := range id {
			if !strings.ContainsRune(Alphabet, c) {
				t.Fatalf("New() = %q: character %q not in alphabet", id, c)
			}
		}
		if !Valid(id) {
			t.Fatalf("Valid(New()) = false for %q", id)
		}
	}
}

func TestNewUnique(t *testing.T) {
	const n = 10000
	seen := make(map[string]struct{}, n)
	for range n {
		id := New()
		if _, dup := seen[id]; dup {
			t.Fatalf("duplicate id %q after %d ids", id, len(seen))
		}
		seen[id] = struct{}{}
	}
}

// TestRandomStringCoversAlphabet guards against an off-by-one in the
// rejection bound: with 62*1000 draws, every character is expected about
// 1000 times, so a character that never appears means it is unreachable.
func TestRandomStringCoversAlphabet(t *testing.T) {
	s := RandomString(62 * 1000)
	counts := make(map[rune]int)
	for _, c := range s {
		counts[c]++
	}
	for _, c := range Alphabet {
		if counts[c] == 0 {
			t.Errorf("character %q never produced", c)
		}
	}
	if len(counts) != len(Alphabet) {
		t.Errorf("produced %d distinct characters, want %d", len(counts), len(Alphabet))
	}
}

func TestRandomStringLengths(t *testing.T) {
	for _, n := range []int{0, 1, 7, 22, 43, 100} {
		if got := len(RandomString(n)); got != n {
			t.Errorf("len(RandomString(%d)) = %d", n, got)
		}
	}
}

func TestRandomStringNegativePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("RandomString(-1) did not panic")
		}
	}()
	RandomString(-1)
}

func TestValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"ok digits", "0123456789012345678901", true},
		{"ok mixed", "aZ09bY18cX27dW36eV45fU", true},
		{"empty", "", false},
		{"too short", "aZ09bY18cX27dW36eV45f", false},
		{"too long", "aZ09bY18cX27dW36eV45fUx", false},
		{"dash", "aZ09bY18cX27dW36eV45f-", false},
		{"underscore", "_Z09bY18cX27dW36eV45fU", false},
		{"space", "aZ09bY18cX27 W36eV45fUx", false},
		{"non-ascii", "aZ09bY18cX27dW36eV45é", false}, // 22 bytes: é is 2 bytes
		{"nul", "aZ09bY18cX27dW36eV45f\x00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Valid(tt.in); got != tt.want {
				t.Errorf("Valid(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestIsBase62(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", false},
		{"a", true},
		{Alphabet, true},
		{"abc+", false},
		{"abc/", false},
		{"abc=", false},
		{"ab.c", false},
	}
	for _, tt := range tests {
		if got := IsBase62(tt.in); got != tt.want {
			t.Errorf("IsBase62(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		New()
	}
}
