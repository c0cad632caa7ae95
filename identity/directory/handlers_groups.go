package directory

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

func (s *server) listGroups(c echo.Context) error {
	a, err := ownApplication(c)
	if err != nil {
		return err
	}
	q, p, err := pagedQuery(c, "name", "expand")
	if err != nil {
		return err
	}
	list, err := provider(c).ListGroups(c.Request().Context(), identity.GroupFilter{Name: q.Get("name"), Page: p})
	if err != nil {
		return err
	}
	items := make([]wire.Group, 0, len(list.Items))
	for _, g := range list.Items {
		items = append(items, s.groupJSON(c, g))
	}
	return send(c, http.StatusOK, collection(s, c, wire.ApplicationPath(a.ID, "groups"), items, p, list.Total))
}

// groupReadOnly are the read-only members and links of a group.
var groupReadOnly = []string{"href", "createdAt", "modifiedAt", "directory", "tenant", "accounts", "accountMemberships", "applications"}

func (s *server) createGroup(c echo.Context) error {
	if _, err := ownApplication(c); err != nil {
		return err
	}
	if _, err := query(c); err != nil {
		return err
	}
	m, err := decodeObject(c, false)
	if err != nil {
		return err
	}
	if cd, ok := m["customData"]; ok {
		// A link sent back is fine; data is not: groups have no custom data.
		if t := strings.TrimSpace(string(cd)); t != "null" && !isLinkOnly(cd) {
			return identity.Invalid("customData", "Groups have no custom data.")
		}
		delete(m, "customData")
	}
	var in wire.GroupWrite
	if err := strictFrom(m, &in, groupReadOnly...); err != nil {
		return err
	}
	// Groups have no status of their own: they are always enabled.
	if in.Status != "" && !strings.EqualFold(in.Status, string(identity.StatusEnabled)) {
		return identity.Invalid("status", "Groups are always ENABLED.")
	}
	g, err := provider(c).CreateGroup(c.Request().Context(), identity.GroupCreate{Name: in.Name, Description: in.Description})
	if err != nil {
		return err
	}
	out := s.groupJSON(c, g)
	return created(c, out.Href, out)
}

// isLinkOnly reports whether raw is an object holding at most an href (a
// link sent back, not data).
func isLinkOnly(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	delete(m, "href")
	return len(m) == 0
}

// groupParam reads the :id parameter as a group id.
func groupParam(c echo.Context) (string, error) { return idParam(c, "id", "group") }

