package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestErrorsMatchTheirSentinels(t *testing.T) {
	tests := []struct {
		err      error
		sentinel error
		code     Code
	}{
		{Invalid("email", "bad"), ErrInvalidInput, CodeInvalidInput},
		{Conflict("username"), ErrConflict, CodeConflict},
		{NotFound("account"), ErrNotFound, CodeNotFound},
		{LimitExceeded("customData", "big"), ErrLimitExceeded, CodeLimitExceeded},
		{Unavailable(errors.New("dial tcp: refused")), ErrUnavailable, CodeUnavailable},
		{InvalidCredentials(ReasonWrongPassword), ErrInvalidCredentials, CodeInvalidCredentials},
		{fmt.Errorf("wrapped: %w", Conflict("email")), ErrConflict, CodeConflict},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.sentinel) {
			t.Errorf("errors.Is(%v, %v) = false", tt.err, tt.sentinel)
		}
		if got := ErrorCode(tt.err); got != tt.code {
			t.Errorf("ErrorCode(%v) = %q, want %q", tt.err, got, tt.code)
		}
		for _, other := range []error{ErrInvalidInput, ErrConflict, ErrNotFound, ErrLimitExceeded, ErrUnavailable, ErrInvalidCredentials} {
			if other != tt.sentinel && errors.Is(tt.err, other) {
				t.Errorf("errors.Is(%v, %v) = true, want false", tt.err, other)
			}
		}
	}
	if got := ErrorCode(errors.New("boom")); got != CodeInternal {
		t.Errorf("ErrorCode(plain) = %q, want internal", got)
	}
	if got := ErrorMessage(errors.New("db password is hunter2")); strings.Contains(got, "hunter2") {
		t.Errorf("ErrorMessage leaked an internal error: %q", got)
	}
	if got := ErrorField(fmt.Errorf("x: %w", Conflict("email"))); got != "email" {
		t.Errorf("ErrorField = %q, want email", got)
	}
}

func TestInvalidCredentialsHidesItsReason(t *testing.T) {
	reasons := []FailureReason{ReasonUnknownLogin, ReasonWrongPassword, ReasonDisabled, ReasonUnverified}
	var texts []string
	for _, r := range reasons {
		err := InvalidCredentials(r)
		if ReasonOf(err) != r {
			t.Errorf("ReasonOf = %q, want %q", ReasonOf(err), r)
		}
		if ReasonOf(fmt.Errorf("ctx: %w", err)) != r {
			t.Errorf("ReasonOf lost the reason through wrapping")
		}
		if strings.Contains(err.Error(), string(r)) {
			t.Errorf("error text %q reveals the reason", err.Error())
		}
		texts = append(texts, err.Error())
	}
	for _, s := range texts[1:] {
		if s != texts[0] {
			t.Errorf("error texts differ: %q vs %q", s, texts[0])
		}
	}
	if ReasonOf(ErrInvalidCredentials) != "" || ReasonOf(errors.New("x")) != "" {
		t.Error("ReasonOf of an error without reason should be empty")
	}
}

func TestNormalizeUsername(t *testing.T) {
	l := DefaultLimits()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"alice", "alice", true},
		{"Ærøskøbing", "Ærøskøbing", true},
		{"n\u0303andu", "ñandu", true}, // NFD in, NFC out
		{"john.doe@example.com", "john.doe@example.com", true},
		{strings.Repeat("é", 255), strings.Repeat("é", 255), true},
		{strings.Repeat("é", 256), "", false},
		{"", "", false},
		{"a:b", "", false},
		{"tab\there", "", false},
		{"nul\x00", "", false},
		{"\xff\xfe", "", false},
		{" alice", "", false},
		{"alice ", "", false},
		{"gk_abc", "", false},
		{"GK_abc", "", false},
		{"eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln", "", false},
	}
	for _, tt := range tests {
		got, err := l.NormalizeUsername(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("NormalizeUsername(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && (!errors.Is(err, ErrInvalidInput) || ErrorField(err) != "username") {
			t.Errorf("NormalizeUsername(%q) error %v is not an invalid username", tt.in, err)
		}
	}
}

