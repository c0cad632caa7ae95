package password

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// fast is used by every test that runs the KDF; see InsecureFastParams.
func fast() *Hasher { return NewHasher(InsecureFastParams) }

var phcRE = regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashFormat(t *testing.T) {
	h := fast()
	enc, err := h.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !phcRE.MatchString(enc) {
		t.Errorf("Hash() = %q, does not match %v", enc, phcRE)
	}
	// DefaultParams must encode as the OWASP settings named in the docs.
	// encodeArgon2id is used directly to avoid a 19 MiB KDF run in tests.
	got := encodeArgon2id(DefaultParams, make([]byte, 16), make([]byte, 32))
	const wantPrefix = "$argon2id$v=19$m=19456,t=2,p=1$"
	if !strings.HasPrefix(got, wantPrefix) {
		t.Errorf("DefaultParams encode as %q, want prefix %q", got, wantPrefix)
	}
}

func TestRoundTrip(t *testing.T) {
	h := fast()
	for _, pw := range []string{"", "a", "correct horse battery staple", "pässwörd 🔑", strings.Repeat("x", 1000)} {
		enc, err := h.Hash(pw)
		if err != nil {
			t.Fatal(err)
		}
		match, rehash, err := h.Verify(enc, pw)
		if err != nil || !match || rehash {
			t.Errorf("Verify(Hash(%q)) = %v, %v, %v; want true, false, nil", pw, match, rehash, err)
		}
	}
}

func TestSaltIsRandom(t *testing.T) {
	h := fast()
	a, _ := h.Hash("same")
	b, _ := h.Hash("same")
	if a == b {
		t.Errorf("two hashes of the same password are identical: %q", a)
	}
}

func TestWrongPassword(t *testing.T) {
	h := fast()
	const pw = "Tr0ub4dor&3"
	enc, err := h.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	for _, wrong := range []string{"", "tr0ub4dor&3", "Tr0ub4dor&", "Tr0ub4dor&33", " Tr0ub4dor&3", "Tr0ub4dor&3\x00"} {
		match, rehash, err := h.Verify(enc, wrong)
		if err != nil || match || rehash {
			t.Errorf("Verify(hash, %q) = %v, %v, %v; want false, false, nil", wrong, match, rehash, err)
		}
	}
}

func TestNeedsRehash(t *testing.T) {
	base := InsecureFastParams // m=64 t=1 p=1 salt=16 key=32
	with := func(f func(*Params)) Params { p := base; f(&p); return p }
	tests := []struct {
		name   string
		stored Params // params the hash was made with
		target Params // params of the verifying Hasher
		want   bool
	}{
		{"same", base, base, false},
		{"less memory", base, with(func(p *Params) { p.Memory = 128 }), true},
		{"fewer passes", base, with(func(p *Params) { p.Time = 2 }), true},
		{"shorter key", base, with(func(p *Params) { p.KeyLen = 64 }), true},
		{"shorter salt", base, with(func(p *Params) { p.SaltLen = 32 }), true},
		{"more memory", with(func(p *Params) { p.Memory = 128 }), base, false},
		{"more passes", with(func(p *Params) { p.Time = 2 }), base, false},
		{"longer key", with(func(p *Params) { p.KeyLen = 64 }), base, false},
		{"longer salt", with(func(p *Params) { p.SaltLen = 32 }), base, false},
		{"different threads only", with(func(p *Params) { p.Threads = 2 }), base, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := NewHasher(tt.stored).Hash("pw")
			if err != nil {
				t.Fatal(err)
			}
			match, rehash, err := NewHasher(tt.target).Verify(enc, "pw")
			if err != nil || !match {
				t.Fatalf("Verify = %v, _, %v; want match", match, err)
			}
			if rehash != tt.want {
				t.Errorf("needsRehash = %v, want %v", rehash, tt.want)
			}
		})
	}
}

