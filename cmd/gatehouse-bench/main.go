// Command gatehouse-bench measures Gatehouse's authenticated request path
// against a baseline (GET /healthz on the same server) and against the
// naive implementation a newcomer would write (Echo's BasicAuth with a
// bcrypt comparison on every request). It starts the servers it needs
// in-process on loopback, or targets a running API server with -url, runs
// each scenario for a fixed duration at a given concurrency, and prints
// req/s, p50, p99 and the ratio to the baseline of the same run.
//
//	go run ./cmd/gatehouse-bench -duration 5s -concurrency 32
//	go run ./cmd/gatehouse-bench -json
//	go run ./cmd/gatehouse-bench -url http://127.0.0.1:5000
//
// Scenario 9 drives the directory's login attempts with correct passwords,
// against the raw argon2id rate measured right after it.
//
// Two subcommands measure the directory's look-ups as its database grows:
//
//	go run ./cmd/gatehouse-bench seed -database PATH_OR_DSN -accounts 1000000 -keys-per-account 1
//	go run ./cmd/gatehouse-bench scale -database postgres://postgres@127.0.0.1:5432/postgres -sizes 1000,1000000
//
// seed bulk-loads accounts and API keys into a database; scale seeds one
// throwaway database per size, serves a directory over each, and measures
// the calls an API server makes (account by id, by username, by email, API
// key verification) at every size, side by side. Run either with -h.
//
// Ratios, not absolute figures, are what to compare between machines: the
// load generator shares the machine with the servers.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse-bench:", err)
		os.Exit(1)
	}
}

