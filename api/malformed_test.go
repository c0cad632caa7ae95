package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity"
)

// TestInvalidUTF8BodyRefused: JSON text is UTF-8 (RFC 8259 section 8.1).
// encoding/json replaces each invalid byte with U+FFFD instead of failing,
// so without a check of its own the API would store what the client did not
// send: an account named "a\uFFFDb", a password that is not the one typed.
// A body that is not UTF-8 must be a 400 that changes nothing.
func TestInvalidUTF8BodyRefused(t *testing.T) {
	f := newFixture(t)
	aliceAuth := basic("alice", alicePassword)
	for _, tc := range []struct {
		name string
		r    request
	}{
		{"username", request{method: "POST", path: "/api/users", contentType: "application/json",
			body: "{\"username\":\"a\xffb\",\"password\":\"" + alicePassword + "\"}"}},
		{"password", request{method: "POST", path: "/api/users", contentType: "application/json",
			body: "{\"username\":\"utf8pw\",\"password\":\"" + alicePassword + "\xfe\"}"}},
		{"given name, overlong", request{method: "POST", path: "/api/users", contentType: "application/json",
			body: "{\"username\":\"utf8gn\",\"password\":\"" + alicePassword + "\",\"given_name\":\"\xc0\xaf\"}"}},
		{"custom data value", request{method: "PUT", path: "/api/me/custom-data", auth: aliceAuth, contentType: "application/json",
			body: "{\"a\":\"\xff\"}"}},
		{"merged custom data value", request{method: "PATCH", path: "/api/me/custom-data", auth: aliceAuth, contentType: "application/merge-patch+json",
			body: "{\"a\":\"\xed\xa0\x80\"}"}},
		{"key name", request{method: "POST", path: "/api/me/api-keys", auth: aliceAuth, contentType: "application/json",
			body: "{\"name\":\"\xfe\"}"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.state(t)
			rec := f.do(t, tc.r)
			if rec.Code != http.StatusBadRequest {
				t.Errorf("status %d, want 400: %s", rec.Code, rec.Body)
			}
			if after := f.state(t); after != before {
				t.Errorf("the request changed the data:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// state is what the malformed-body tests must leave unchanged: the
// accounts, and alice's custom data and keys.
func (f *fixture) state(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	accs, err := f.p.ListAccounts(ctx, identity.AccountFilter{Page: identity.Page{Limit: identity.MaxLimit}})
	if err != nil {
		t.Fatal(err)
	}
	cd, err := f.p.CustomData(ctx, f.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := f.p.ListAPIKeys(ctx, f.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal([]any{accs, cd, keys})
	return string(b)
}

// TestAmbiguousJSONBodyRefused: encoding/json keeps the last of two members
// with one name (and matches struct fields ignoring case), where other
// parsers keep the first. A body such as {"username":"x","username":"y"}
// could then mean one thing to a proxy or an audit log and another here;
// it must be a 400 naming the member, and change nothing. So must data
// after the object, which dec.More would not see when it is a "}".
func TestAmbiguousJSONBodyRefused(t *testing.T) {
	f := newFixture(t)
	aliceAuth := basic("alice", alicePassword)
	pw := `"password":"` + alicePassword + `"`
	for _, tc := range []struct {
		name  string
		r     request
		field string
	}{
		{"username twice", request{method: "POST", path: "/api/users", contentType: "application/json",
			body: `{"username":"dup1",` + pw + `,"username":"dup2"}`}, "username"},
		{"username twice, differing in case", request{method: "POST", path: "/api/users", contentType: "application/json",
			body: `{"username":"dup1",` + pw + `,"Username":"dup2"}`}, "Username"},
		{"username twice, the second with a long s", request{method: "POST", path: "/api/users", contentType: "application/json",
			body: `{"username":"dup1",` + pw + `,"u\u017fername":"dup2"}`}, "uſername"},
		{"password twice", request{method: "POST", path: "/api/users", contentType: "application/json",
			body: `{"username":"dup3",` + pw + `,"password":"another long password"}`}, "password"},
		{"custom data key twice", request{method: "PUT", path: "/api/me/custom-data", auth: aliceAuth, contentType: "application/json",
			body: `{"plan":"free","plan":"pro"}`}, "plan"},
		{"nested custom data key twice", request{method: "PATCH", path: "/api/me/custom-data", auth: aliceAuth, contentType: "application/merge-patch+json",
			body: `{"limits":{"seats":1,"seats":100}}`}, "seats"},
		{"key name twice", request{method: "POST", path: "/api/me/api-keys", auth: aliceAuth, contentType: "application/json",
			body: `{"name":"a","name":"b"}`}, "name"},
		{"stray brace after the object", request{method: "POST", path: "/api/users", contentType: "application/json",
			body: `{"username":"dup4",` + pw + `}}`}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.state(t)
			rec := f.do(t, tc.r)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", rec.Code, rec.Body)
			}
			var body struct{ Code, Field string }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %s: %v", rec.Body, err)
			}
			if tc.field != "" && (body.Code != "invalid_input" || body.Field != tc.field) {
				t.Errorf("error %s, want invalid_input naming %q", rec.Body, tc.field)
			}
			if after := f.state(t); after != before {
				t.Errorf("the request changed the data:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	// The same names, once each, are accepted: the check is not a blanket
	// refusal of the shapes above.
	rec := f.do(t, request{method: "PUT", path: "/api/me/custom-data", auth: aliceAuth, contentType: "application/json",
		body: `{"plan":"pro","Plan":"x","limits":{"seats":1,"Seats":2}}`})
	if rec.Code != http.StatusOK {
		t.Errorf("custom data with distinct keys: %d %s", rec.Code, rec.Body)
	}
}

// TestAPIKeyBodyMustBeAnObject: POST /api/me/api-keys takes no body or a
// JSON object. encoding/json decodes a top-level null into a struct without
// an error, so `null` (or `  null `) must be refused by the API itself,
// not create a key.
func TestAPIKeyBodyMustBeAnObject(t *testing.T) {
	f := newFixture(t)
	for _, body := range []string{`null`, ` null `} {
		before, err := f.p.ListAPIKeys(context.Background(), f.alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		rec := f.do(t, request{method: "POST", path: "/api/me/api-keys", auth: basic("alice", alicePassword), contentType: "application/json", body: body})
		if rec.Code != http.StatusBadRequest {
			t.Errorf("body %q: status %d, want 400: %s", body, rec.Code, rec.Body)
		}
		after, err := f.p.ListAPIKeys(context.Background(), f.alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(before) {
			t.Errorf("body %q created a key: %d keys, were %d", body, len(after), len(before))
		}
	}
}