func TestBcrypt(t *testing.T) {
	h := fast()
	const pw = "imported from legacy"
	raw, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	enc := string(raw)
	if !strings.HasPrefix(enc, "$2a$04$") {
		t.Fatalf("unexpected bcrypt encoding %q", enc)
	}
	// The minor version letter does not enter the computation, so the same
	// hash relabelled $2b$/$2y$ (as other libraries write it) must verify.
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		e := prefix + enc[4:]
		t.Run(prefix, func(t *testing.T) {
			match, rehash, err := h.Verify(e, pw)
			if err != nil || !match || !rehash {
				t.Errorf("Verify(correct) = %v, %v, %v; want true, true, nil", match, rehash, err)
			}
			match, rehash, err = h.Verify(e, pw+"!")
			if err != nil || match || rehash {
				t.Errorf("Verify(wrong) = %v, %v, %v; want false, false, nil", match, rehash, err)
			}
		})
	}
}

// TestBcryptLongPassword checks that a password over 72 bytes never matches,
// even though bcrypt itself would ignore the excess and say it does.
func TestBcryptLongPassword(t *testing.T) {
	h := fast()
	pw72 := strings.Repeat("p", 72)
	raw, err := bcrypt.GenerateFromPassword([]byte(pw72), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if match, _, err := h.Verify(string(raw), pw72); err != nil || !match {
		t.Fatalf("72-byte password: match=%v err=%v; want match", match, err)
	}
	before := h.Verifications()
	match, rehash, err := h.Verify(string(raw), pw72+"extra")
	if err != nil || match || rehash {
		t.Errorf("73+-byte password = %v, %v, %v; want false, false, nil", match, rehash, err)
	}
	if got := h.Verifications() - before; got != 1 {
		t.Errorf("long password ran %d KDFs, want 1", got)
	}
}

func TestMalformed(t *testing.T) {
	h := fast()
	good, err := h.Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$") // "", argon2id, v=19, m=64,t=1,p=1, salt, key
	salt, key := parts[4], parts[5]
	argon := func(v, params, s, k string) string {
		return "$argon2id$" + v + "$" + params + "$" + s + "$" + k
	}
	const mtp = "m=64,t=1,p=1"
	bcryptBody := strings.Repeat("a", 53)

	tests := []struct {
		name string
		enc  string
		want error
	}{
		{"empty", "", ErrMalformedHash},
		{"plaintext", "hunter2", ErrMalformedHash},
		{"dollar only", "$", ErrMalformedHash},
		{"uppercase id", "$ARGON2ID$v=19$" + mtp + "$" + salt + "$" + key, ErrMalformedHash},
		{"too long", argon("v=19", mtp, salt, strings.Repeat("A", 5000)), ErrMalformedHash},

		{"argon2i", "$argon2i$v=19$" + mtp + "$" + salt + "$" + key, ErrUnsupportedHash},
		{"argon2d", "$argon2d$v=19$" + mtp + "$" + salt + "$" + key, ErrUnsupportedHash},
		{"scrypt", "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E", ErrUnsupportedHash},
		{"bcrypt 2x", "$2x$10$" + bcryptBody, ErrUnsupportedHash},
		{"bcrypt bare 2", "$2$10$" + bcryptBody, ErrUnsupportedHash},

		{"missing key", "$argon2id$v=19$" + mtp + "$" + salt, ErrMalformedHash},
		{"missing salt and key", "$argon2id$v=19$" + mtp, ErrMalformedHash},
		{"extra field", good + "$x", ErrMalformedHash},
		{"trailing dollar", good + "$", ErrMalformedHash},
		{"empty salt", argon("v=19", mtp, "", key), ErrMalformedHash},
		{"empty key", argon("v=19", mtp, salt, ""), ErrMalformedHash},
		{"bad base64 salt", argon("v=19", mtp, "!!!!"+salt[4:], key), ErrMalformedHash},
		{"bad base64 key", argon("v=19", mtp, salt, key[:10]+"*"+key[11:]), ErrMalformedHash},
		{"padded base64", argon("v=19", mtp, salt+"==", key), ErrMalformedHash},
		{"url base64", argon("v=19", mtp, strings.Repeat("_", 22), key), ErrMalformedHash},
		{"newline in key", argon("v=19", mtp, salt, key[:20]+"\n"+key[20:]), ErrMalformedHash},
		{"impossible base64 length", argon("v=19", mtp, salt+"AAA", key), ErrMalformedHash}, // 25 chars
		{"non-canonical trailing bits", argon("v=19", mtp, salt[:21]+"B", key), ErrMalformedHash},

		{"no version field", argon("", mtp, salt, key), ErrMalformedHash},
		{"version not numeric", argon("v=x", mtp, salt, key), ErrMalformedHash},
		{"version 16", argon("v=16", mtp, salt, key), ErrUnsupportedHash},
		{"version 20", argon("v=20", mtp, salt, key), ErrUnsupportedHash},
		{"legacy no-version encoding", "$argon2id$" + mtp + "$" + salt + "$" + key, ErrUnsupportedHash},

		{"params reordered", argon("v=19", "t=1,m=64,p=1", salt, key), ErrMalformedHash},
		{"params missing p", argon("v=19", "m=64,t=1", salt, key), ErrMalformedHash},
		{"params extra", argon("v=19", mtp+",keyid=x", salt, key), ErrMalformedHash},
		{"params negative", argon("v=19", "m=-64,t=1,p=1", salt, key), ErrMalformedHash},
		{"params plus sign", argon("v=19", "m=+64,t=1,p=1", salt, key), ErrMalformedHash},
		{"params leading zero", argon("v=19", "m=064,t=1,p=1", salt, key), ErrMalformedHash},
		{"params empty value", argon("v=19", "m=,t=1,p=1", salt, key), ErrMalformedHash},
		{"params overflow", argon("v=19", "m=99999999999999999999,t=1,p=1", salt, key), ErrMalformedHash},
		{"params spaces", argon("v=19", "m=64, t=1, p=1", salt, key), ErrMalformedHash},

		{"huge memory", argon("v=19", "m=4294967295,t=1,p=1", salt, key), ErrUnsupportedHash},
		{"memory just over 1 GiB", argon("v=19", "m=1048577,t=1,p=1", salt, key), ErrUnsupportedHash},
		{"huge time", argon("v=19", "m=64,t=4294967295,p=1", salt, key), ErrUnsupportedHash},
		{"time 33", argon("v=19", "m=64,t=33,p=1", salt, key), ErrUnsupportedHash},
		{"zero time", argon("v=19", "m=64,t=0,p=1", salt, key), ErrUnsupportedHash},
		{"zero threads", argon("v=19", "m=64,t=1,p=0", salt, key), ErrUnsupportedHash},
		{"threads 65", argon("v=19", "m=1024,t=1,p=65", salt, key), ErrUnsupportedHash},
		{"threads 256 (uint8 wrap)", argon("v=19", "m=4096,t=1,p=256", salt, key), ErrUnsupportedHash},
		{"threads 257 (uint8 wrap to 1)", argon("v=19", "m=64,t=1,p=257", salt, key), ErrUnsupportedHash},
		{"memory 2^32+64 (uint32 wrap to 64)", argon("v=19", "m=4294967360,t=1,p=1", salt, key), ErrUnsupportedHash},
		{"time 2^32+1 (uint32 wrap to 1)", argon("v=19", "m=64,t=4294967297,p=1", salt, key), ErrUnsupportedHash},
		{"memory below 8 per lane", argon("v=19", "m=15,t=1,p=2", salt, key), ErrUnsupportedHash},
		{"salt too short", argon("v=19", mtp, "AAAAAAAAAA", key), ErrUnsupportedHash}, // 7 bytes
		{"key too short", argon("v=19", mtp, salt, "AAAAAAAAAA"), ErrUnsupportedHash},
		{"key too long", argon("v=19", mtp, salt, strings.Repeat("A", 1368)), ErrUnsupportedHash}, // 1026 bytes

		{"bcrypt short", "$2a$04$" + bcryptBody[:52], ErrMalformedHash},
		{"bcrypt long", "$2a$04$" + bcryptBody + "a", ErrMalformedHash},
		{"bcrypt cost letters", "$2a$ab$" + bcryptBody, ErrMalformedHash},
		{"bcrypt cost sign", "$2a$+9$" + bcryptBody, ErrMalformedHash},
		{"bcrypt missing separator", "$2a$04x" + bcryptBody, ErrMalformedHash},
		{"bcrypt bad alphabet", "$2a$04$" + bcryptBody[:52] + "+", ErrMalformedHash},
		{"bcrypt cost 3", "$2a$03$" + bcryptBody, ErrUnsupportedHash},
		{"bcrypt cost 18", "$2b$18$" + bcryptBody, ErrUnsupportedHash},
		{"bcrypt cost 31", "$2y$31$" + bcryptBody, ErrUnsupportedHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.Verifications()
			match, rehash, err := h.Verify(tt.enc, "pw")
			if !errors.Is(err, tt.want) {
				t.Errorf("Verify(%q) error = %v, want %v", tt.enc, err, tt.want)
			}
			if match || rehash {
				t.Errorf("Verify(%q) = %v, %v with error; want false, false", tt.enc, match, rehash)
			}
			if n := h.Verifications() - before; n != 0 {
				t.Errorf("Verify(%q) ran %d KDFs on a rejected hash, want 0", tt.enc, n)
			}
		})
	}
}