func (s *server) getGroup(c echo.Context) error {
	id, err := groupParam(c)
	if err != nil {
		return err
	}
	if _, err := query(c, "expand"); err != nil {
		return err
	}
	g, err := provider(c).Group(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return send(c, http.StatusOK, s.groupJSON(c, g))
}

func (s *server) deleteGroup(c echo.Context) error {
	id, err := groupParam(c)
	if err != nil {
		return err
	}
	if err := bodiless(c); err != nil {
		return err
	}
	if err := provider(c).DeleteGroup(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// groupAccounts answers a page of a group's members.
func (s *server) groupAccounts(c echo.Context) error {
	id, err := groupParam(c)
	if err != nil {
		return err
	}
	q, p, err := pagedQuery(c, "expand")
	if err != nil {
		return err
	}
	list, err := provider(c).GroupMembers(c.Request().Context(), id, p)
	if err != nil {
		return err
	}
	items, err := s.accountsJSON(c, list.Items, expansions(q)["customData"])
	if err != nil {
		return err
	}
	return send(c, http.StatusOK, collection(s, c, wire.GroupPath(id, "accounts"), items, p, list.Total))
}

// groupMemberships answers a page of a group's memberships.
func (s *server) groupMemberships(c echo.Context) error {
	id, err := groupParam(c)
	if err != nil {
		return err
	}
	_, p, err := pagedQuery(c, "expand")
	if err != nil {
		return err
	}
	list, err := provider(c).GroupMembers(c.Request().Context(), id, p)
	if err != nil {
		return err
	}
	items := make([]wire.GroupMembership, 0, len(list.Items))
	for _, a := range list.Items {
		items = append(items, s.membershipJSON(c, a.ID, id))
	}
	return send(c, http.StatusOK, collection(s, c, wire.GroupPath(id, "accountMemberships"), items, p, list.Total))
}

// accountGroups answers an account's groups, ordered by name.
func (s *server) accountGroups(c echo.Context) error {
	id, err := accountParam(c)
	if err != nil {
		return err
	}
	_, p, err := pagedQuery(c, "expand")
	if err != nil {
		return err
	}
	groups, err := provider(c).AccountGroups(c.Request().Context(), id)
	if err != nil {
		return err
	}
	items := []wire.Group{}
	for _, g := range pageSlice(groups, p) {
		items = append(items, s.groupJSON(c, g))
	}
	return send(c, http.StatusOK, collection(s, c, wire.AccountPath(id, "groups"), items, p, len(groups)))
}

// accountMemberships answers an account's memberships, ordered by group
// name.
func (s *server) accountMemberships(c echo.Context) error {
	id, err := accountParam(c)
	if err != nil {
		return err
	}
	_, p, err := pagedQuery(c, "expand")
	if err != nil {
		return err
	}
	groups, err := provider(c).AccountGroups(c.Request().Context(), id)
	if err != nil {
		return err
	}
	items := []wire.GroupMembership{}
	for _, g := range pageSlice(groups, p) {
		items = append(items, s.membershipJSON(c, id, g.ID))
	}
	return send(c, http.StatusOK, collection(s, c, wire.AccountPath(id, "groupMemberships"), items, p, len(groups)))
}

// membershipBody is the body of a membership creation.
type membershipBody struct {
	Account *wire.Link `json:"account"`
	Group   *wire.Link `json:"group"`
}

// hrefID takes the id out of a link to a resource under collection (for
// example "accounts"), whatever its host: clients may hold hrefs from
// another base URL.
func hrefID(l *wire.Link, field, collection string) (string, error) {
	if l == nil || l.Href == "" {
		return "", identity.Invalid(field, "The %s link (%s.href) is required.", field, field)
	}
	path := l.Href
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	parts := strings.Split(strings.TrimRight(path, "/"), "/")
	if len(parts) < 2 || parts[len(parts)-2] != collection || !validID(parts[len(parts)-1]) {
		return "", identity.Invalid(field+".href", "The %s href must name a resource of /v1/%s.", field, collection)
	}
	return parts[len(parts)-1], nil
}

// createMembership adds an account to a group; adding an existing member
// answers the membership again.
func (s *server) createMembership(c echo.Context) error {
	if _, err := query(c); err != nil {
		return err
	}
	var in membershipBody
	if _, err := decodeJSON(c, false, &in, "href"); err != nil {
		return err
	}
	accountID, err := hrefID(in.Account, "account", "accounts")
	if err != nil {
		return err
	}
	groupID, err := hrefID(in.Group, "group", "groups")
	if err != nil {
		return err
	}
	if err := provider(c).AddToGroup(c.Request().Context(), accountID, groupID); err != nil {
		return err
	}
	out := s.membershipJSON(c, accountID, groupID)
	return created(c, out.Href, out)
}

// membershipParam reads the :id parameter as a membership id.
func membershipParam(c echo.Context) (accountID, groupID string, err error) {
	accountID, groupID, ok := wire.SplitMembershipID(pathParam(c, "id"))
	if !ok || !validID(accountID) || !validID(groupID) {
		return "", "", identity.NotFound("group_membership")
	}
	return accountID, groupID, nil
}

func (s *server) getMembership(c echo.Context) error {
	accountID, groupID, err := membershipParam(c)
	if err != nil {
		return err
	}
	if _, err := query(c, "expand"); err != nil {
		return err
	}
	groups, err := provider(c).AccountGroups(c.Request().Context(), accountID)
	if identity.ErrorCode(err) == identity.CodeNotFound {
		return identity.NotFound("group_membership")
	}
	if err != nil {
		return err
	}
	for _, g := range groups {
		if g.ID == groupID {
			return send(c, http.StatusOK, s.membershipJSON(c, accountID, groupID))
		}
	}
	return identity.NotFound("group_membership")
}

func (s *server) deleteMembership(c echo.Context) error {
	accountID, groupID, err := membershipParam(c)
	if err != nil {
		return err
	}
	if err := bodiless(c); err != nil {
		return err
	}
	if err := provider(c).RemoveFromGroup(c.Request().Context(), accountID, groupID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// Tokens.

// tokenBody is the optional body of a token request.
type tokenBody struct {
	TTL   *int64 `json:"ttl"`
	Scope string `json:"scope"`
}

// issueToken signs an access token for the account. It ignores
// Idempotency-Key: a stored answer would be a stored token.
func (s *server) issueToken(c echo.Context) error {
	id, err := accountParam(c)
	if err != nil {
		return err
	}
	if _, err := query(c); err != nil {
		return err
	}
	var in tokenBody
	if _, err := decodeJSON(c, true, &in); err != nil {
		return err
	}
	ttl := s.cfg.TokenTTL
	if in.TTL != nil && *in.TTL != 0 {
		// Bound before converting, so a huge number cannot overflow into a
		// valid duration.
		if *in.TTL < 0 || *in.TTL > int64(100*365*24*time.Hour/time.Second) {
			return identity.Invalid("ttl", "The token lifetime must be a positive number of seconds.")
		}
		ttl = time.Duration(*in.TTL) * time.Second
	}
	tok, err := provider(c).IssueToken(c.Request().Context(), id, identity.TokenRequest{TTL: ttl, Scopes: strings.Fields(in.Scope)})
	if err != nil {
		return err
	}
	href := s.href(c, wire.AccessTokenPath(tok.ID))
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return created(c, href, wire.AccessToken{
		Href:      href,
		JWT:       tok.Value,
		IssuedAt:  wire.Time(tok.IssuedAt),
		ExpiresAt: wire.Time(tok.ExpiresAt),
		Scope:     strings.Join(tok.Scopes, " "),
		Account:   s.link(c, wire.AccountPath(tok.AccountID, "")),
	})
}
