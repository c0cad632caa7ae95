package directory_test

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity/directory"
	"github.com/gatehouse-id/gatehouse/identity/metrics"
)

// TestOpenAPICoversEveryRoute: every route registered in Echo, with every
// optional part of the server on, appears in the OpenAPI document with its
// method, and the document names no route the server does not have.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	h := newStatic(t)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	r := h.do(req{method: "GET", path: "/v1/openapi.json", noAuth: true}).expect(200)
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	if string(directory.OpenAPI()) != string(r.Body) {
		t.Fatal("OpenAPI() differs from what is served")
	}
	m, err := metrics.New(metrics.NewRegistry(), metrics.BuildInfo{})
	if err != nil {
		t.Fatal(err)
	}
	full := directory.New(directory.Config{Metrics: m},
		directory.StaticTenant(directory.Application{ID: h.appID, Name: h.app}, h.p, h.keyID, h.secret), nil)
	param := regexp.MustCompile(`:([A-Za-z]+)`)
	served := map[string]bool{}
	for _, rt := range full.Routes() {
		if strings.HasPrefix(rt.Method, "echo_") { // Echo's internal not-found routes
			continue
		}
		served[strings.ToLower(rt.Method)+" "+param.ReplaceAllString(rt.Path, "{$1}")] = true
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options":
				documented[method+" "+path] = true
			}
		}
	}
	var missing, extra []string
	for k := range served {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("routes missing from openapi.json: %v\ndocumented routes not served: %v", missing, extra)
	}
	if len(served) < 40 {
		t.Fatalf("only %d routes", len(served))
	}
}
