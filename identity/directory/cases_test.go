package directory_test

import (
	"strings"
	"testing"
)

// tcase is one handler test in given/when/expect form: given arranges
// state and returns values to substitute for {name} in the request's path,
// body and headers; when is the request; expect checks the answer.
type tcase struct {
	name    string
	given   func(t *testing.T, h *harness) vars
	when    req
	status  int
	errCode string // the wire error code expected, for errors
	field   string // the wire error field expected, if any
	expect  func(t *testing.T, h *harness, v vars, r *resp)
}

// vars are the values given returns.
type vars map[string]string

func (v vars) sub(s string) string {
	for k, val := range v {
		s = strings.ReplaceAll(s, "{"+k+"}", val)
	}
	return s
}

// run runs every case on a fresh harness made by mk.
func run(t *testing.T, mk func(t *testing.T) *harness, cases []tcase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := mk(t)
			v := vars{"app": h.appID}
			if tc.given != nil {
				for k, val := range tc.given(t, h) {
					v[k] = val
				}
			}
			rq := tc.when
			rq.path = v.sub(rq.path)
			if s, ok := rq.body.(string); ok {
				rq.body = v.sub(s)
			}
			if rq.auth != "" {
				rq.auth = v.sub(rq.auth)
			}
			hdr := map[string]string{}
			for k, val := range rq.header {
				hdr[k] = v.sub(val)
			}
			rq.header = hdr
			r := h.do(rq)
			if tc.status != 0 && r.Code != tc.status {
				t.Fatalf("%s %s: status %d, want %d; body: %s", rq.method, rq.path, r.Code, tc.status, r.Body)
			}
			if r.Code >= 400 {
				checkErrorShape(t, r)
			}
			if tc.errCode != "" {
				if got := r.Str("error"); got != tc.errCode {
					t.Fatalf("error %q, want %q; body: %s", got, tc.errCode, r.Body)
				}
			}
			if tc.field != "" {
				if got := r.Str("field"); got != tc.field {
					t.Fatalf("field %q, want %q; body: %s", got, tc.field, r.Body)
				}
			}
			if tc.expect != nil {
				tc.expect(t, h, v, r)
			}
		})
	}
}

// runAll runs the cases on every kind of tenant.
func runAll(t *testing.T, cases []tcase) {
	t.Helper()
	t.Run("static", func(t *testing.T) { run(t, newStatic, cases) })
	t.Run("sqlite", func(t *testing.T) { run(t, newSQLite, cases) })
	t.Run("postgres", func(t *testing.T) { run(t, newPostgres, cases) })
}

func newSQLite(t *testing.T) *harness   { return newSQL(t, t.TempDir()+"/dir.db") }
func newPostgres(t *testing.T) *harness { return newSQL(t, postgresDSN(t)) }
