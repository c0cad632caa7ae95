package openapitest_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/api/openapitest"
)

const document = `{
  "openapi": "3.1.0",
  "info": {"title": "pets", "version": "1"},
  "servers": [{"url": "http://127.0.0.1:9999"}],
  "paths": {
    "/pets": {
      "post": {
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PetWrite"}}}},
        "responses": {
          "201": {"description": "Created", "headers": {"Location": {"required": true, "schema": {"type": "string"}}},
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}},
          "400": {"description": "Bad", "content": {"application/problem+json": {"schema": {"type": "object"}}}}
        }
      }
    },
    "/pets/{id}": {
      "get": {
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": {
          "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}
        }
      }
    }
  },
  "components": {
    "schemas": {
      "Pet": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
              "required": ["id", "name"], "additionalProperties": false},
      "PetWrite": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"], "additionalProperties": false}
    }
  }
}`

// pets answers as the document says, except where a request asks it not
// to: ?extra adds an undocumented field, ?teapot answers 418, ?noloc
// leaves out the Location header. A POST answers 400 unless its body has
// a name; /elsewhere is a route the document does not have.
func pets(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Has("teapot") {
			w.WriteHeader(http.StatusTeapot)
			return
		}
		if r.URL.Path == "/elsewhere" {
			if q.Has("404") {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "here")
			return
		}
		body := `{"id":"1","name":"rex"}`
		if q.Has("extra") {
			body = `{"id":"1","name":"rex","owner":"ann"}`
		}
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			if !strings.Contains(string(b), `"name"`) {
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `{}`)
				return
			}
			// The name, so a test sees the request body arrived.
			var in struct{ Name string }
			_ = json.Unmarshal(b, &in)
			body = `{"id":"1","name":"` + in.Name + `"}`
			if !q.Has("noloc") {
				w.Header().Set("Location", "/pets/1")
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, body)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

type exchange struct {
	method, path, body string
	wantStatus         int
	// wantFailure is a fragment of the recorded mismatch, or "" for none.
	wantFailure string
}

func TestProxyAndRoundTripper(t *testing.T) {
	cases := []exchange{
		{method: "GET", path: "/pets/1", wantStatus: 200},
		{method: "POST", path: "/pets", body: `{"name":"rex"}`, wantStatus: 201},
		{method: "GET", path: "/pets/1?extra", wantStatus: 200, wantFailure: "owner"},
		{method: "GET", path: "/pets/1?teapot", wantStatus: 418, wantFailure: "status is not supported"},
		{method: "POST", path: "/pets?noloc", body: `{"name":"rex"}`, wantStatus: 201, wantFailure: `"Location" missing`},
		// The server takes a body the document refuses: a mismatch.
		{method: "POST", path: "/pets", body: `{"name":"rex","age":3}`, wantStatus: 201, wantFailure: "age"},
		// The server refuses it too: they agree.
		{method: "POST", path: "/pets", body: `{"nom":"rex"}`, wantStatus: 400},
		{method: "GET", path: "/elsewhere", wantStatus: 200, wantFailure: "not in the document"},
		{method: "GET", path: "/elsewhere?404", wantStatus: 404},
		{method: "DELETE", path: "/pets/1", wantStatus: 200, wantFailure: "not in the document"},
	}
	srv := pets(t)
	target, _ := url.Parse(srv.URL)
	for _, mode := range []string{"proxy", "roundtripper"} {
		t.Run(mode, func(t *testing.T) {
			for _, c := range cases {
				v, err := openapitest.New([]byte(document))
				if err != nil {
					t.Fatal(err)
				}
				base, client := srv.URL, http.DefaultClient
				if mode == "proxy" {
					proxy := httptest.NewServer(v.Proxy(target, nil))
					defer proxy.Close()
					base = proxy.URL
				} else {
					client = &http.Client{Transport: v.RoundTripper(nil)}
				}
				var body io.Reader
				if c.body != "" {
					body = strings.NewReader(c.body)
				}
				req, _ := http.NewRequest(c.method, base+c.path, body)
				if c.body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != c.wantStatus {
					t.Fatalf("%s %s: status %d, want %d", c.method, c.path, resp.StatusCode, c.wantStatus)
				}
				// Bodies pass through whole, both ways.
				if c.wantStatus == 201 && !strings.Contains(string(b), `"name":"rex"`) {
					t.Errorf("%s %s: body %s", c.method, c.path, b)
				}
				if n := v.Exchanges(); n != 1 {
					t.Errorf("%s %s: %d exchanges", c.method, c.path, n)
				}
				fs := v.Failures()
				if c.wantFailure == "" {
					if err := v.Require(); err != nil {
						t.Errorf("%s %s: %v", c.method, c.path, err)
					}
					continue
				}
				if len(fs) != 1 {
					t.Errorf("%s %s: failures %v, want one about %q", c.method, c.path, fs, c.wantFailure)
					continue
				}
				f := fs[0]
				if f.Method != c.method || f.Path != c.path || f.Status != c.wantStatus || !strings.Contains(f.Err.Error(), c.wantFailure) {
					t.Errorf("%s %s: failure %s, want one about %q", c.method, c.path, f, c.wantFailure)
				}
				if err := v.Err(); err == nil || !strings.Contains(err.Error(), f.String()) {
					t.Errorf("Err() = %v, want it to list %s", err, f)
				}
			}
		})
	}
}

