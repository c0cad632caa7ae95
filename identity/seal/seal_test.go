package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"strings"
	"testing"
)

const (
	secretA = "first secret, long enough to be a key......"
	secretB = "second secret, long enough to be a key....."
)

func mustNew(t *testing.T, current string, previous ...string) *Sealer {
	t.Helper()
	s, err := New(current, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealOpen(t *testing.T) {
	s := mustNew(t, secretA)
	plain := []byte("\x30\x2e private key bytes")
	sealed, err := s.Seal(plain, []byte("kid1"))
	if err != nil {
		t.Fatal(err)
	}
	if !IsSealed(sealed) || bytes.Contains(sealed, plain) {
		t.Fatalf("sealed value %x holds the plaintext or lacks the marker", sealed)
	}
	if IsSealed(plain) {
		t.Fatal("a DER value counts as sealed")
	}
	got, err := s.Open(sealed, []byte("kid1"))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	again, _ := s.Seal(plain, []byte("kid1"))
	if bytes.Equal(again, sealed) {
		t.Fatal("two seals of one value are identical: the nonce is not random")
	}
	if !s.Current(sealed) {
		t.Fatal("a value just sealed is not current")
	}
}

// TestOpenRefuses: a value opens only with its key and its binding, and
// any change to it is detected.
func TestOpenRefuses(t *testing.T) {
	s := mustNew(t, secretA)
	sealed, err := s.Seal([]byte("secret"), []byte("kid1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(sealed, []byte("kid2")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("another binding: %v", err)
	}
	for i := range sealed {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		_, err := s.Open(b, []byte("kid1"))
		if err == nil {
			t.Fatalf("flipping a bit of byte %d went unnoticed", i)
		}
		// A flip in the key id makes an unknown key; elsewhere, corruption.
		inID := i >= len(magic) && i < len(magic)+keyIDLen
		if inID != errors.Is(err, ErrUnknownKey) || !inID && !errors.Is(err, ErrCorrupt) {
			t.Errorf("byte %d: %v", i, err)
		}
	}
	if _, err := s.Open(sealed[:headerLen-1], []byte("kid1")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("truncated: %v", err)
	}
	if _, err := mustNew(t, secretB).Open(sealed, []byte("kid1")); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("another secret: %v", err)
	}
	var none *Sealer
	if _, err := none.Open(sealed, []byte("kid1")); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("no secret: %v", err)
	}
	if none.Current(sealed) {
		t.Error("current for a nil Sealer")
	}
}

// TestRotation: after the secret changes, values sealed with the previous
// one still open, are not current, and reseal under the new one.
func TestRotation(t *testing.T) {
	old := mustNew(t, secretA)
	sealed, err := old.Seal([]byte("secret"), []byte("kid"))
	if err != nil {
		t.Fatal(err)
	}
	rotated := mustNew(t, secretB, secretA)
	got, err := rotated.Open(sealed, []byte("kid"))
	if err != nil || string(got) != "secret" {
		t.Fatalf("previous key: %q, %v", got, err)
	}
	if rotated.Current(sealed) {
		t.Fatal("a value sealed with the previous key is current")
	}
	resealed, err := rotated.Seal(got, []byte("kid"))
	if err != nil {
		t.Fatal(err)
	}
	if !rotated.Current(resealed) {
		t.Fatal("resealed value is not current")
	}
	if _, err := mustNew(t, secretB).Open(resealed, []byte("kid")); err != nil {
		t.Fatalf("after dropping the previous key: %v", err)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, tc := range []struct {
		current  string
		previous []string
		want     string
	}{
		{strings.Repeat("x", MinSecretLength-1), nil, "the encryption key is 31 bytes"},
		{secretA, []string{"short"}, "previous encryption key 1 is 5 bytes"},
		{secretA, []string{secretB, secretA}, "previous encryption key 2 repeats an earlier key"},
	} {
		if _, err := New(tc.current, tc.previous...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q, %q) = %v, want %q", tc.current, tc.previous, err, tc.want)
		}
	}
}

func TestSubkey(t *testing.T) {
	a := Subkey(secretA, "pages")
	if len(a) != 32 || !bytes.Equal(a, Subkey(secretA, "pages")) {
		t.Fatalf("Subkey is not a stable 32-byte key: %x", a)
	}
	for name, other := range map[string][]byte{
		"another purpose": Subkey(secretA, "other"),
		"another secret":  Subkey(secretB, "pages"),
	} {
		if bytes.Equal(a, other) {
			t.Errorf("%s gives the same key", name)
		}
	}
	// Not the key that seals: a subkey reveals nothing of sealed values.
	sealKey, _ := derive(secretA)
	sealed := sealKey.aead.Seal(nil, make([]byte, nonceLen), []byte("x"), nil)
	blk, err := aesGCM(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := blk.Open(nil, make([]byte, nonceLen), sealed, nil); err == nil {
		t.Error("the pages subkey opens what the sealing key sealed")
	}
}

func aesGCM(k []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}
