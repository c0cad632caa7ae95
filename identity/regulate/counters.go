package regulate

import (
	"context"
	"time"
)

// Key names one log of failed attempts and how it is read.
type Key struct {
	// Name identifies the log. The Regulator builds names from a hash of
	// the folded login (never the login itself) and the client's network;
	// implementations may prefix them.
	Name string
	// Window is how long an entry counts: entries at or before now-Window
	// are dropped.
	Window time.Duration
	// Nth asks for the time of the Nth newest entry in Log.Nth (1 is the
	// newest).
	Nth int
}

// A log holds no more than it must. It has no cap of its own: dropping the
// oldest entries past a cap would, under a flood of refused attempts
// (whose entries stay until they are taken back), drop the failures that
// refuse them. Its size is bounded anyway: entries leave with the window,
// a refused attempt is taken back at once, and admitted attempts are few,
// because the limits refuse the rest.

// Log summarises one log as of some time.
type Log struct {
	// Count is the number of entries within the window.
	Count int
	// Nth is the time of the Key.Nth newest entry within the window, or
	// the zero time when Count < Key.Nth.
	Nth time.Time
}

// Counters store the failure logs, for one process (NewMemory) or for
// every replica sharing a Redis (NewRedis). Implementations are safe for
// concurrent use and keep times at millisecond precision.
//
// Every attempt is first recorded (Add) and then, once its outcome is
// known, kept (a failure) or taken back (Remove). Recording before deciding
// is what makes the limit hold under concurrency: a burst of simultaneous
// guesses sees its own entries, so no more than the limit get through.
type Counters interface {
	// Add reads the logs of keys as of now and then, in the same atomic
	// step, appends an entry named id at now to each. It returns the logs
	// as they were before the entry was added, one per key in order.
	Add(ctx context.Context, now time.Time, id uint64, keys ...Key) ([]Log, error)
	// Remove deletes the entry named id from each named log: the attempt
	// was refused, succeeded, or could not be decided.
	Remove(ctx context.Context, id uint64, names ...string) error
	// Reset empties the named logs.
	Reset(ctx context.Context, names ...string) error
}
