package identity

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestRequestID(t *testing.T) {
	ctx := WithRequestID(context.Background(), "req-1")
	if got := RequestID(ctx); got != "req-1" {
		t.Errorf("RequestID = %q, want req-1", got)
	}
	if got := RequestID(context.Background()); got != "" {
		t.Errorf("RequestID of a bare context = %q", got)
	}
	// The client IP and the request id live side by side.
	ctx = WithClientIP(ctx, "192.0.2.7")
	if RequestID(ctx) != "req-1" || ClientIP(ctx) != "192.0.2.7" {
		t.Errorf("RequestID %q, ClientIP %q", RequestID(ctx), ClientIP(ctx))
	}
}

func TestValidRequestID(t *testing.T) {
	for _, tt := range []struct {
		id   string
		want bool
	}{
		{"abc-123", true},
		{"0f8e2c1a-9d3b-4c1e-8a7f-1b2c3d4e5f60", true},
		{"A.b_C-9", true},
		{strings.Repeat("a", MaxRequestIDLength), true},
		{strings.Repeat("a", MaxRequestIDLength+1), false},
		{"", false},
		{"has space", false},
		{"line\nbreak", false},
		{"crlf\r\nSet-Cookie: x=1", false},
		{`quote"`, false},
		{"json}{", false},
		{"tab\t", false},
		{"semi;colon", false},
		{"slash/", false},
		{"é", false},
		{"nul\x00", false},
	} {
		if got := ValidRequestID(tt.id); got != tt.want {
			t.Errorf("ValidRequestID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestCallerGone(t *testing.T) {
	live := context.Background()
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	late, cancelLate := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancelLate()
	wrapped := fmt.Errorf("verify password: %w", context.Canceled)
	for _, c := range []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"cancelled request, cancellation error", gone, wrapped, true},
		{"expired request, deadline error", late, fmt.Errorf("x: %w", context.DeadlineExceeded), true},
		{"live request, cancellation error from elsewhere", live, wrapped, false},
		{"cancelled request, another error", gone, ErrUnavailable, false},
		{"cancelled request, no error", gone, nil, false},
	} {
		if got := CallerGone(c.ctx, c.err); got != c.want {
			t.Errorf("%s: CallerGone = %v, want %v", c.name, got, c.want)
		}
	}
}