func TestFoldKey(t *testing.T) {
	same := [][2]string{
		{"ALICE", "alice"},
		{"ÄLICE", "älice"},
		{"A\u0308LICE", "älice"}, // decomposed Ä
		{"Straße", "STRASSE"},
		{"Alice@Example.COM", "alice@example.com"},
	}
	for _, p := range same {
		if FoldKey(p[0]) != FoldKey(p[1]) {
			t.Errorf("FoldKey(%q) != FoldKey(%q)", p[0], p[1])
		}
	}
	if FoldKey("alice") == FoldKey("alicia") {
		t.Error("different names fold to one key")
	}
}

func TestNormalizeEmail(t *testing.T) {
	good := []string{"a@example.com", "first.last+tag@sub.example.org", "  padded@example.com  ", "x@localhost"}
	for _, s := range good {
		if _, err := NormalizeEmail(s); err != nil {
			t.Errorf("NormalizeEmail(%q) = %v", s, err)
		}
	}
	bad := []string{"plain", "@example.com", "a@", "Alice <a@example.com>", "a@@b.com", "a b@example.com", "a@exa\r\nmple.com", strings.Repeat("a", 250) + "@x.io"}
	for _, s := range bad {
		if _, err := NormalizeEmail(s); !errors.Is(err, ErrInvalidInput) || ErrorField(err) != "email" {
			t.Errorf("NormalizeEmail(%q) = %v, want invalid email", s, err)
		}
	}
	if got, err := NormalizeEmail(""); err != nil || got != "" {
		t.Errorf("empty email = %q, %v; want allowed", got, err)
	}
}

func TestCheckPassword(t *testing.T) {
	l := DefaultLimits()
	tests := []struct {
		name, pw, user, email string
		ok                    bool
	}{
		{"12 ascii", "abcdefghijkl", "alice", "", true},
		{"11 ascii", "abcdefghijk", "alice", "", false},
		{"128 code points", strings.Repeat("ü", 128), "alice", "", true},
		{"129 code points", strings.Repeat("ü", 129), "alice", "", false},
		{"12 emoji (48 bytes)", strings.Repeat("🔑", 12), "alice", "", true},
		{"spaces allowed", "correct horse battery", "alice", "", true},
		{"equals username ignoring case", "AliceWonderland", "alicewonderland", "", false},
		{"equals email", "alice@example.com", "alice", "ALICE@example.com", false},
		{"control character", "abcdefghijkl\x07", "alice", "", false},
		{"invalid utf-8", "abcdefghijkl\xff", "alice", "", false},
	}
	for _, tt := range tests {
		_, err := l.CheckPassword(tt.pw, tt.user, tt.email)
		if tt.ok != (err == nil) {
			t.Errorf("%s: CheckPassword = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && ErrorField(err) != "password" {
			t.Errorf("%s: field = %q", tt.name, ErrorField(err))
		}
	}
	// NFKC: fullwidth letters count and hash as their ASCII forms.
	got, err := l.CheckPassword("ｐａｓｓｗｏｒｄ１２３４", "alice", "")
	if err != nil || got != "password1234" {
		t.Errorf("NFKC normalisation: got %q, %v", got, err)
	}
}

func TestCheckPage(t *testing.T) {
	if p, err := CheckPage(Page{}); err != nil || p.Limit != DefaultLimit {
		t.Errorf("zero page = %+v, %v", p, err)
	}
	for _, p := range []Page{{Offset: -1}, {Limit: -1}, {Limit: MaxLimit + 1}} {
		if _, err := CheckPage(p); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("CheckPage(%+v) = %v, want invalid", p, err)
		}
	}
}

func TestCheckCustomDataKey(t *testing.T) {
	for _, k := range []string{"a", "favoriteColor", "x_y-z", "_private", "9lives", strings.Repeat("k", 255)} {
		if err := CheckCustomDataKey(k); err != nil {
			t.Errorf("CheckCustomDataKey(%q) = %v", k, err)
		}
	}
	for _, k := range []string{"", "-x", "has space", "dot.ted", "ünï", strings.Repeat("k", 256),
		"href", "createdAt", "modifiedAt", "meta", "spMeta", "spmeta", "ionmeta", "ionMeta"} {
		if err := CheckCustomDataKey(k); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("CheckCustomDataKey(%q) = %v, want invalid", k, err)
		}
	}
}