// options are the command line.
type options struct {
	duration    time.Duration
	warmup      time.Duration
	concurrency int
	rounds      int
	json        bool
	only        string
	url         string
	cpuprofile  string
	trace       string
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "seed":
			return runSeed(ctx, args[1:], stdout, stderr)
		case "scale":
			return runScale(ctx, args[1:], stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("gatehouse-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	o.flags(fs)
	fs.StringVar(&o.url, "url", "", "target a running API server instead of starting one (runs the API scenarios only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	stopProfiles, err := o.startProfiles()
	if err != nil {
		return err
	}
	defer stopProfiles()

	var b *bench
	if o.url != "" {
		b, err = targetBench(ctx, o.url)
	} else {
		b, err = localBench(ctx, stderr)
	}
	if err != nil {
		return err
	}
	defer b.close()

	client := newClient(o.concurrency)
	if err := prime(ctx, client, b.scenarios, o.only); err != nil {
		return err
	}
	// Each scenario is measured right after a baseline run of its own, and
	// its ratio is to that baseline: on a shared machine the capacity drifts
	// within seconds, and a ratio to a baseline measured a minute earlier
	// measures the drift as much as the scenario.
	var base Scenario
	for _, s := range b.scenarios {
		if s.Name == baselineName {
			base = s
		}
	}
	var results []Result
	measure := func(s Scenario) Result {
		n := o.concurrency
		if s.Concurrency > 0 {
			n = s.Concurrency
		}
		if o.warmup > 0 {
			run(ctx, client, s, n, o.warmup)
			time.Sleep(settle)
		}
		r := run(ctx, client, s, n, o.duration)
		// Let the server finish work for requests the deadline cut off, so
		// it does not slow the next measurement down.
		time.Sleep(settle)
		return r
	}
	var rounds [][]Result
	for round := range o.rounds {
		if o.rounds > 1 {
			fmt.Fprintf(stderr, "round %d of %d\n", round+1, o.rounds)
		}
		results = nil
		for _, s := range b.scenarios {
			if s.Name == baselineName || !selected(o.only, s.Name) {
				continue
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fmt.Fprintf(stderr, "running %s, with its baseline...\n", s.Name)
			br := measure(base)
			br.Ratio = 1
			r := measure(s)
			if br.RPS > 0 {
				r.Ratio = r.RPS / br.RPS
			}
			r.Baseline = br.RPS
			if len(results) == 0 {
				results = append(results, br)
			}
			results = append(results, r)
			// Measurements that are not HTTP (the raw KDF) run right after the
			// scenario of their number, which is compared with them.
			at := len(results) - 1
			for _, extra := range b.extras {
				if strings.SplitN(extra.name, " ", 2)[0] == strings.SplitN(s.Name, " ", 2)[0] && selected(o.only, extra.name) {
					fmt.Fprintf(stderr, "running %s...\n", extra.name)
					er := extra.run(o)
					er.PairedWith = s.Name
					if er.RPS > 0 {
						results[at].VsKDF = r.RPS / er.RPS
					}
					results = append(results, er)
				}
			}
		}
		rounds = append(rounds, results)
	}
	results = medianRounds(rounds)
	if len(results) == 0 && selected(o.only, baselineName) {
		br := measure(base)
		br.Ratio = 1
		results = append(results, br)
	}
	describe(results)
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{
			"duration": o.duration.String(), "concurrency": o.concurrency, "results": results,
		})
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\treq/s\tp50 ms\tp99 ms\tbaseline req/s\tvs baseline\terrors\tnote")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%.0f\t%.3f\t%.3f\t%.0f\t%.3f\t%d\t%s\n", r.Name, r.RPS, r.P50, r.P99, r.Baseline, r.Ratio, r.Errors, r.Note)
	}
	return tw.Flush()
}

// prime sends one request of each selected warm scenario and waits for its
// answer, so that the credential is in the server's cache before anything
// is measured (a first login costs a KDF run, which on a loaded machine
// can outlast a short measurement). A wrong answer stops the run: the
// scenario would measure failures.
func prime(ctx context.Context, client *http.Client, scenarios []Scenario, only string) error {
	for _, s := range scenarios {
		if !s.Warm || !selected(only, s.Name) {
			continue
		}
		resp, err := client.Do(s.New().WithContext(ctx))
		if err != nil {
			return fmt.Errorf("priming %s: %w", s.Name, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != s.Want {
			return fmt.Errorf("priming %s: status %d, want %d", s.Name, resp.StatusCode, s.Want)
		}
	}
	return nil
}

// newClient returns the load generator's client: enough idle connections
// that no request waits for a new one.
func newClient(concurrency int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns:        concurrency * 4,
		MaxIdleConnsPerHost: concurrency * 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
}

// flags defines the measurement flags every command shares.
func (o *options) flags(fs *flag.FlagSet) {
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "how long each scenario runs")
	fs.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "unmeasured run before each scenario")
	fs.IntVar(&o.concurrency, "concurrency", 32, "concurrent clients")
	fs.IntVar(&o.rounds, "rounds", 1, "repeat every measurement this many times and report medians")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of a table")
	fs.StringVar(&o.only, "only", "", "comma-separated scenario names (or name prefixes) to run")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run (servers included) to this file")
	fs.StringVar(&o.trace, "trace", "", "write an execution trace of the whole run to this file (go tool trace)")
}

// startProfiles starts the CPU profile and the execution trace the flags
// ask for; the servers run in this process, so both cover them too.
func (o *options) startProfiles() (stop func(), err error) {
	var stops []func()
	stop = func() {
		for _, f := range slices.Backward(stops) {
			f()
		}
	}
	start := func(path string, begin func(io.Writer) error, end func()) error {
		if path == "" {
			return nil
		}
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := begin(f); err != nil {
			f.Close()
			return err
		}
		stops = append(stops, func() { end(); f.Close() })
		return nil
	}
	if err := start(o.cpuprofile, pprof.StartCPUProfile, pprof.StopCPUProfile); err != nil {
		return nil, err
	}
	if err := start(o.trace, trace.Start, trace.Stop); err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

func (o *options) check() error {
	if o.concurrency < 1 || o.duration <= 0 || o.rounds < 1 {
		return errors.New("-concurrency and -rounds must be at least 1 and -duration positive")
	}
	return nil
}

func selected(only, name string) bool {
	if only == "" {
		return true
	}
	for _, o := range strings.Split(only, ",") {
		if o = strings.TrimSpace(o); o != "" && strings.HasPrefix(name, o) {
			return true
		}
	}
	return false
}

// bench is a prepared set of scenarios and the servers behind them.
type bench struct {
	scenarios []Scenario
	// extras are measurements that are not HTTP scenarios (the raw KDF).
	extras []extra
	close  func()
}

type extra struct {
	name string
	run  func(options) Result
}

const baselineName = "1 baseline GET /healthz"

// settle is the pause between scenarios.
const settle = 300 * time.Millisecond

// get returns a Scenario's request maker for a GET with an Authorization
// header.
func get(url, auth string) func() *http.Request {
	return func() *http.Request {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return req
	}
}

// medianRounds combines the rounds (which list the same results in the
// same order): each row is the whole result of its median round, so that
// its req/s, baseline and ratios belong together; ranked by the figure the
// row is about (its ratio to the KDF, else its ratio to the baseline, else
// its req/s). A row paired with another (the raw KDF with the login
// scenario measured just before it) shows the round of that one. Errors
// are the sum over the rounds.
func medianRounds(rounds [][]Result) []Result {
	if len(rounds) == 1 {
		return rounds[0]
	}
	n := len(rounds[0])
	chosen := make([]int, n)
	index := map[string]int{}
	for i := range n {
		index[rounds[0][i].Name] = i
		order := make([]int, len(rounds))
		for r := range order {
			order[r] = r
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rounds[a][i].rank(), rounds[b][i].rank()) })
		chosen[i] = order[len(order)/2]
	}
	for i := range n {
		if j, ok := index[rounds[0][i].PairedWith]; ok {
			chosen[i] = chosen[j]
		}
	}
	out := make([]Result, n)
	for i := range out {
		out[i] = rounds[chosen[i]][i]
		out[i].Errors = 0
		for _, round := range rounds {
			out[i].Errors += round[i].Errors
		}
	}
	return out
}

// rank is the figure a result is about, for picking its median round.
func (r Result) rank() float64 {
	switch {
	case r.VsKDF > 0:
		return r.VsKDF
	case r.Baseline > 0:
		return r.Ratio
	}
	return r.RPS
}

// describe writes the notes of the table from the figures.
func describe(rs []Result) {
	byName := map[string]*Result{}
	for i := range rs {
		byName[rs[i].Name] = &rs[i]
	}
	for i := range rs {
		switch r := &rs[i]; {
		case r.VsKDF > 0:
			r.Note = fmt.Sprintf("%.2f of the raw KDF rate", r.VsKDF)
		case r.PairedWith != "":
			r.Note = "not HTTP: the KDF alone"
		}
	}
	if warm, ok := byName["2 basic password, warm"]; ok {
		if n, ok := byName[naiveName]; ok && n.RPS > 0 {
			n.Note = fmt.Sprintf("warm password is %.0fx this", warm.RPS/n.RPS)
		}
	}
}
