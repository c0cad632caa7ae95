package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// env is a fake environment for run.
type env map[string]string

func (e env) getenv(k string) string { return e[k] }

// result is what one run printed and returned.
type result struct {
	stdout, stderr string
	err            error
}

// gatehouse runs the command line in-process with e as the environment and
// stdin as standard input.
func gatehouse(t *testing.T, e env, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), append([]string{"gatehouse"}, args...), e.getenv, strings.NewReader(stdin), &stdout, &stderr)
	return result{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// mustRun is gatehouse failing the test on an error.
func mustRun(t *testing.T, e env, stdin string, args ...string) result {
	t.Helper()
	r := gatehouse(t, e, stdin, args...)
	if r.err != nil {
		t.Fatalf("gatehouse %s: %v\nstderr: %s", strings.Join(args, " "), r.err, r.stderr)
	}
	return r
}

// writeFile writes content to name in a temporary directory and returns its
// path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader in different
// goroutines (the server logs while the test reads).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runAsync starts run in a goroutine; the returned channel receives its
// error.
func runAsync(ctx context.Context, e env, stderr *syncBuffer, args ...string) <-chan error {
	done := make(chan error, 1)
	go func() {
		var stdout bytes.Buffer
		done <- run(ctx, append([]string{"gatehouse"}, args...), e.getenv, strings.NewReader(""), &stdout, stderr)
	}()
	return done
}

// writeFileAt writes content to path.
func writeFileAt(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
