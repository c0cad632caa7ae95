package main

import (
	"context"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Scenario is one kind of request sent at full speed.
type Scenario struct {
	Name string
	// New returns a request for one worker; workers reuse it.
	New func() *http.Request
	// Want is the status every answer must have.
	Want int
	// Concurrency overrides the global concurrency: KDF-bound scenarios run
	// one client per core, since more only queue behind the KDF.
	Concurrency int
	// Warm scenarios measure what the caches remembered: one request is
	// sent and answered before any measurement, whatever -warmup says.
	Warm bool
}

// Result is what a scenario measured.
type Result struct {
	Name     string  `json:"name"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	RPS      float64 `json:"rps"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	Ratio    float64 `json:"ratio_to_baseline"`
	// Baseline is the req/s of the baseline run measured right before.
	Baseline float64 `json:"baseline_rps,omitempty"`
	// VsKDF is a login scenario's req/s over the raw KDF rate measured
	// right after it, in the same round.
	VsKDF float64 `json:"ratio_to_kdf,omitempty"`
	// PairedWith names the scenario a measurement that is not HTTP (the
	// raw KDF) is compared with.
	PairedWith string `json:"paired_with,omitempty"`
	Note       string `json:"note,omitempty"`
}

// run drives s with concurrency workers for d and measures it. Each worker
// keeps its own latency slice, so measuring costs no shared lock.
func run(ctx context.Context, client *http.Client, s Scenario, concurrency int, d time.Duration) Result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		wg     sync.WaitGroup
		errors atomic.Int64
		mu     sync.Mutex
		all    []time.Duration
	)
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 1<<14)
			for ctx.Err() == nil {
				req := s.New().WithContext(ctx)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errors.Add(1)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(t0))
				if resp.StatusCode != s.Want {
					errors.Add(1)
				}
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(all)
	return Result{
		Name:     s.Name,
		Requests: len(all),
		Errors:   int(errors.Load()),
		RPS:      float64(len(all)) / elapsed.Seconds(),
		P50:      ms(percentile(all, 0.50)),
		P99:      ms(percentile(all, 0.99)),
	}
}

// rate runs fn in concurrency goroutines for d and returns calls per second:
// the raw cost of something that is not an HTTP request (a KDF run).
func rate(concurrency int, d time.Duration, fn func()) float64 {
	var n atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				fn()
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