// TestBoundaryParamsAccepted checks that the bounds are inclusive, using
// values that stay cheap to compute.
func TestBoundaryParamsAccepted(t *testing.T) {
	for _, p := range []Params{
		{Memory: 8, Time: 1, Threads: 1, SaltLen: 8, KeyLen: 8},
		{Memory: 16, Time: 1, Threads: 2, SaltLen: 1024, KeyLen: 1024},
	} {
		h := NewHasher(p)
		enc, err := h.Hash("pw")
		if err != nil {
			t.Fatal(err)
		}
		if match, _, err := h.Verify(enc, "pw"); err != nil || !match {
			t.Errorf("params %+v: Verify = %v, %v; want match", p, match, err)
		}
	}
}

func TestVerificationsCounter(t *testing.T) {
	h := fast()
	argonHash, err := h.Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	if n := h.Verifications(); n != 0 {
		t.Fatalf("Hash counted %d verifications, want 0", n)
	}
	rawBcrypt, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	bcryptHash := string(rawBcrypt)

	steps := []struct {
		name string
		run  func()
		want uint64 // KDF runs this step adds
	}{
		{"argon2id match", func() { h.Verify(argonHash, "pw") }, 1},
		{"argon2id mismatch", func() { h.Verify(argonHash, "nope") }, 1},
		{"bcrypt match", func() { h.Verify(bcryptHash, "pw") }, 1},
		{"bcrypt mismatch", func() { h.Verify(bcryptHash, "nope") }, 1},
		{"dummy first call", func() { h.VerifyDummy("pw") }, 1},
		{"dummy second call", func() { h.VerifyDummy("pw") }, 1},
		{"malformed", func() { h.Verify("garbage", "pw") }, 0},
		{"hash", func() { h.Hash("pw") }, 0},
	}
	for _, s := range steps {
		before := h.Verifications()
		s.run()
		if got := h.Verifications() - before; got != s.want {
			t.Errorf("%s: counter advanced by %d, want %d", s.name, got, s.want)
		}
	}
}