func mustDecode(t *testing.T, s string) CustomData {
	t.Helper()
	d, err := DecodeCustomData([]byte(s))
	if err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return d
}

// nest returns a JSON object nested depth levels deep.
func nest(depth int) string {
	return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
}

func TestCheckCustomDataLimits(t *testing.T) {
	l := DefaultLimits()
	ok := mustDecode(t, nest(l.CustomDataMaxDepth))
	if _, err := l.CheckCustomData(ok); err != nil {
		t.Errorf("depth %d rejected: %v", l.CustomDataMaxDepth, err)
	}
	deep := mustDecode(t, nest(l.CustomDataMaxDepth+1))
	if _, err := l.CheckCustomData(deep); !errors.Is(err, ErrLimitExceeded) {
		t.Errorf("depth %d = %v, want limit exceeded", l.CustomDataMaxDepth+1, err)
	}
	big := CustomData{"blob": strings.Repeat("x", l.CustomDataMaxBytes)}
	if _, err := l.CheckCustomData(big); !errors.Is(err, ErrLimitExceeded) {
		t.Errorf("oversized = %v, want limit exceeded", err)
	}
	fits := CustomData{"blob": strings.Repeat("x", l.CustomDataMaxBytes-len(`{"blob":""}`))}
	if _, err := l.CheckCustomData(fits); err != nil {
		t.Errorf("exactly at the limit: %v", err)
	}
	if _, err := l.CheckCustomData(CustomData{"meta": 1}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("reserved name accepted: %v", err)
	}
}

// TestMergePatch runs the examples of RFC 7396, Appendix A.
func TestMergePatch(t *testing.T) {
	tests := []struct{ target, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`{"e":null}`, `{"a":1}`, `{"a":1,"e":null}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	}
	for _, tt := range tests {
		target := mustDecode(t, tt.target)
		before, _ := json.Marshal(target)
		got, _ := json.Marshal(MergePatch(target, mustDecode(t, tt.patch)))
		want, _ := json.Marshal(mustDecode(t, tt.want))
		if string(got) != string(want) {
			t.Errorf("MergePatch(%s, %s) = %s, want %s", tt.target, tt.patch, got, want)
		}
		if after, _ := json.Marshal(target); string(after) != string(before) {
			t.Errorf("MergePatch modified its target: %s -> %s", before, after)
		}
	}
}

func TestDecodeCustomData(t *testing.T) {
	d := mustDecode(t, `{"big":12345678901234567890}`)
	if n, ok := d["big"].(json.Number); !ok || n.String() != "12345678901234567890" {
		t.Errorf("number not kept exact: %#v", d["big"])
	}
	for _, s := range []string{`[1,2]`, `"str"`, `{"a":1} {"b":2}`, `{bad`} {
		if _, err := DecodeCustomData([]byte(s)); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("DecodeCustomData(%s) = %v, want invalid", s, err)
		}
	}
	if d := mustDecode(t, `null`); d == nil || len(d) != 0 {
		t.Errorf("null should decode to an empty object, got %#v", d)
	}
}

func TestThrottled(t *testing.T) {
	err := fmt.Errorf("login: %w", Throttled(90*time.Second))
	if !errors.Is(err, ErrThrottled) || ErrorCode(err) != CodeThrottled {
		t.Fatalf("Throttled does not match its sentinel: %v", err)
	}
	if RetryAfter(err) != 90*time.Second || RetryAfter(ErrNotFound) != 0 {
		t.Errorf("RetryAfter = %v", RetryAfter(err))
	}
	if errors.Is(err, ErrInvalidCredentials) {
		t.Error("throttled is not invalid credentials")
	}
}

func TestClientIP(t *testing.T) {
	ctx := WithClientIP(context.Background(), "192.0.2.7")
	if ClientIP(ctx) != "192.0.2.7" || ClientIP(context.Background()) != "" {
		t.Errorf("ClientIP = %q", ClientIP(ctx))
	}
}
