package apikey

import (
	"encoding/hex"
	"strings"
	"testing"
)

func TestNewIDShape(t *testing.T) {
	for range 100 {
		id := NewID()
		if len(id) != IDLength || IDLength != 25 {
			t.Fatalf("NewID() = %q: length %d, want 25", id, len(id))
		}
		if !strings.HasPrefix(id, IDPrefix) {
			t.Fatalf("NewID() = %q: missing prefix %q", id, IDPrefix)
		}
		if !IsID(id) {
			t.Fatalf("IsID(NewID()) = false for %q", id)
		}
		if IsSecret(id) {
			t.Fatalf("IsSecret(NewID()) = true for %q", id)
		}
	}
}

func TestNewSecretShape(t *testing.T) {
	for range 100 {
		s := NewSecret()
		if len(s) != SecretLength || SecretLength != 47 {
			t.Fatalf("NewSecret() = %q: length %d, want 47", s, len(s))
		}
		if !strings.HasPrefix(s, SecretPrefix) {
			t.Fatalf("NewSecret() = %q: missing prefix %q", s, SecretPrefix)
		}
		if !IsSecret(s) {
			t.Fatalf("IsSecret(NewSecret()) = false for %q", s)
		}
		// A secret must never be mistaken for a key id when routing.
		if IsID(s) {
			t.Fatalf("IsID(NewSecret()) = true for %q", s)
		}
	}
}

func TestUniqueness(t *testing.T) {
	const n = 10000
	idSeen := make(map[string]bool, n)
	secretSeen := make(map[string]bool, n)
	for range n {
		id, s := NewID(), NewSecret()
		if idSeen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		if secretSeen[s] {
			t.Fatalf("duplicate secret %q", s)
		}
		idSeen[id], secretSeen[s] = true, true
	}
}

func TestIsID(t *testing.T) {
	body := "0123456789abcdefABCDEF" // 22 base62 characters
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"valid", "gk_" + body, true},
		{"empty", "", false},
		{"prefix only", "gk_", false},
		{"username", "alice", false},
		{"email", "alice@example.com", false},
		{"no prefix", body, false},
		{"wrong prefix", "gx_" + body, false},
		{"upper prefix", "GK_" + body, false},
		{"secret prefix", "gks_" + body, false},
		{"dash separator", "gk-" + body, false},
		{"too short", "gk_" + body[1:], false},
		{"too long", "gk_" + body + "a", false},
		{"non-base62 underscore", "gk_" + body[:21] + "_", false},
		{"non-base62 dash", "gk_" + body[:21] + "-", false},
		{"non-base62 plus", "gk_" + body[:21] + "+", false},
		{"trailing space", "gk_" + body + " ", false},
		{"leading space", " gk_" + body, false},
		{"newline", "gk_" + body[:21] + "\n", false},
		{"non-ascii", "gk_" + body[:20] + "é", false}, // still 25 bytes
		{"double prefix", "gk_gk_" + body[:19], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsID(tt.in); got != tt.want {
				t.Errorf("IsID(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestIsSecret(t *testing.T) {
	body := strings.Repeat("a", 43)
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"valid", "gks_" + body, true},
		{"empty", "", false},
		{"no prefix", body, false},
		{"id prefix", "gk_" + body, false},
		{"too short", "gks_" + body[1:], false},
		{"too long", "gks_" + body + "a", false},
		{"non-base62", "gks_" + body[1:] + "/", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsSecret(tt.in); got != tt.want {
				t.Errorf("IsSecret(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestHashAndMatch(t *testing.T) {
	secret := NewSecret()
	h := HashSecret(secret)
	if len(h) != 32 {
		t.Fatalf("len(HashSecret) = %d, want 32", len(h))
	}
	if !Matches(h, secret) {
		t.Fatal("Matches(HashSecret(s), s) = false")
	}
	// Deterministic: stored hashes must stay valid across processes.
	if string(HashSecret(secret)) != string(h) {
		t.Fatal("HashSecret is not deterministic")
	}

	other := NewSecret()
	tests := []struct {
		name   string
		hash   []byte
		secret string
	}{
		{"other secret", h, other},
		{"empty secret", h, ""},
		{"secret with extra char", h, secret + "a"},
		{"nil hash", nil, secret},
		{"empty hash", []byte{}, secret},
		{"truncated hash", h[:31], secret},
		{"extended hash", append(append([]byte{}, h...), 0), secret},
		{"flipped bit", flipLastBit(h), secret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if Matches(tt.hash, tt.secret) {
				t.Errorf("Matches(%x, %q) = true, want false", tt.hash, tt.secret)
			}
		})
	}
}

// TestHashKnownAnswer pins the digest to plain SHA-256, since stored hashes
// depend on it never changing.
func TestHashKnownAnswer(t *testing.T) {
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	got := HashSecret("abc")
	if h := hex.EncodeToString(got); h != want {
		t.Errorf("HashSecret(\"abc\") = %s, want %s", h, want)
	}
}

func flipLastBit(b []byte) []byte {
	c := append([]byte{}, b...)
	c[len(c)-1] ^= 1
	return c
}
