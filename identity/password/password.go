// Package password hashes and verifies user passwords.
//
// New hashes use Argon2id (RFC 9106) and are encoded as PHC strings:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// where salt and key are unpadded standard base64. The encoding carries its
// own parameters, so hashes made under older settings keep verifying after
// the settings change; Verify reports when a stored hash is weaker than the
// current settings so the caller can rehash it while the plaintext is at hand
// (that is, right after a successful login).
//
// bcrypt hashes ($2a$, $2b$, $2y$) are accepted by Verify so that accounts
// imported from other systems can log in; they always report needsRehash, so
// they are migrated to Argon2id on first successful login.
//
// Stored hashes are treated as untrusted input: a hash planted in the
// database with absurd parameters (gigabytes of memory, thousands of passes)
// would otherwise let whoever planted it stall the server on every login
// attempt, so Verify refuses parameters outside fixed bounds instead of
// computing them.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Errors returned by Verify and Params.Validate. Returned errors wrap these
// sentinels; test with errors.Is.
var (
	// ErrMalformedHash means the encoded hash could not be parsed.
	ErrMalformedHash = errors.New("password: malformed hash")
	// ErrUnsupportedHash means the encoded hash parsed, but names an
	// algorithm or version this package does not implement, or parameters
	// outside the bounds it is willing to compute.
	ErrUnsupportedHash = errors.New("password: unsupported hash")
	// ErrInvalidParams means a Params value is outside the accepted bounds.
	ErrInvalidParams = errors.New("password: invalid parameters")
)

// Bounds on Argon2id and bcrypt parameters, applied both to the Hasher's own
// Params and to every stored hash before any work is done on it. The upper
// bounds exist to cap the cost of verifying a hostile hash; they are well
// above any setting a sane deployment would choose.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 32
	maxThreads   = 64
	minByteLen   = 8 // salt and key
	maxByteLen   = 1024
	// maxBcryptCost is 2^17 Blowfish key-schedule rounds, about 10 s on a
	// current CPU; the bcrypt package itself accepts up to 31 (days).
	maxBcryptCost = 17
	// bcryptMaxPassword is the number of password bytes bcrypt looks at;
	// anything beyond is silently ignored by the algorithm.
	bcryptMaxPassword = 72
	// maxEncodedLen bounds the length of a stored hash we will even try to
	// parse: an Argon2id string with 1024-byte salt and key is about 2.8 KB.
	maxEncodedLen = 4096
)

// Params are the Argon2id cost parameters.
type Params struct {
	// Memory is the memory cost in KiB.
	Memory uint32
	// Time is the number of passes over the memory.
	Time uint32
	// Threads is the degree of parallelism. It is part of the hash: a hash
	// made with p=4 must be verified with p=4, though the computation may
	// run on fewer cores.
	Threads uint8
	// SaltLen is the length in bytes of the random salt.
	SaltLen uint32
	// KeyLen is the length in bytes of the derived key.
	KeyLen uint32
}

// DefaultParams are the OWASP-recommended Argon2id settings (19 MiB, two
// passes, one lane): about 20-40 ms per hash on a current server core.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// InsecureFastParams make Argon2id nearly free (64 KiB, one pass).
//
// DO NOT USE IN PRODUCTION. A hash made with these parameters can be
// brute-forced at millions of guesses per second on a single GPU. They exist
// only so that tests of code that hashes or verifies passwords run in
// microseconds instead of tens of milliseconds per call.
var InsecureFastParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Validate reports whether p is within the bounds this package accepts:
// Time 1..32, Threads 1..64, Memory 8*Threads KiB..1 GiB (Argon2 requires at
// least 8 KiB per lane), SaltLen and KeyLen 8..1024 bytes. The returned
// error wraps ErrInvalidParams.
func (p Params) Validate() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("%w: time %d outside 1..%d", ErrInvalidParams, p.Time, maxTime)
	case p.Threads < 1 || p.Threads > maxThreads:
		return fmt.Errorf("%w: threads %d outside 1..%d", ErrInvalidParams, p.Threads, maxThreads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemoryKiB:
		return fmt.Errorf("%w: memory %d KiB outside %d..%d", ErrInvalidParams, p.Memory, 8*uint32(p.Threads), maxMemoryKiB)
	case p.SaltLen < minByteLen || p.SaltLen > maxByteLen:
		return fmt.Errorf("%w: salt length %d outside %d..%d", ErrInvalidParams, p.SaltLen, minByteLen, maxByteLen)
	case p.KeyLen < minByteLen || p.KeyLen > maxByteLen:
		return fmt.Errorf("%w: key length %d outside %d..%d", ErrInvalidParams, p.KeyLen, minByteLen, maxByteLen)
	}
	return nil
}

