package directory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity"
)

// fuzzRoutes are the directory endpoints whose request bodies
// FuzzDirectoryRequest sends: the writes and the attempts. In paths and
// bodies {app}, {acc}, {other}, {grp}, {key} and {base} stand for the
// fixture's application, accounts, group, API key and base URL, so the
// fuzzer can reach past the id checks.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/v1/applications/{app}/accounts"},
	{"POST", "/v1/accounts/{acc}"},
	{"POST", "/v1/accounts/{acc}/customData"},
	{"PUT", "/v1/accounts/{acc}/customData"},
	{"POST", "/v1/applications/{app}/loginAttempts"},
	{"POST", "/v1/applications/{app}/apiKeyAttempts"},
	{"POST", "/v1/groupMemberships"},
	{"POST", "/v1/applications/{app}/groups"},
	{"POST", "/v1/accounts/{acc}/apiKeys"},
	{"POST", "/v1/apiKeys/{key}"},
}

// fuzzContentTypes are the Content-Type headers the fuzzer picks from ("-"
// is none).
var fuzzContentTypes = []string{
	"application/json",
	"application/merge-patch+json",
	"application/json; charset=utf-8",
	"-",
	"text/plain",
	"application/x-www-form-urlencoded",
	"APPLICATION/JSON",
	`application/json; charset="`,
}

// nested is an array n levels deep.
func nested(n int) string { return strings.Repeat("[", n) + "1" + strings.Repeat("]", n) }

// dirFixture is a static tenant over the mock with two accounts (one with
// custom data), a group with a member and an API key.
type dirFixture struct {
	h                    *harness
	app, acc, other, grp string
	key                  string
}

