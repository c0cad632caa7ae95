package main

// The end-to-end walk-throughs go through reverse proxies that validate
// every exchange against the OpenAPI documents: the API's, in front of the
// API server, and the directory's, between the API server and the
// directory, so the protocol as our own client speaks it is checked too.

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/gatehouse-id/gatehouse/api"
	"github.com/gatehouse-id/gatehouse/api/openapitest"
	"github.com/gatehouse-id/gatehouse/identity/directory"
)

// validatingBases holds the base URLs of the validating proxies, so that
// a server is never validated twice over.
var validatingBases sync.Map

// validatingProxy starts a reverse proxy to base that checks every
// exchange against doc, and returns its base URL. At the end of the test
// it fails the test with every mismatch, or if nothing went through it.
func validatingProxy(t *testing.T, what string, doc []byte, base string) string {
	t.Helper()
	if _, ok := validatingBases.Load(base); ok {
		return base
	}
	v, err := openapitest.New(doc)
	if err != nil {
		t.Fatalf("%s OpenAPI document: %v", what, err)
	}
	target, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	srv := httptest.NewServer(v.Proxy(target, transport))
	validatingBases.Store(srv.URL, true)
	t.Cleanup(func() {
		srv.Close()
		transport.CloseIdleConnections()
		validatingBases.Delete(srv.URL)
		if err := v.Require(); err != nil {
			t.Errorf("%s: %v", what, err)
		}
	})
	return srv.URL
}

// validatedAPI returns p reached through a proxy that validates every
// exchange against the API's OpenAPI document.
func validatedAPI(t *testing.T, p *process) *process {
	t.Helper()
	q := *p
	q.base = validatingProxy(t, "API", api.OpenAPI(), p.base)
	return &q
}

// validatedDirectory returns the base URL of a proxy to the directory at
// base that validates every exchange against the directory's OpenAPI
// document.
func validatedDirectory(t *testing.T, base string) string {
	t.Helper()
	return validatingProxy(t, "directory", directory.OpenAPI(), base)
}