// weakerThan reports whether a hash made with p should be upgraded to target.
// Threads is not compared: more or fewer lanes does not by itself make a
// hash easier to attack.
func (p Params) weakerThan(target Params) bool {
	return p.Memory < target.Memory || p.Time < target.Time ||
		p.KeyLen < target.KeyLen || p.SaltLen < target.SaltLen
}

// Hasher hashes new passwords with fixed Argon2id parameters and verifies
// stored hashes. It is safe for concurrent use and must not be copied after
// first use. A zero Hasher behaves like NewHasher(DefaultParams).
type Hasher struct {
	params Params

	// verifications counts key derivations done by Verify and VerifyDummy.
	verifications atomic.Uint64

	dummyOnce sync.Once
	dummy     string
}

// kdfSlots bounds how many key derivations run at once in this process, to
// the number of CPUs Go may use. Each Argon2id run holds Params.Memory (19
// MiB by default) for its duration, so unbounded, a burst of 1 000 logins
// would ask for 19 GiB; and runs beyond one per core do not finish sooner,
// they only thrash the heap (measured here: 32 concurrent runs on two cores
// cost nearly twice the CPU per hash of two, in page faults). Waiting for a
// slot keeps memory at GOMAXPROCS × Memory and throughput at the KDF's own.
// Every path (a real hash, bcrypt, the dummy of an unknown user) waits in
// the same queue, so queueing reveals nothing about the account.
var kdfSlots = make(chan struct{}, runtime.GOMAXPROCS(0))

// kdfInFlight and kdfMaxInFlight count runs inside runKDF, for tests.
var kdfInFlight, kdfMaxInFlight atomic.Int64

// runKDF runs one key derivation in a kdfSlots slot, and counts it in
// *counter (nil for none).
//
// It gives up, without running kdf, when ctx ends before a slot is free:
// a login whose caller has hung up or timed out must not spend a KDF run
// that nobody will see the result of. Under load the queue is long (at 32
// concurrent logins on two cores, 15 wait for every running one), and an
// abandoned queue would otherwise go on burning the CPU for seconds ahead
// of the callers still waiting. Once started, a run is not interrupted.
func runKDF(ctx context.Context, counter *atomic.Uint64, kdf func()) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("password: key derivation not started: %w", err)
	}
	select {
	case kdfSlots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("password: gave up waiting for a key derivation: %w", ctx.Err())
	}
	defer func() { <-kdfSlots }()
	n := kdfInFlight.Add(1)
	defer kdfInFlight.Add(-1)
	for m := kdfMaxInFlight.Load(); n > m && !kdfMaxInFlight.CompareAndSwap(m, n); m = kdfMaxInFlight.Load() {
	}
	if counter != nil {
		counter.Add(1)
	}
	kdf()
	return nil
}

// NewHasher returns a Hasher that hashes with p. The zero Params selects
// DefaultParams.
//
// NewHasher panics if p is non-zero and fails Params.Validate: parameters
// are configuration fixed at start-up, and hashing with, say, zero passes
// would be a silent security failure. Call p.Validate first when p comes
// from user-supplied configuration.
func NewHasher(p Params) *Hasher {
	if p == (Params{}) {
		p = DefaultParams
	}
	if err := p.Validate(); err != nil {
		panic(err)
	}
	return &Hasher{params: p}
}

// Params returns the parameters the Hasher uses for new hashes.
func (h *Hasher) Params() Params {
	if h.params == (Params{}) {
		return DefaultParams
	}
	return h.params
}

