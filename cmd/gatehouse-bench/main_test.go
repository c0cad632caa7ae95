package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
)

// TestBenchRuns runs the fast scenarios briefly: every scenario must get
// answers, all of the expected status, and a ratio to the baseline.
func TestBenchRuns(t *testing.T) {
	var out, errOut bytes.Buffer
	err := runMain(context.Background(), []string{"-duration", "300ms", "-warmup", "0", "-concurrency", "4", "-json", "-only", "1,2,3,4,5"}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	var report struct{ Results []Result }
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	// The baseline once, then scenarios 2 to 5, each with its own baseline.
	if len(report.Results) != 5 {
		t.Fatalf("got %d results, want 5: %+v", len(report.Results), report.Results)
	}
	for _, r := range report.Results[1:] {
		if r.Baseline <= 0 {
			t.Errorf("%s has no baseline of its own", r.Name)
		}
	}
	for _, r := range report.Results {
		if r.Requests == 0 || r.Errors != 0 || r.Ratio <= 0 {
			t.Errorf("%s: %+v", r.Name, r)
		}
	}
}

func TestBadFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := runMain(context.Background(), []string{"-concurrency", "0"}, &out, &errOut); err == nil {
		t.Error("concurrency 0 accepted")
	}
}