func TestVerifyDummy(t *testing.T) {
	h := fast()
	// The dummy hash must be a well-formed hash with the hasher's params
	// (so it costs what a real one does), and must match no password.
	h.VerifyDummy("")
	a, err := parseArgon2id(h.dummy)
	if err != nil {
		t.Fatalf("dummy hash %q does not parse: %v", h.dummy, err)
	}
	if a.params != h.Params() {
		t.Errorf("dummy params = %+v, want %+v", a.params, h.Params())
	}
	for _, pw := range []string{"", "password", "pw"} {
		if match, _, err := h.Verify(h.dummy, pw); match || err != nil {
			t.Errorf("dummy hash: Verify(%q) = %v, %v; want false, nil", pw, match, err)
		}
	}
	first := h.dummy
	h.VerifyDummy("x")
	if h.dummy != first {
		t.Error("dummy hash was recomputed")
	}
}

func TestVerifyDummyConcurrent(t *testing.T) {
	h := fast()
	const n = 16
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { h.VerifyDummy("pw") })
	}
	wg.Wait()
	if got := h.Verifications(); got != n {
		t.Errorf("Verifications() = %d after %d concurrent VerifyDummy, want %d", got, n, n)
	}
}

func TestNewHasherDefaults(t *testing.T) {
	if got := NewHasher(Params{}).Params(); got != DefaultParams {
		t.Errorf("NewHasher(Params{}).Params() = %+v, want DefaultParams", got)
	}
	var zero Hasher
	if got := zero.Params(); got != DefaultParams {
		t.Errorf("zero Hasher Params() = %+v, want DefaultParams", got)
	}
	if DefaultParams != (Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}) {
		t.Errorf("DefaultParams changed: %+v", DefaultParams)
	}
	for _, p := range []Params{DefaultParams, InsecureFastParams} {
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: Validate() = %v", p, err)
		}
	}
}

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Params
	}{
		{"zero time", Params{Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"zero threads", Params{Memory: 64, Time: 1, Threads: 0, SaltLen: 16, KeyLen: 32}},
		{"memory below 8 per lane", Params{Memory: 31, Time: 1, Threads: 4, SaltLen: 16, KeyLen: 32}},
		{"memory over 1 GiB", Params{Memory: 1<<20 + 1, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"time over 32", Params{Memory: 64, Time: 33, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"threads over 64", Params{Memory: 1024, Time: 1, Threads: 65, SaltLen: 16, KeyLen: 32}},
		{"short salt", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 7, KeyLen: 32}},
		{"long salt", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 1025, KeyLen: 32}},
		{"short key", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 7}},
		{"long key", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 1025}},
		{"partially filled", Params{Memory: 65536}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); !errors.Is(err, ErrInvalidParams) {
				t.Errorf("Validate() = %v, want ErrInvalidParams", err)
			}
			defer func() {
				if recover() == nil {
					t.Error("NewHasher did not panic")
				}
			}()
			NewHasher(tt.p)
		})
	}
}

