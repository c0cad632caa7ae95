package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDirectoryRedirectURIs(t *testing.T) {
	e := directoryEnv(t)
	r := mustRun(t, e, "", "directory", "bootstrap", "--application", "webapp",
		"--redirect-uri", "HTTPS://API.example.com:443/login/callback", "--redirect-uri", "http://127.0.0.1:5000/login/callback")
	parseBootstrap(t, r.stdout) // the key is still the only output
	list := func() string {
		t.Helper()
		return mustRun(t, e, "", "directory", "redirect-uris", "list", "--application", "webapp", "-o", "json").stdout
	}
	if got, want := list(), jsonURIs("items", "http://127.0.0.1:5000/login/callback", "https://api.example.com/login/callback"); got != want {
		t.Fatalf("list after bootstrap = %q, want %q", got, want)
	}
	// Bootstrapping again (another key) leaves the list alone.
	mustRun(t, e, "", "directory", "bootstrap", "--application", "webapp")
	if got := list(); got != jsonURIs("items", "http://127.0.0.1:5000/login/callback", "https://api.example.com/login/callback") {
		t.Fatalf("list after a second bootstrap = %q", got)
	}

	r = mustRun(t, e, "", "directory", "redirect-uris", "add", "--application", "webapp", "https://Other.example.com/cb", "https://api.example.com/login/callback")
	if r.stdout != "REDIRECT URI\nhttps://other.example.com/cb\nhttps://api.example.com/login/callback\n" {
		t.Fatalf("add printed %q", r.stdout)
	}
	r = mustRun(t, e, "", "directory", "redirect-uris", "remove", "--application", "webapp", "HTTPS://api.example.com/login/callback", "-o", "json")
	if r.stdout != jsonURIs("removed", "https://api.example.com/login/callback") {
		t.Fatalf("remove printed %q", r.stdout)
	}
	want := jsonURIs("items", "http://127.0.0.1:5000/login/callback", "https://other.example.com/cb")
	if got := list(); got != want {
		t.Fatalf("list after add and remove = %q, want %q", got, want)
	}

	// Refusals: nothing changes.
	for _, args := range [][]string{
		{"add", "--application", "webapp", "https://ok.example.com/cb", "http://evil.example.com/cb"},
		{"add", "--application", "webapp", "https://*.example.com/cb"},
		{"remove", "--application", "webapp", "https://never-added.example.com/cb"},
		{"list", "--application", "nosuchapp"},
		{"add", "--application", "webapp"},
	} {
		r := gatehouse(t, e, "", append([]string{"directory", "redirect-uris"}, args...)...)
		if r.err == nil {
			t.Errorf("redirect-uris %v succeeded", args)
		}
	}
	if got := list(); got != want {
		t.Fatalf("refused commands changed the list: %q", got)
	}
	r = gatehouse(t, e, "", "directory", "redirect-uris", "add", "--application", "webapp", "http://evil.example.com/cb")
	if r.err == nil || !strings.Contains(r.stderr+r.err.Error(), "https") {
		t.Errorf("a plain-http non-loopback URI: %v %s", r.err, r.stderr)
	}
}

func TestBootstrapRefusesBadRedirectURIFirst(t *testing.T) {
	e := directoryEnv(t)
	r := gatehouse(t, e, "", "directory", "bootstrap", "--application", "webapp", "--redirect-uri", "https://ok.example.com/cb", "--redirect-uri", "not a uri")
	if r.err == nil || r.stdout != "" {
		t.Fatalf("bootstrap with a bad redirect URI: err %v, stdout %q", r.err, r.stdout)
	}
	// No application was made: the list cannot find it.
	if r := gatehouse(t, e, "", "directory", "redirect-uris", "list", "--application", "webapp"); r.err == nil {
		t.Errorf("the application exists after a refused bootstrap: %q", r.stdout)
	}
}

// jsonURIs is what -o json prints for the webapp application's URIs under
// key.
func jsonURIs(key string, uris ...string) string {
	b, _ := json.MarshalIndent(map[string]any{"application": "webapp", key: uris}, "", "  ")
	return string(b) + "\n"
}
