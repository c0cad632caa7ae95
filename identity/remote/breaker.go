package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/gatehouse-id/gatehouse/identity"
)

// Defaults of the circuit breaker.
const (
	// DefaultBreakerThreshold is the number of consecutive unavailable
	// calls that opens the breaker when Config.BreakerThreshold is zero.
	DefaultBreakerThreshold = 5
	// DefaultBreakerCooldown is how long the breaker stays open when
	// Config.BreakerCooldown is zero.
	DefaultBreakerCooldown = 5 * time.Second
)

// The states BreakerState reports.
const (
	BreakerClosed   = "closed"
	BreakerOpen     = "open"
	BreakerHalfOpen = "half-open"
	// BreakerDisabled: Config.BreakerThreshold is negative.
	BreakerDisabled = "disabled"
)

// ErrBreakerOpen is wrapped (inside an identity.ErrUnavailable) in the
// error of a call that the circuit breaker refused: it was not sent.
var ErrBreakerOpen = errors.New("remote: the directory's circuit breaker is open; the call was not sent")

// breaker stops calling a failing directory for a cool-down. It counts
// logical calls, not attempts: a call that failed after its retries is one
// failure. Only identity.ErrUnavailable is a failure; every other answer
// (a domain 4xx, throttling, a rejected admin key) shows that the
// directory is up and counts as a success. The caller's own cancellation
// or deadline says nothing about the directory and is not counted.
type breaker struct {
	cb        *gobreaker.TwoStepCircuitBreaker[struct{}]
	threshold int
	cooldown  time.Duration
}

// newBreaker returns the breaker of cfg, or nil when it is disabled.
func newBreaker(cfg Config, log *slog.Logger) *breaker {
	if cfg.BreakerThreshold < 0 {
		return nil
	}
	b := &breaker{threshold: cfg.BreakerThreshold, cooldown: cfg.BreakerCooldown}
	if b.threshold == 0 {
		b.threshold = DefaultBreakerThreshold
	}
	if b.cooldown <= 0 {
		b.cooldown = DefaultBreakerCooldown
	}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "directory",
		MaxRequests: 1, // one probe in half-open
		Interval:    0, // closed: counts reset on a success only
		Timeout:     b.cooldown,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= uint32(b.threshold) },
		IsSuccessful: func(err error) bool {
			return err == nil || !errors.Is(err, identity.ErrUnavailable)
		},
		IsExcluded: func(err error) bool {
			return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
		},
		OnStateChange: func(_ string, from, to gobreaker.State) {
			switch to {
			case gobreaker.StateOpen:
				log.Warn("directory circuit breaker opened: calls fail at once until the cool-down ends",
					"from", from.String(), "consecutive_failures", b.threshold, "cooldown", b.cooldown)
			case gobreaker.StateHalfOpen:
				log.Info("directory circuit breaker half-open: probing the directory with one call")
			case gobreaker.StateClosed:
				log.Info("directory circuit breaker closed: the directory answers again")
			}
		},
	})
	return b
}

// allow asks to send a call. It returns the function that reports the
// call's outcome, or an identity.ErrUnavailable wrapping ErrBreakerOpen
// when the call must fail at once.
func (b *breaker) allow(c *call) (func(error), error) {
	if b == nil {
		return func(error) {}, nil
	}
	done, err := b.cb.Allow()
	if err != nil {
		why := "open"
		if errors.Is(err, gobreaker.ErrTooManyRequests) {
			why = "half-open, its probe under way"
		}
		return nil, identity.Unavailable(fmt.Errorf("%s %s: %w (%s; cool-down %v)", c.method, c.path, ErrBreakerOpen, why, b.cooldown))
	}
	return done, nil
}

func (b *breaker) state() string {
	if b == nil {
		return BreakerDisabled
	}
	return b.cb.State().String() // closed, half-open or open
}

// BreakerState reports the circuit breaker's state: "closed" (calls are
// sent), "open" (calls fail at once with identity.ErrUnavailable, without
// being sent, until the cool-down ends), "half-open" (one probe call is
// let through; its success closes the breaker) or "disabled".
func (p *Provider) BreakerState() string { return p.breaker.state() }
