package identity

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/gatehouse-id/gatehouse/identity/apikey"
)

// Limits are the input rules every provider enforces. Each is a named
// configuration key in the servers; DefaultLimits holds the safe defaults.
type Limits struct {
	// PasswordMinLength and PasswordMaxLength count Unicode code points after
	// NFKC normalisation (NIST 800-63B). Passwords are never truncated.
	PasswordMinLength int
	PasswordMaxLength int
	// UsernameMaxLength counts code points after NFC normalisation.
	UsernameMaxLength int
	// NameMaxLength bounds given names, surnames, group and key names.
	NameMaxLength int
	// CustomDataMaxBytes bounds the JSON encoding of an account's custom data.
	CustomDataMaxBytes int
	// CustomDataMaxDepth bounds the nesting of objects and arrays; the custom
	// data object itself is depth 1.
	CustomDataMaxDepth int
	// APIKeysPerAccount bounds how many keys one account may hold.
	APIKeysPerAccount int
}

// DefaultLimits returns the defaults: passwords of 12 to 128 characters
// (OWASP ASVS 2.1.1/2.1.2), usernames up to 255 characters, custom data up to
// 64 KiB and 32 levels deep, 100 API keys per account.
func DefaultLimits() Limits {
	return Limits{
		PasswordMinLength:  12,
		PasswordMaxLength:  128,
		UsernameMaxLength:  255,
		NameMaxLength:      255,
		CustomDataMaxBytes: 64 << 10,
		CustomDataMaxDepth: 32,
		APIKeysPerAccount:  100,
	}
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	if l.PasswordMinLength == 0 {
		l.PasswordMinLength = d.PasswordMinLength
	}
	if l.PasswordMaxLength == 0 {
		l.PasswordMaxLength = d.PasswordMaxLength
	}
	if l.UsernameMaxLength == 0 {
		l.UsernameMaxLength = d.UsernameMaxLength
	}
	if l.NameMaxLength == 0 {
		l.NameMaxLength = d.NameMaxLength
	}
	if l.CustomDataMaxBytes == 0 {
		l.CustomDataMaxBytes = d.CustomDataMaxBytes
	}
	if l.CustomDataMaxDepth == 0 {
		l.CustomDataMaxDepth = d.CustomDataMaxDepth
	}
	if l.APIKeysPerAccount == 0 {
		l.APIKeysPerAccount = d.APIKeysPerAccount
	}
	return l
}

// APIKeyIDPrefix starts every API key id. Usernames may not start with it, so
// an HTTP Basic user-id is never ambiguous between a person and a key.
const APIKeyIDPrefix = apikey.IDPrefix

var folder = cases.Fold()

// FoldKey returns the case-insensitive comparison key of a username, email or
// group name: NFC normalisation then Unicode case folding, so "ÄLICE" and
// "älice" (composed or not) share one key.
func FoldKey(s string) string {
	return folder.String(norm.NFC.String(s))
}

// NormalizeUsername checks a username and returns its NFC form: 1 to
// UsernameMaxLength code points, valid UTF-8, no control characters, no ':'
// (RFC 7617 forbids it in a Basic user-id), no surrounding spaces, and not
// shaped like an API key id or a token.
func (l Limits) NormalizeUsername(s string) (string, error) {
	const field = "username"
	if err := checkText(field, s); err != nil {
		return "", err
	}
	s = norm.NFC.String(s)
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0:
		return "", Invalid(field, "The username is required.")
	case n > l.UsernameMaxLength:
		return "", Invalid(field, "The username must be at most %d characters.", l.UsernameMaxLength)
	case strings.TrimSpace(s) != s:
		return "", Invalid(field, "The username must not start or end with a space.")
	case strings.ContainsRune(s, ':'):
		return "", Invalid(field, "The username must not contain ':'.")
	case strings.HasPrefix(strings.ToLower(s), APIKeyIDPrefix):
		return "", Invalid(field, "The username must not start with %q, which marks API key ids.", APIKeyIDPrefix)
	case strings.HasPrefix(s, "eyJ") && strings.Count(s, ".") == 2:
		return "", Invalid(field, "The username must not look like a token.")
	}
	return s, nil
}