// Verifications returns the number of key derivations (Argon2id or bcrypt
// computations) that Verify and VerifyDummy have performed so far. Hash is
// not counted.
//
// It exists so that tests of callers can check deterministically, without
// measuring time, that every login path costs the same number of KDF runs.
func (h *Hasher) Verifications() uint64 {
	return h.verifications.Load()
}

// Hash returns the Argon2id PHC encoding of password under a fresh random
// salt and the Hasher's parameters.
func (h *Hasher) Hash(password string) (string, error) {
	return h.HashContext(context.Background(), password)
}

// HashContext is Hash, except that it gives up waiting for a turn at the
// KDF when ctx ends, with an error wrapping ctx.Err().
func (h *Hasher) HashContext(ctx context.Context, password string) (string, error) {
	p := h.Params()
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: reading salt: %w", err)
	}
	var key []byte
	if err := runKDF(ctx, nil, func() { key = argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen) }); err != nil {
		return "", err
	}
	return encodeArgon2id(p, salt, key), nil
}

// Verify reports whether password matches the stored hash encoded, which
// may be an Argon2id PHC string or a bcrypt hash.
//
// needsRehash is true only when match is true and the hash should be
// replaced by h.Hash(password): it is bcrypt, or Argon2id with less memory,
// fewer passes, or a shorter key or salt than h's parameters.
//
// err is non-nil only when encoded cannot be used at all; it wraps
// ErrMalformedHash or ErrUnsupportedHash, and match and needsRehash are then
// false. A wrong password is not an error. Beware that a malformed hash
// returns without running the KDF; callers that must not leak which accounts
// have broken hashes through timing can call VerifyDummy on that path.
func (h *Hasher) Verify(encoded, password string) (match, needsRehash bool, err error) {
	return h.VerifyContext(context.Background(), encoded, password)
}

// VerifyContext is Verify, except that it gives up waiting for a turn at
// the KDF when ctx ends: it then returns an error wrapping ctx.Err(), runs
// no KDF and counts no verification. Callers on a request path should use
// it with the request's context.
func (h *Hasher) VerifyContext(ctx context.Context, encoded, password string) (match, needsRehash bool, err error) {
	if len(encoded) > maxEncodedLen {
		return false, false, fmt.Errorf("%w: %d bytes long", ErrMalformedHash, len(encoded))
	}
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		return h.verifyArgon2id(ctx, encoded, password)
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		return h.verifyBcrypt(ctx, encoded, password)
	}
	if id, ok := phcID(encoded); ok {
		return false, false, fmt.Errorf("%w: algorithm %q", ErrUnsupportedHash, id)
	}
	return false, false, fmt.Errorf("%w: unrecognised format", ErrMalformedHash)
}

// CheckHash reports whether encoded is a hash Verify can use (argon2id in
// PHC form or bcrypt, with parameters within the safe bounds), without
// running the KDF: importing a million hashes must not cost a million
// verifications. The error wraps ErrMalformedHash or ErrUnsupportedHash.
func CheckHash(encoded string) error {
	if len(encoded) > maxEncodedLen {
		return fmt.Errorf("%w: %d bytes long", ErrMalformedHash, len(encoded))
	}
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		_, err := parseArgon2id(encoded)
		return err
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		return checkBcrypt(encoded)
	}
	if id, ok := phcID(encoded); ok {
		return fmt.Errorf("%w: algorithm %q", ErrUnsupportedHash, id)
	}
	return fmt.Errorf("%w: unrecognised format", ErrMalformedHash)
}

// VerifyDummy performs one full verification of password against a fixed
// hash that no password matches, and discards the result.
//
// Call it when a login names an unknown user (or one with no usable hash),
// so that the response takes as long as a failed login for a real user and
// does not reveal which usernames exist.
func (h *Hasher) VerifyDummy(password string) {
	_ = h.VerifyDummyContext(context.Background(), password)
}

