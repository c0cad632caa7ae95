// Package openapitest validates HTTP exchanges against an OpenAPI 3
// document, so that a document cannot drift from the server it describes.
//
// A Validator checks every request and its response, bodies and headers
// included, with kin-openapi's openapi3filter, and records each mismatch.
// It sits in front of a server as a reverse proxy (Proxy) or under a client
// as an http.RoundTripper (RoundTripper); a test then fails on Err.
//
// Authentication is not checked against the document's security schemes:
// the servers under test do that for real, and a request with wrong
// credentials is still a well-formed request.
package openapitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Failure is one exchange that does not match the document.
type Failure struct {
	Method string
	Path   string // with the query string, if any
	// Status is the response's status, or 0 when there was no response.
	Status int
	Err    error
}

func (f Failure) String() string {
	status := "no response"
	if f.Status != 0 {
		status = fmt.Sprint(f.Status)
	}
	return fmt.Sprintf("%s %s → %s: %v", f.Method, f.Path, status, f.Err)
}

// Validator checks exchanges against one document. It is safe for
// concurrent use.
type Validator struct {
	router  routers.Router
	options *openapi3filter.Options

	mu        sync.Mutex
	exchanges int
	failures  []Failure
}

// New loads and validates an OpenAPI 3.0 or 3.1 document (JSON or YAML).
// Operations are matched by path and method alone: the document's servers
// name the default address, and a test server listens elsewhere.
func New(document []byte) (*Validator, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(document)
	if err != nil {
		return nil, fmt.Errorf("openapitest: load document: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapitest: invalid document: %w", err)
	}
	doc.Servers = nil
	for _, item := range doc.Paths.Map() {
		item.Servers = nil
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapitest: route document: %w", err)
	}
	options := &openapi3filter.Options{
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		// A status the document does not list is a mismatch, not
		// something to let through.
		IncludeResponseStatus: true,
		MultiError:            true,
		// The request is forwarded as it was sent: defaults from the
		// document must not be written into it.
		SkipSettingDefaults: true,
		// A body on an operation that takes none is a mismatch too.
		RejectWhenRequestBodyNotSpecified: true,
	}
	// The reason says where and why; the schema and the whole value,
	// which may hold a credential, stay out of the report.
	options.WithCustomSchemaErrorFunc(schemaError)
	return &Validator{router: router, options: options}, nil
}

// schemaError words a schema mismatch as where it is, why, and what
// caused it. The JSON Schema 2020-12 validator (OpenAPI 3.1) lists every
// cause in its reason, one a line; the OpenAPI 3.0 validator gives a
// one-line reason ("doesn't match all schemas from allOf") with the
// failing branch as its origin.
func schemaError(err *openapi3.SchemaError) string {
	msg := err.Reason
	if p := err.JSONPointer(); len(p) > 0 {
		msg = "at /" + strings.Join(p, "/") + ": " + msg
	}
	if err.Origin != nil && !strings.Contains(err.Reason, "\n") {
		msg += ": " + err.Origin.Error()
	}
	return msg
}

// Clone returns a Validator for the same document with nothing recorded.
// It shares the parsed document, so it costs nothing to make: one per test
// keeps each test's mismatches apart.
func (v *Validator) Clone() *Validator {
	return &Validator{router: v.router, options: v.options}
}

// Exchanges returns how many exchanges were checked.
func (v *Validator) Exchanges() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.exchanges
}

// Failures returns the mismatches recorded so far, in order.
func (v *Validator) Failures() []Failure {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]Failure(nil), v.failures...)
}

// Err returns nil when every exchange matched the document, and otherwise
// an error listing every mismatch, one per line.
func (v *Validator) Err() error {
	fs := v.Failures()
	if len(fs) == 0 {
		return nil
	}
	lines := make([]string, len(fs))
	for i, f := range fs {
		lines[i] = f.String()
	}
	return fmt.Errorf("%d of %d exchanges do not match the OpenAPI document:\n%s",
		len(fs), v.Exchanges(), strings.Join(lines, "\n"))
}

