package directory_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/mock"
)

// TestAccountUpdateFailsWhole: an account update carrying inline custom
// data either applies both or neither.
func TestAccountUpdateFailsWhole(t *testing.T) {
	tenants(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		a := h.mustAccount("alice", "alice@example.com")
		h.mustAccount("bob", "bob@example.com")
		if _, err := h.p.ReplaceCustomData(ctx, a.ID, identity.CustomData{"keep": "me"}); err != nil {
			t.Fatal(err)
		}
		path := "/v1/accounts/" + a.ID

		// The custom data is too large: the name change must not stay.
		h.post(path, map[string]any{"givenName": "Changed", "customData": map[string]any{"blob": strings.Repeat("x", 70_000)}}).expect(400, "limit_exceeded")
		// The username is taken: the custom data change must not stay.
		h.post(path, map[string]any{"username": "bob", "customData": map[string]any{"keep": "overwritten", "new": 1}}).expect(409, "conflict")

		got, err := h.p.Account(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.GivenName != a.GivenName || got.Username != "alice" {
			t.Errorf("account changed by failed updates: %+v", got)
		}
		cd, err := h.p.CustomData(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(cd) != 1 || cd["keep"] != "me" {
			t.Errorf("custom data changed by failed updates: %v", cd)
		}
		// A good update applies both.
		h.post(path, map[string]any{"givenName": "Alice", "customData": map[string]any{"new": true}}).expect(200)
		if got, _ := h.p.Account(ctx, a.ID); got.GivenName != "Alice" {
			t.Errorf("given name not applied: %q", got.GivenName)
		}
		if cd, _ := h.p.CustomData(ctx, a.ID); cd["new"] != true || cd["keep"] != "me" {
			t.Errorf("custom data not merged: %v", cd)
		}
	})
}

// TestThrottledHasRetryAfter: a throttled login attempt answers 429 with
// the wait both in the body and in the Retry-After header.
func TestThrottledHasRetryAfter(t *testing.T) {
	h := newStatic(t)
	h.p.(*mock.Provider).Fail(mock.OpAuthenticate, identity.Throttled(42*time.Second))
	r := h.post(h.appPath("loginAttempts"), map[string]string{"type": "basic", "value": b64("alice:whatever password")}).expect(429, "throttled")
	if got := r.Header.Get("Retry-After"); got != "42" {
		t.Errorf("Retry-After = %q, want 42", got)
	}
	if r.Num("retryAfter") != 42 {
		t.Errorf("retryAfter = %d", r.Num("retryAfter"))
	}
}