// VerifyDummyContext is VerifyDummy, except that it gives up waiting for a
// turn at the KDF when ctx ends, and then returns an error wrapping
// ctx.Err(). It fails only that way.
func (h *Hasher) VerifyDummyContext(ctx context.Context, password string) error {
	h.dummyOnce.Do(func() {
		// The dummy is a random key under a random salt rather than the
		// hash of some password: it is matched by no password (barring a
		// 2^-256 accident) and costs no KDF run to build, so the first
		// unknown-user login is not slower than the ones after it.
		p := h.Params()
		salt := make([]byte, p.SaltLen)
		key := make([]byte, p.KeyLen)
		rand.Read(salt) // crypto/rand.Read never fails since Go 1.24.
		rand.Read(key)
		h.dummy = encodeArgon2id(p, salt, key)
	})
	_, _, err := h.VerifyContext(ctx, h.dummy, password)
	return err
}

func (h *Hasher) verifyArgon2id(ctx context.Context, encoded, password string) (match, needsRehash bool, err error) {
	a, err := parseArgon2id(encoded)
	if err != nil {
		return false, false, err
	}
	var key []byte
	if err := runKDF(ctx, &h.verifications, func() {
		key = argon2.IDKey([]byte(password), a.salt, a.params.Time, a.params.Memory, a.params.Threads, uint32(len(a.key)))
	}); err != nil {
		return false, false, err
	}
	if subtle.ConstantTimeCompare(key, a.key) != 1 {
		return false, false, nil
	}
	// parseArgon2id only accepts version 19, the only one x/crypto/argon2
	// computes, so a differing version never reaches this point.
	return true, a.params.weakerThan(h.Params()), nil
}

func (h *Hasher) verifyBcrypt(ctx context.Context, encoded, password string) (match, needsRehash bool, err error) {
	if err := checkBcrypt(encoded); err != nil {
		return false, false, err
	}
	// bcrypt ignores everything after the 72nd byte, so a longer password
	// whose first 72 bytes are right would otherwise match. We still run the
	// comparison so that rejecting it costs the same as any other failure.
	if werr := runKDF(ctx, &h.verifications, func() { err = bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password)) }); werr != nil {
		return false, false, werr
	}
	switch {
	case err == nil:
		if len(password) > bcryptMaxPassword {
			return false, false, nil
		}
		return true, true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, false, nil
	default:
		return false, false, fmt.Errorf("%w: bcrypt: %w", ErrMalformedHash, err)
	}
}

// bcryptAlphabet is bcrypt's own base64 alphabet.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// checkBcrypt validates the exact shape of a modular-crypt bcrypt hash,
// $2?$NN$ followed by 53 characters (22 of salt, 31 of hash), and its cost.
// The bcrypt package is lenient about some of this (it reads the cost with
// Atoi, so "+9" passes), and checking first means a malformed hash never
// costs a KDF run.
func checkBcrypt(s string) error {
	if len(s) != 60 || s[6] != '$' {
		return fmt.Errorf("%w: bcrypt hash has wrong shape", ErrMalformedHash)
	}
	if s[4] < '0' || s[4] > '9' || s[5] < '0' || s[5] > '9' {
		return fmt.Errorf("%w: bcrypt cost %q is not two digits", ErrMalformedHash, s[4:6])
	}
	for i := 7; i < len(s); i++ {
		if strings.IndexByte(bcryptAlphabet, s[i]) < 0 {
			return fmt.Errorf("%w: bcrypt hash has invalid character at offset %d", ErrMalformedHash, i)
		}
	}
	cost := int(s[4]-'0')*10 + int(s[5]-'0')
	if cost < bcrypt.MinCost || cost > maxBcryptCost {
		return fmt.Errorf("%w: bcrypt cost %d outside %d..%d", ErrUnsupportedHash, cost, bcrypt.MinCost, maxBcryptCost)
	}
	return nil
}

// argon2idHash is a parsed Argon2id PHC string. params.SaltLen and
// params.KeyLen are the decoded lengths of salt and key.
type argon2idHash struct {
	params Params
	salt   []byte
	key    []byte
}

func encodeArgon2id(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(key))
}

