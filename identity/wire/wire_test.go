package wire_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

// TestErrorsSurviveTheWire: a domain error turned into a wire body, encoded,
// decoded and turned back is the same sentinel, field and message.
func TestErrorsSurviveTheWire(t *testing.T) {
	tests := []struct {
		err      error
		sentinel error
		status   int
		code     int
	}{
		{identity.Conflict("username"), identity.ErrConflict, 409, wire.CodeDuplicate},
		{identity.Invalid("email", "The email is not a valid address."), identity.ErrInvalidInput, 400, wire.CodeInvalidValue},
		{identity.Invalid("customData.\"meta\"", "reserved"), identity.ErrInvalidInput, 400, wire.CodeCustomDataField},
		{identity.LimitExceeded("customData", "too big"), identity.ErrLimitExceeded, 400, wire.CodeCustomDataTooLarge},
		{identity.LimitExceeded("api_keys", "too many"), identity.ErrLimitExceeded, 400, wire.CodeValueTooLong},
		{identity.NotFound("account"), identity.ErrNotFound, 404, 404},
		{identity.InvalidCredentials(identity.ReasonWrongPassword), identity.ErrInvalidCredentials, 400, wire.CodeLoginFailed},
		{identity.Unavailable(errors.New("db down")), identity.ErrUnavailable, 503, 503},
		{errors.New("disk on fire"), identity.ErrUnavailable, 500, 500}, // a failing directory is an unavailable one
		{identity.Throttled(90 * time.Second), identity.ErrThrottled, 429, wire.CodeThrottled},
	}
	for _, tt := range tests {
		w := wire.ErrorFrom(tt.err, wire.CodeLoginFailed, "req-1")
		if w.Status != tt.status || w.Code != tt.code {
			t.Errorf("%v: status %d code %d, want %d %d", tt.err, w.Status, w.Code, tt.status, tt.code)
		}
		b, _ := json.Marshal(w)
		var back wire.Error
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		got := back.Err()
		if !errors.Is(got, tt.sentinel) {
			t.Errorf("%v came back as %v, not %v", tt.err, got, tt.sentinel)
		}
		if identity.ErrorCode(tt.err) != identity.CodeInternal && identity.ErrorCode(tt.err) != identity.CodeUnavailable &&
			identity.ErrorCode(tt.err) != identity.CodeInvalidCredentials && identity.ErrorCode(tt.err) != identity.CodeNotFound {
			if identity.ErrorField(got) != identity.ErrorField(tt.err) || identity.ErrorMessage(got) != identity.ErrorMessage(tt.err) {
				t.Errorf("%v: field/message changed: %q %q", tt.err, identity.ErrorField(got), identity.ErrorMessage(got))
			}
		}
	}
	// A throttle keeps its wait across the wire.
	w := wire.ErrorFrom(identity.Throttled(1500*time.Millisecond), 0, "")
	if got := identity.RetryAfter(w.Err()); got != 2*time.Second {
		t.Errorf("throttle wait across the wire = %v, want 2s", got)
	}
	// Internal detail never reaches the body.
	if b, _ := json.Marshal(wire.ErrorFrom(errors.New("password=hunter2"), 0, "")); strings.Contains(string(b), "hunter2") {
		t.Errorf("internal detail leaked: %s", b)
	}
	// Every credentials failure is the same body whatever the reason.
	a, _ := json.Marshal(wire.ErrorFrom(identity.InvalidCredentials(identity.ReasonUnknownLogin), wire.CodeLoginFailed, "x"))
	b, _ := json.Marshal(wire.ErrorFrom(identity.InvalidCredentials(identity.ReasonDisabled), wire.CodeLoginFailed, "x"))
	if string(a) != string(b) {
		t.Errorf("credentials failures differ:\n%s\n%s", a, b)
	}
}

func TestStatusWithoutBody(t *testing.T) {
	for status, sentinel := range map[int]error{
		502: identity.ErrUnavailable, 503: identity.ErrUnavailable, 504: identity.ErrUnavailable, 429: identity.ErrUnavailable,
		500: identity.ErrUnavailable, 404: identity.ErrNotFound, 409: identity.ErrConflict, 413: identity.ErrLimitExceeded,
	} {
		e := wire.Error{Status: status}
		if got := e.Err(); !errors.Is(got, sentinel) {
			t.Errorf("status %d without code = %v, want %v", status, got, sentinel)
		}
	}
}

func TestTimeAndHrefs(t *testing.T) {
	ts := wire.Time(time.Date(2026, 11, 22, 19, 47, 8, 600_000_000, time.UTC))
	b, _ := json.Marshal(ts)
	if string(b) != `"2026-11-22T19:47:08.600Z"` {
		t.Errorf("time = %s, want three fraction digits", b)
	}
	var back wire.Time
	if err := json.Unmarshal(b, &back); err != nil || !time.Time(back).Equal(time.Time(ts)) {
		t.Errorf("round trip = %v, %v", back, err)
	}
	for href, id := range map[string]string{
		"http://h:8080/v1/accounts/abc":         "abc",
		"http://h/v1/accounts/abc/":             "abc",
		"http://h/v1/accounts/abc?expand=x":     "abc",
		"/v1/groupMemberships/acc-grp":          "acc-grp",
		"https://x.example/v1/apiKeys/gk_Abc12": "gk_Abc12",
	} {
		if got := wire.LastSegment(href); got != id {
			t.Errorf("LastSegment(%q) = %q, want %q", href, got, id)
		}
	}
	a, g, ok := wire.SplitMembershipID(wire.MembershipID("acc", "grp"))
	if !ok || a != "acc" || g != "grp" {
		t.Errorf("membership id round trip: %q %q %v", a, g, ok)
	}
}
