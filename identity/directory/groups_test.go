package directory_test

import (
	"context"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity/wire"
)

func TestGroups(t *testing.T) {
	group := func(t *testing.T, h *harness) vars { return vars{"grp": h.mustGroup("admins").ID} }
	member := func(t *testing.T, h *harness) vars {
		g := h.mustGroup("admins")
		a := h.mustAccount("jane", "")
		if err := h.p.AddToGroup(context.Background(), a.ID, g.ID); err != nil {
			t.Fatal(err)
		}
		return vars{"grp": g.ID, "acc": a.ID, "mem": a.ID + "-" + g.ID}
	}
	runAll(t, []tcase{
		{name: "create", when: req{method: "POST", path: "/v1/applications/{app}/groups", body: `{"name":"admins","description":"The admins"}`}, status: 201,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				var g wire.Group
				r.Decode(&g)
				if g.Name != "admins" || g.Description != "The admins" || g.Status != "ENABLED" || r.Header.Get("Location") != g.Href ||
					g.Accounts.Href != g.Href+"/accounts" || g.AccountMemberships.Href != g.Href+"/accountMemberships" {
					t.Fatalf("group %+v", g)
				}
			}},
		{name: "create: taken name", given: group, when: req{method: "POST", path: "/v1/applications/{app}/groups", body: `{"name":"ADMINS"}`},
			status: 409, errCode: "conflict", field: "name"},
		{name: "create: no name", when: req{method: "POST", path: "/v1/applications/{app}/groups", body: `{"description":"x"}`}, status: 400, field: "name"},
		{name: "create: disabled", when: req{method: "POST", path: "/v1/applications/{app}/groups", body: `{"name":"x","status":"DISABLED"}`}, status: 400, field: "status"},
		{name: "create: custom data", when: req{method: "POST", path: "/v1/applications/{app}/groups", body: `{"name":"x","customData":{"a":1}}`}, status: 400, field: "customData"},
		{name: "create: links sent back", when: req{method: "POST", path: "/v1/applications/{app}/groups", body: `{"name":"x","customData":{"href":"h"},"tenant":{"href":"t"}}`}, status: 201},
		{name: "list by name", given: func(t *testing.T, h *harness) vars {
			h.mustGroup("b")
			h.mustGroup("a")
			return group(t, h)
		}, when: req{method: "GET", path: "/v1/applications/{app}/groups"}, status: 200,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				var c wire.Collection[wire.Group]
				r.Decode(&c)
				if c.Size != 3 || c.Items[0].Name != "a" || c.Items[1].Name != "admins" || c.Items[2].Name != "b" {
					t.Fatalf("collection %+v", c)
				}
				r = h.get(h.appPath("groups") + "?name=ADMINS").expect(200)
				r.Decode(&c)
				if c.Size != 1 || c.Items[0].Name != "admins" {
					t.Fatalf("name filter %+v", c)
				}
			}},
		{name: "get", given: group, when: req{method: "GET", path: "/v1/groups/{grp}"}, status: 200},
		{name: "get unknown", when: req{method: "GET", path: "/v1/groups/0000000000000000000000"}, status: 404, errCode: "not_found"},
		{name: "delete", given: member, when: req{method: "DELETE", path: "/v1/groups/{grp}"}, status: 204,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				h.get("/v1/groups/" + v["grp"]).expect(404)
				if h.get("/v1/accounts/"+v["acc"]+"/groups").expect(200).Num("size") != 0 {
					t.Fatal("membership survived its group")
				}
			}},
		{name: "add a member (SDK addToGroup)", given: func(t *testing.T, h *harness) vars {
			return vars{"grp": h.mustGroup("admins").ID, "acc": h.mustAccount("jane", "").ID}
		}, when: req{method: "POST", path: "/v1/groupMemberships", body: `{"account":{"href":"` + testBase + `/v1/accounts/{acc}"},"group":{"href":"` + testBase + `/v1/groups/{grp}"}}`},
			status: 201,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				var m wire.GroupMembership
				r.Decode(&m)
				if m.Href != testBase+"/v1/groupMemberships/"+v["acc"]+"-"+v["grp"] || m.Account.Href != testBase+"/v1/accounts/"+v["acc"] || m.Group.Href != testBase+"/v1/groups/"+v["grp"] {
					t.Fatalf("membership %+v", m)
				}
				// Immediately visible from both sides.
				if h.get("/v1/accounts/"+v["acc"]+"/groups").expect(200).Num("size") != 1 ||
					h.get("/v1/groups/"+v["grp"]+"/accounts").expect(200).Num("size") != 1 {
					t.Fatal("membership not visible")
				}
				// Adding again answers the membership again.
				h.post("/v1/groupMemberships", map[string]any{"account": map[string]string{"href": "http://elsewhere/v1/accounts/" + v["acc"]}, "group": map[string]string{"href": "/v1/groups/" + v["grp"]}}).expect(201)
			}},
		{name: "add: unknown group", given: func(t *testing.T, h *harness) vars { return vars{"acc": h.mustAccount("jane", "").ID} },
			when: req{method: "POST", path: "/v1/groupMemberships", body: `{"account":{"href":"/v1/accounts/{acc}"},"group":{"href":"/v1/groups/0000000000000000000000"}}`}, status: 404},
		{name: "add: hrefs swapped", given: member,
			when: req{method: "POST", path: "/v1/groupMemberships", body: `{"account":{"href":"/v1/groups/{grp}"},"group":{"href":"/v1/accounts/{acc}"}}`}, status: 400, field: "account.href"},
		{name: "add: no group", given: member,
			when: req{method: "POST", path: "/v1/groupMemberships", body: `{"account":{"href":"/v1/accounts/{acc}"}}`}, status: 400, field: "group"},
		{name: "get a membership", given: member, when: req{method: "GET", path: "/v1/groupMemberships/{mem}"}, status: 200},
		{name: "get a membership that is not", given: func(t *testing.T, h *harness) vars {
			return vars{"mem": h.mustAccount("x", "").ID + "-" + h.mustGroup("g").ID}
		}, when: req{method: "GET", path: "/v1/groupMemberships/{mem}"}, status: 404},
		{name: "get a malformed membership", when: req{method: "GET", path: "/v1/groupMemberships/nodash"}, status: 404},
		{name: "delete a membership", given: member, when: req{method: "DELETE", path: "/v1/groupMemberships/{mem}"}, status: 204,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				h.get("/v1/groupMemberships/" + v["mem"]).expect(404)
				h.del("/v1/groupMemberships/" + v["mem"]).expect(404)
			}},
		{name: "account groups and memberships", given: member, when: req{method: "GET", path: "/v1/accounts/{acc}/groupMemberships"}, status: 200,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				var c wire.Collection[wire.GroupMembership]
				r.Decode(&c)
				if c.Size != 1 || c.Items[0].Href != testBase+"/v1/groupMemberships/"+v["mem"] {
					t.Fatalf("memberships %+v", c)
				}
				var g wire.Collection[wire.Group]
				h.get("/v1/accounts/" + v["acc"] + "/groups").expect(200).Decode(&g)
				if g.Size != 1 || g.Items[0].Name != "admins" || g.Href != testBase+"/v1/accounts/"+v["acc"]+"/groups" {
					t.Fatalf("groups %+v", g)
				}
				var gm wire.Collection[wire.GroupMembership]
				h.get("/v1/groups/" + v["grp"] + "/accountMemberships").expect(200).Decode(&gm)
				if gm.Size != 1 || gm.Items[0].Account.Href != testBase+"/v1/accounts/"+v["acc"] {
					t.Fatalf("group memberships %+v", gm)
				}
			}},
		{name: "group members paging", given: member, when: req{method: "GET", path: "/v1/groups/{grp}/accounts?limit=1&offset=1"}, status: 200,
			expect: func(t *testing.T, h *harness, v vars, r *resp) {
				if r.Num("size") != 1 || r.Num("limit") != 1 || len(r.JSON()["items"].([]any)) != 0 {
					t.Fatalf("page %s", r.Body)
				}
			}},
	})
}