func newDirFixture(t *testing.T) *dirFixture {
	t.Helper()
	h := newStatic(t)
	ctx := context.Background()
	acc := h.mustAccount("target", "target@example.com")
	other := h.mustAccount("other", "other@example.com")
	grp := h.mustGroup("staff")
	if err := h.p.AddToGroup(ctx, other.ID, grp.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.p.ReplaceCustomData(ctx, acc.ID, identity.CustomData{"plan": map[string]any{"tier": "pro"}, "n": 1}); err != nil {
		t.Fatal(err)
	}
	k, err := h.p.CreateAPIKey(ctx, acc.ID, "k")
	if err != nil {
		t.Fatal(err)
	}
	return &dirFixture{h: h, app: h.appID, acc: acc.ID, other: other.ID, grp: grp.ID, key: k.ID}
}

func (f *dirFixture) expand(s string) string {
	return strings.NewReplacer(
		"{app}", f.app, "{acc}", f.acc, "{other}", f.other, "{grp}", f.grp, "{key}", f.key, "{base}", testBase,
	).Replace(s)
}

// snapshot is every account of the tenant with its custom data, API keys
// and groups, and every group, as JSON.
func (f *dirFixture) snapshot(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	p := f.h.p
	list, err := p.ListAccounts(ctx, identity.AccountFilter{Page: identity.Page{Limit: identity.MaxLimit}})
	if err != nil {
		t.Fatal(err)
	}
	type accountState struct {
		Account    *identity.Account
		CustomData identity.CustomData
		Keys       []*identity.APIKey
		Groups     []*identity.Group
	}
	var out struct {
		Accounts []accountState
		Groups   []*identity.Group
	}
	for _, a := range list.Items {
		s := accountState{Account: a}
		if s.CustomData, err = p.CustomData(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if s.Keys, err = p.ListAPIKeys(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if s.Groups, err = p.AccountGroups(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		out.Accounts = append(out.Accounts, s)
	}
	groups, err := p.ListGroups(ctx, identity.GroupFilter{Page: identity.Page{Limit: identity.MaxLimit}})
	if err != nil {
		t.Fatal(err)
	}
	out.Groups = groups.Items
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// FuzzDirectoryRequest posts fuzzed bodies to the directory's write and
// attempt endpoints on a static tenant over the mock. Whatever the body and
// content type, the answer is below 500; an error answer has the
// protocol's shape and leaves every account, custom data document, API key,
// group and membership as it was.
func FuzzDirectoryRequest(f *testing.F) {
	seeds := []struct {
		route, ct uint8
		body      string
	}{
		{0, 0, `{"username":"new","email":"new@example.com","password":"correct horse battery","givenName":"N","surname":"W"}`},
		{0, 0, `{"email":"new@example.com","password":"correct horse battery","customData":{"a":{"b":[1,null]},"href":"x"}}`},
		{0, 0, `{"username":"new","password":"correct horse battery","customData":{"-bad":1}}`},
		{0, 0, `{"username":"new","password":"correct horse battery","customData":{"deep":` + nested(40) + `}}`},
		{0, 0, `{"username":"other","password":"correct horse battery"}`},
		{0, 0, `{"username":"x","passwordHash":"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"}`},
		{1, 0, `{"givenName":"Changed","customData":{"n":2,"plan":null}}`},
		{1, 0, `{"givenName":"Changed","customData":{"deep":` + nested(40) + `}}`},
		{1, 0, `{"username":"other"}`},
		{1, 0, `{"status":"DISABLED","middleName":"M"}`},
		{1, 0, `{"href":"{base}/v1/accounts/{acc}","username":"target","email":"target@example.com","fullName":"x","passwordModifiedAt":"y"}`},
		{1, 0, `{"email":"not an address","givenName":"G"}`},
		{2, 0, `{"n":null,"plan":{"seats":3},"href":"ignored"}`},
		{2, 1, `{"plan":{"tier":null,"seats":3}}`},
		{2, 0, `{"createdAt":1,"meta":2}`},
		{3, 0, `{"whole":"new"}`},
		{3, 0, `{"spMeta":1}`},
		{3, 2, `[]`},
		{4, 0, `{"type":"basic","value":"dGFyZ2V0OmNvcnJlY3QgaG9yc2UgYmF0dGVyeQ=="}`},
		{4, 0, `{"type":"basic","value":"dGFyZ2V0"}`},
		{4, 0, `{"type":"basic","value":"!!","accountStore":{"href":"x"}}`},
		{4, 0, `{"type":"digest","value":""}`},
		{5, 0, `{"type":"basic","value":"Z2tfeDp5"}`},
		{6, 0, `{"account":{"href":"{base}/v1/accounts/{acc}"},"group":{"href":"{base}/v1/groups/{grp}"}}`},
		{6, 0, `{"account":{"href":"{base}/v1/accounts/{acc}"},"group":{"href":"{base}/v1/groups/nope"}}`},
		{6, 0, `{"account":{"href":"/v1/groups/{grp}"},"group":{"href":"/v1/accounts/{acc}"}}`},
		{7, 0, `{"name":"new group","description":"d"}`},
		{7, 0, `{"name":"STAFF"}`},
		{8, 0, `{"name":"laptop"}`},
		{8, 3, ``},
		{9, 0, `{"status":"DISABLED"}`},
		{9, 0, `{"status":"UNVERIFIED","name":"` + "\x00" + `"}`},
		{0, 4, `username=x&password=y`},
		{0, 7, `{}`},
		{2, 0, "{\"k\":\"\xff\xfe\"}"},
	}
	for _, s := range seeds {
		f.Add(s.route, s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, route, ct uint8, body []byte) {
		fx := newDirFixture(t)
		r := fuzzRoutes[int(route)%len(fuzzRoutes)]
		contentType := fuzzContentTypes[int(ct)%len(fuzzContentTypes)]
		before := fx.snapshot(t)
		resp := fx.h.do(req{method: r.method, path: fx.expand(r.path), body: fx.expand(string(body)), contentType: contentType})
		what := fmt.Sprintf("%s %s (%s) %.300q", r.method, r.path, contentType, body)
		if testing.Verbose() {
			t.Logf("%s: %d %.300s", what, resp.Code, resp.Body)
		}
		if resp.Code >= 500 {
			t.Fatalf("%s: %d %s", what, resp.Code, resp.Body)
		}
		if resp.Code < 400 {
			return
		}
		checkErrorShape(t, resp)
		if after := fx.snapshot(t); after != before {
			t.Fatalf("%s answered %d %.300s but changed the data:\nbefore %s\nafter  %s", what, resp.Code, resp.Body, before, after)
		}
	})
}
