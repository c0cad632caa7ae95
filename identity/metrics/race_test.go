//go:build race

package metrics_test

// raceEnabled: under the race detector sync.Pool drops a share of what is
// put back, at random, so allocation counts of code that pools (Echo's
// contexts) are noise.
const raceEnabled = true