// TestProxyUnreachable: when the server is down the client's connection
// drops, as it would without the proxy, and the request is still checked.
func TestProxyUnreachable(t *testing.T) {
	srv := pets(t)
	target, _ := url.Parse(srv.URL)
	srv.Close()
	v, err := openapitest.New([]byte(document))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(v.Proxy(target, nil))
	defer proxy.Close()
	resp, err := http.Post(proxy.URL+"/pets", "application/json", strings.NewReader(`{"name":"rex","age":3}`))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("status %d, want a dropped connection", resp.StatusCode)
	}
	fs := v.Failures()
	if len(fs) != 1 || fs[0].Status != 0 || !strings.Contains(fs[0].Err.Error(), "age") {
		t.Fatalf("failures %v", fs)
	}
}

func TestRequireNeedsAnExchange(t *testing.T) {
	v, err := openapitest.New([]byte(document))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Require(); !errors.Is(err, openapitest.ErrNoExchanges) {
		t.Fatalf("Require() = %v", err)
	}
	if err := v.Err(); err != nil {
		t.Fatalf("Err() = %v", err)
	}
}

func TestNewRefusesAnInvalidDocument(t *testing.T) {
	for _, doc := range []string{
		`{`,
		`{"openapi": "3.1.0", "info": {"title": "x", "version": "1"}, "paths": {"/a": {"get": {"responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Nope"}}}}}}}}}`,
		`{"info": {"title": "x", "version": "1"}, "paths": {}}`,
	} {
		if _, err := openapitest.New([]byte(doc)); err == nil {
			t.Errorf("New(%.60s...) succeeded", doc)
		}
	}
}

// TestCloneRecordsApart: a clone checks against the same document and
// keeps its own record.
func TestCloneRecordsApart(t *testing.T) {
	srv := pets(t)
	v, err := openapitest.New([]byte(document))
	if err != nil {
		t.Fatal(err)
	}
	c := v.Clone()
	resp, err := (&http.Client{Transport: c.RoundTripper(nil)}).Get(srv.URL + "/pets/1?extra")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c.Exchanges() != 1 || len(c.Failures()) != 1 {
		t.Fatalf("clone: %d exchanges, failures %v", c.Exchanges(), c.Failures())
	}
	if v.Exchanges() != 0 || v.Err() != nil {
		t.Fatalf("original: %d exchanges, %v", v.Exchanges(), v.Err())
	}
}