// parseArgon2id parses "$argon2id$v=19$m=M,t=T,p=P$salt$key" strictly: fields
// in this order, canonical decimal numbers, canonical unpadded base64. It
// accepts nothing it would not itself produce, apart from parameter values.
func parseArgon2id(s string) (argon2idHash, error) {
	var a argon2idHash
	parts := strings.Split(s, "$")
	// The original Argon2 1.0 (version 16) encoding has no "v=" field.
	if len(parts) == 5 && strings.HasPrefix(parts[2], "m=") {
		return a, fmt.Errorf("%w: argon2id version 16", ErrUnsupportedHash)
	}
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return a, fmt.Errorf("%w: argon2id: want 5 '$'-separated fields", ErrMalformedHash)
	}

	vs, ok := strings.CutPrefix(parts[2], "v=")
	if !ok {
		return a, fmt.Errorf("%w: argon2id: missing version", ErrMalformedHash)
	}
	version, err := parseDecimal(vs)
	if err != nil {
		return a, fmt.Errorf("%w: argon2id version: %w", ErrMalformedHash, err)
	}
	if version != argon2.Version {
		return a, fmt.Errorf("%w: argon2id version %d", ErrUnsupportedHash, version)
	}

	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return a, fmt.Errorf("%w: argon2id: want parameters m,t,p", ErrMalformedHash)
	}
	var nums [3]uint64
	for i, name := range [3]string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(fields[i], name)
		if !ok {
			return a, fmt.Errorf("%w: argon2id: parameter %d is not %q", ErrMalformedHash, i+1, name)
		}
		if nums[i], err = parseDecimal(v); err != nil {
			return a, fmt.Errorf("%w: argon2id parameter %s: %w", ErrMalformedHash, name, err)
		}
	}

	if a.salt, err = decodeB64(parts[4]); err != nil {
		return a, fmt.Errorf("%w: argon2id salt: %w", ErrMalformedHash, err)
	}
	if a.key, err = decodeB64(parts[5]); err != nil {
		return a, fmt.Errorf("%w: argon2id key: %w", ErrMalformedHash, err)
	}

	// Check bounds on the uint64 values before narrowing them, so that an
	// out-of-range number is refused rather than wrapped into range.
	m, t, p := nums[0], nums[1], nums[2]
	if m > maxMemoryKiB || t > maxTime || p > maxThreads {
		return a, fmt.Errorf("%w: argon2id parameters m=%d,t=%d,p=%d exceed %d,%d,%d",
			ErrUnsupportedHash, m, t, p, maxMemoryKiB, maxTime, maxThreads)
	}
	a.params = Params{
		Memory:  uint32(m),
		Time:    uint32(t),
		Threads: uint8(p),
		SaltLen: uint32(len(a.salt)),
		KeyLen:  uint32(len(a.key)),
	}
	if err := a.params.Validate(); err != nil {
		return a, fmt.Errorf("%w: %w", ErrUnsupportedHash, err)
	}
	return a, nil
}

// parseDecimal parses a canonical unsigned decimal: digits only, no sign, no
// leading zeros, at most 10 digits (enough for any uint32).
func parseDecimal(s string) (uint64, error) {
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("invalid number %q", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("invalid number %q", s)
		}
	}
	return strconv.ParseUint(s, 10, 64)
}

// decodeB64 decodes canonical unpadded standard base64. The encoding/base64
// decoder skips '\r' and '\n' even in strict mode, so the result is
// re-encoded and compared to reject those too.
func decodeB64(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	b, err := base64.RawStdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, err
	}
	if base64.RawStdEncoding.EncodedLen(len(b)) != len(s) {
		return nil, errors.New("non-canonical base64")
	}
	return b, nil
}

// phcID returns the algorithm identifier of a string shaped like a PHC or
// modular-crypt hash, "$id$...", where id is 1 to 32 characters of
// [a-z0-9-]. It lets Verify tell an algorithm it does not support (such as
// $argon2i$, $scrypt$ or bcrypt's $2x$) from garbage.
func phcID(s string) (string, bool) {
	rest, ok := strings.CutPrefix(s, "$")
	if !ok {
		return "", false
	}
	id, _, ok := strings.Cut(rest, "$")
	if !ok || id == "" || len(id) > 32 {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return "", false
		}
	}
	return id, true
}