// Check validates one exchange: the request with its body, and the
// response (status, headers, and respBody, its body read whole) when there
// is one (resp nil: the server could not be reached).
//
// A request the document rejects is a mismatch unless the server refused
// it too, with a 4xx: then the document and the server agree, as when a
// test sends a malformed request on purpose. Requests on paths or methods
// the document does not have are mismatches unless answered 404 or 405.
func (v *Validator) Check(ctx context.Context, req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) {
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	path := req.URL.EscapedPath()
	if req.URL.RawQuery != "" {
		path += "?" + req.URL.RawQuery
	}
	fail := func(err error) {
		v.mu.Lock()
		defer v.mu.Unlock()
		v.failures = append(v.failures, Failure{Method: req.Method, Path: path, Status: status, Err: err})
	}
	v.mu.Lock()
	v.exchanges++
	v.mu.Unlock()

	// The filter reads and replaces the body of the request it is given,
	// so it gets its own copy.
	in := req.Clone(ctx)
	in.Body = io.NopCloser(bytes.NewReader(reqBody))
	in.ContentLength = int64(len(reqBody))
	in.GetBody = nil

	route, params, err := v.router.FindRoute(in)
	if err != nil {
		if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
			fail(fmt.Errorf("not in the document: %w", err))
		}
		return
	}
	reqInput := &openapi3filter.RequestValidationInput{
		Request:    in,
		PathParams: params,
		Route:      route,
		Options:    v.options,
	}
	if err := openapi3filter.ValidateRequest(ctx, reqInput); err != nil {
		if status < 400 || status >= 500 {
			fail(fmt.Errorf("request: %w", err))
		}
	}
	if resp == nil {
		return
	}
	respInput := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: reqInput,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                v.options,
	}
	respInput.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(ctx, respInput); err != nil {
		fail(fmt.Errorf("response: %w", err))
	}
}

// RoundTripper returns a transport that sends every request through next
// (http.DefaultTransport if nil) and checks it and its response. It reads
// each response body whole before handing it on.
func (v *Validator) RoundTripper(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &roundTripper{v: v, next: next}
}

type roundTripper struct {
	v    *Validator
	next http.RoundTripper
}

func (rt *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("openapitest: read request body: %w", err)
		}
		body = b
	}
	// A RoundTripper must not change the request it is given.
	out := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	resp, err := rt.next.RoundTrip(out)
	if err != nil {
		rt.v.Check(req.Context(), req, body, nil, nil)
		return nil, err
	}
	respBody, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		rt.v.Check(req.Context(), req, body, nil, nil)
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	rt.v.Check(req.Context(), req, body, resp, respBody)
	return resp, nil
}

// Proxy returns a reverse proxy to target (scheme, host and optional base
// path) that checks every exchange through transport (a fresh clone of
// http.DefaultTransport if nil). When target cannot be reached, the proxy
// drops the client's connection rather than answering 502, so that a
// client sees an unreachable server as it would without the proxy.
func (v *Validator) Proxy(target *url.URL, transport http.RoundTripper) http.Handler {
	if transport == nil {
		transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// Links a server builds from Host then point at the proxy,
			// so a client following them stays under validation.
			pr.Out.Host = pr.In.Host
		},
		Transport: v.RoundTripper(transport),
		ErrorHandler: func(http.ResponseWriter, *http.Request, error) {
			panic(http.ErrAbortHandler)
		},
	}
}

// ErrNoExchanges is returned by Require when nothing was checked.
var ErrNoExchanges = errors.New("openapitest: no exchange was checked")

// Require is Err, and also an error when no exchange was checked at all:
// a proxy nobody went through proves nothing.
func (v *Validator) Require() error {
	if v.Exchanges() == 0 {
		return ErrNoExchanges
	}
	return v.Err()
}