func BenchmarkHashDefault(b *testing.B) {
	h := NewHasher(DefaultParams)
	for b.Loop() {
		if _, err := h.Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyDefault(b *testing.B) {
	h := NewHasher(DefaultParams)
	enc, err := h.Hash("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if match, _, err := h.Verify(enc, "correct horse battery staple"); !match || err != nil {
			b.Fatal("verify failed", err)
		}
	}
}

func TestCheckHashRunsNoKDF(t *testing.T) {
	h := NewHasher(InsecureFastParams)
	good, err := h.Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	before := h.Verifications()
	for _, ok := range []string{good, string(bc)} {
		if err := CheckHash(ok); err != nil {
			t.Errorf("CheckHash(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "plain", "$argon2id$v=19$m=99999999999,t=2,p=1$c2FsdA$a2V5", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5", "$2a$99$" + strings.Repeat("a", 53)} {
		if err := CheckHash(bad); err == nil {
			t.Errorf("CheckHash(%q) accepted", bad)
		}
	}
	if h.Verifications() != before {
		t.Errorf("CheckHash ran the KDF")
	}
}

// TestKDFRunsAreBounded: however many goroutines hash and verify at once,
// at most GOMAXPROCS key derivations run together, bcrypt included, so a
// burst of logins cannot ask for unbounded memory.
func TestKDFRunsAreBounded(t *testing.T) {
	h := NewHasher(Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	bc, err := bcrypt.GenerateFromPassword([]byte("correct horse battery"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	kdfMaxInFlight.Store(0)
	limit := int64(cap(kdfSlots))
	var wg sync.WaitGroup
	for i := range 16 * limit {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch i % 3 {
			case 0:
				if _, err := h.Hash("correct horse battery"); err != nil {
					t.Error(err)
				}
			case 1:
				if ok, _, err := h.Verify(string(bc), "correct horse battery"); !ok || err != nil {
					t.Errorf("bcrypt verify: %v %v", ok, err)
				}
			default:
				h.VerifyDummy("correct horse battery")
			}
		}()
	}
	wg.Wait()
	if got := kdfMaxInFlight.Load(); got < 1 || got > limit {
		t.Fatalf("at most %d KDF runs at once, saw %d", limit, got)
	}
	if n := kdfInFlight.Load(); n != 0 {
		t.Fatalf("%d runs still counted in flight", n)
	}
}

// TestAbandonedWaitRunsNoKDF: a caller whose context ends while every KDF
// slot is taken stops waiting, gets an error wrapping the context's, and
// neither runs nor counts a verification; a caller whose context has
// already ended does not start one even when a slot is free.
func TestAbandonedWaitRunsNoKDF(t *testing.T) {
	h := fast()
	good, err := h.Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]func(context.Context) error{
		"VerifyContext argon2id": func(ctx context.Context) error {
			ok, _, err := h.VerifyContext(ctx, good, "pw")
			if ok {
				t.Error("VerifyContext matched without running the KDF")
			}
			return err
		},
		"VerifyContext bcrypt": func(ctx context.Context) error {
			ok, _, err := h.VerifyContext(ctx, string(bc), "pw")
			if ok {
				t.Error("VerifyContext matched without running the KDF")
			}
			return err
		},
		"VerifyDummyContext": func(ctx context.Context) error { return h.VerifyDummyContext(ctx, "pw") },
		"HashContext": func(ctx context.Context) error {
			enc, err := h.HashContext(ctx, "pw")
			if enc != "" {
				t.Errorf("HashContext returned %q with error %v", enc, err)
			}
			return err
		},
	}
	for name, call := range calls {
		t.Run(name+" cancelled while queued", func(t *testing.T) {
			// Take every slot, so the call has to queue.
			for range cap(kdfSlots) {
				kdfSlots <- struct{}{}
			}
			defer func() {
				for range cap(kdfSlots) {
					<-kdfSlots
				}
			}()
			before := h.Verifications()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- call(ctx) }()
			select {
			case err := <-done:
				t.Fatalf("returned %v while every slot was taken and its context live", err)
			case <-time.After(20 * time.Millisecond):
			}
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("error %v, want one wrapping context.Canceled", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("still waiting for a slot after its context was cancelled")
			}
			if n := h.Verifications() - before; n != 0 {
				t.Errorf("counted %d verifications", n)
			}
		})
		t.Run(name+" deadline already passed", func(t *testing.T) {
			before := h.Verifications()
			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			defer cancel()
			if err := call(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("error %v, want one wrapping context.DeadlineExceeded", err)
			}
			if n := h.Verifications() - before; n != 0 {
				t.Errorf("counted %d verifications", n)
			}
		})
	}
	// A live context changes nothing.
	before := h.Verifications()
	if ok, _, err := h.VerifyContext(context.Background(), good, "pw"); !ok || err != nil {
		t.Fatalf("VerifyContext = %v, %v", ok, err)
	}
	if err := h.VerifyDummyContext(context.Background(), "pw"); err != nil {
		t.Fatal(err)
	}
	if n := h.Verifications() - before; n != 2 {
		t.Errorf("counted %d verifications, want 2", n)
	}
}