// NormalizeEmail checks an email address and returns it trimmed. The empty
// string is allowed (no address).
func NormalizeEmail(s string) (string, error) {
	const field = "email"
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if err := checkText(field, s); err != nil {
		return "", err
	}
	if len(s) > 254 {
		return "", Invalid(field, "The email must be at most 254 characters.")
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return "", Invalid(field, "The email is not a valid address.")
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 {
		return "", Invalid(field, "The email is not a valid address.")
	}
	return norm.NFC.String(s), nil
}

// NormalizePassword returns the NFKC form of a password, the form that is
// hashed and compared (NIST 800-63B §5.1.1.2), so the same password typed on
// different keyboards verifies.
func NormalizePassword(s string) string { return norm.NFKC.String(s) }

// CheckPassword applies the password policy to a new password and returns
// the normalised form to hash: PasswordMinLength to PasswordMaxLength code
// points, valid UTF-8, no control characters, and not equal to the username
// or email (ignoring case). There are no composition rules.
func (l Limits) CheckPassword(password, username, email string) (string, error) {
	const field = "password"
	if err := checkText(field, password); err != nil {
		return "", err
	}
	p := NormalizePassword(password)
	n := utf8.RuneCountInString(p)
	if n < l.PasswordMinLength {
		return "", Invalid(field, "The password must be at least %d characters.", l.PasswordMinLength)
	}
	if n > l.PasswordMaxLength {
		return "", Invalid(field, "The password must be at most %d characters.", l.PasswordMaxLength)
	}
	key := FoldKey(p)
	if (username != "" && key == FoldKey(username)) || (email != "" && key == FoldKey(email)) {
		return "", Invalid(field, "The password must not be the username or email.")
	}
	return p, nil
}

// CheckName checks an optional display name (given name, surname, group or
// key name): at most NameMaxLength code points, valid UTF-8, no control
// characters. It returns the NFC form.
func (l Limits) CheckName(field, s string) (string, error) {
	if err := checkText(field, s); err != nil {
		return "", err
	}
	s = norm.NFC.String(s)
	if utf8.RuneCountInString(s) > l.NameMaxLength {
		return "", Invalid(field, "The %s must be at most %d characters.", field, l.NameMaxLength)
	}
	return s, nil
}

// CheckStatus checks an account status.
func CheckStatus(s Status) error {
	switch s {
	case StatusEnabled, StatusDisabled, StatusUnverified:
		return nil
	}
	return Invalid("status", "The status must be ENABLED, DISABLED or UNVERIFIED.")
}

// CheckKeyStatus checks an API key status.
func CheckKeyStatus(s Status) error {
	switch s {
	case StatusEnabled, StatusDisabled:
		return nil
	}
	return Invalid("status", "The status must be ENABLED or DISABLED.")
}

// CheckPage validates paging and fills in the default limit.
func CheckPage(p Page) (Page, error) {
	if p.Offset < 0 {
		return p, Invalid("offset", "The offset must not be negative.")
	}
	if p.Limit < 0 || p.Limit > MaxLimit {
		return p, Invalid("limit", "The limit must be between 1 and %d.", MaxLimit)
	}
	if p.Limit == 0 {
		p.Limit = DefaultLimit
	}
	return p, nil
}

// checkText rejects invalid UTF-8 and control characters, which no field of
// the domain has a use for and which break logs and HTTP headers.
func checkText(field, s string) error {
	if !utf8.ValidString(s) {
		return Invalid(field, "The %s must be valid UTF-8.", field)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return Invalid(field, "The %s must not contain control characters.", field)
		}
	}
	return nil
}
