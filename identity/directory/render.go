package directory

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

// base returns the absolute URL hrefs start with (without /v1): the
// configured BaseURL, or the request's scheme and Host. Forwarded headers
// are not trusted: set BaseURL behind a proxy.
func (s *server) base(c echo.Context) string {
	if s.cfg.BaseURL != "" {
		return s.cfg.BaseURL
	}
	scheme := "http"
	if c.Request().TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Request().Host
}

// href makes a protocol path absolute.
func (s *server) href(c echo.Context, path string) string { return s.base(c) + path }

// link makes a link object to a protocol path.
func (s *server) link(c echo.Context, path string) wire.Link { return wire.Link{Href: s.href(c, path)} }

// send answers status with v as JSON.
func send(c echo.Context, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Blob(status, echo.MIMEApplicationJSON, b)
}

// created answers 201 with v and a Location header.
func created(c echo.Context, location string, v any) error {
	c.Response().Header().Set(echo.HeaderLocation, location)
	return send(c, http.StatusCreated, v)
}

func (s *server) tenantJSON(c echo.Context) wire.Tenant {
	a := app(c)
	tp := wire.TenantPath(TenantID)
	return wire.Tenant{
		Href:         s.href(c, tp),
		Name:         "gatehouse",
		Key:          "gatehouse",
		CreatedAt:    wire.Time(a.CreatedAt),
		ModifiedAt:   wire.Time(a.CreatedAt),
		Applications: s.link(c, tp+"/applications"),
		// Applications play the part of Stormpath's directories, and a key
		// sees one application: the tenant's accounts and groups are its.
		Directories: s.link(c, tp+"/applications"),
		Accounts:    s.link(c, wire.ApplicationPath(a.ID, "accounts")),
		Groups:      s.link(c, wire.ApplicationPath(a.ID, "groups")),
		CustomData:  s.link(c, tp+"/customData"),
	}
}

func (s *server) applicationJSON(c echo.Context, a *Application) wire.Application {
	ap := func(sub string) wire.Link { return s.link(c, wire.ApplicationPath(a.ID, sub)) }
	return wire.Application{
		Href:           s.href(c, wire.ApplicationPath(a.ID, "")),
		Name:           a.Name,
		Status:         string(identity.StatusEnabled),
		CreatedAt:      wire.Time(a.CreatedAt),
		ModifiedAt:     wire.Time(a.CreatedAt),
		Tenant:         s.link(c, wire.TenantPath(TenantID)),
		Accounts:       ap("accounts"),
		Groups:         ap("groups"),
		LoginAttempts:  ap("loginAttempts"),
		APIKeyAttempts: ap("apiKeyAttempts"),
		APIKeys:        ap("apiKeys"),
		OAuthPolicy:    ap("oAuthPolicy"),
		Revocations:    ap("revocations"),
		JWKS:           ap("jwks"),
		SigningKeys:    ap("signingKeys"),
		CustomData:     ap("customData"),
	}
}

// accountJSON renders an account; customData is the expanded custom data
// document, or nil for a link.
func (s *server) accountJSON(c echo.Context, a *identity.Account, customData json.RawMessage) wire.Account {
	ap := func(sub string) wire.Link { return s.link(c, wire.AccountPath(a.ID, sub)) }
	if customData == nil {
		customData, _ = json.Marshal(ap("customData"))
	}
	return wire.Account{
		Href:               s.href(c, wire.AccountPath(a.ID, "")),
		Username:           a.Username,
		Email:              a.Email,
		GivenName:          a.GivenName,
		Surname:            a.Surname,
		FullName:           strings.TrimSpace(a.GivenName + " " + a.Surname),
		Status:             string(a.Status),
		CreatedAt:          wire.Time(a.CreatedAt),
		ModifiedAt:         wire.Time(a.ModifiedAt),
		PasswordModifiedAt: wire.Time(a.PasswordModifiedAt),
		CustomData:         customData,
		Groups:             ap("groups"),
		GroupMemberships:   ap("groupMemberships"),
		APIKeys:            ap("apiKeys"),
		AccessTokens:       ap("accessTokens"),
		Applications:       ap("applications"),
		Directory:          s.link(c, wire.ApplicationPath(app(c).ID, "")),
		Tenant:             s.link(c, wire.TenantPath(TenantID)),
	}
}

// customDataJSON renders an account's custom data document: its members
// plus Stormpath's read-only href, createdAt and modifiedAt. The Provider
// keeps no timestamps of custom data, so createdAt and modifiedAt are the
// account's (modifiedAt does not move when only custom data changes).
func (s *server) customDataJSON(c echo.Context, a *identity.Account, data identity.CustomData) (json.RawMessage, error) {
	doc := make(map[string]any, len(data)+3)
	for k, v := range data {
		doc[k] = v
	}
	// The Provider refuses these names in custom data, so they cannot
	// collide with a stored member.
	doc["href"] = s.href(c, wire.AccountPath(a.ID, "customData"))
	doc["createdAt"] = wire.Time(a.CreatedAt)
	doc["modifiedAt"] = wire.Time(a.ModifiedAt)
	return json.Marshal(doc)
}

func (s *server) groupJSON(c echo.Context, g *identity.Group) wire.Group {
	gp := func(sub string) wire.Link { return s.link(c, wire.GroupPath(g.ID, sub)) }
	return wire.Group{
		Href:               s.href(c, wire.GroupPath(g.ID, "")),
		Name:               g.Name,
		Description:        g.Description,
		Status:             string(identity.StatusEnabled),
		CreatedAt:          wire.Time(g.CreatedAt),
		ModifiedAt:         wire.Time(g.ModifiedAt),
		Accounts:           gp("accounts"),
		AccountMemberships: gp("accountMemberships"),
		Directory:          s.link(c, wire.ApplicationPath(app(c).ID, "")),
		Tenant:             s.link(c, wire.TenantPath(TenantID)),
		CustomData:         gp("customData"),
	}
}

func (s *server) membershipJSON(c echo.Context, accountID, groupID string) wire.GroupMembership {
	return wire.GroupMembership{
		Href:    s.href(c, wire.GroupMembershipPath(accountID, groupID)),
		Account: s.link(c, wire.AccountPath(accountID, "")),
		Group:   s.link(c, wire.GroupPath(groupID, "")),
	}
}

// collection renders one page of a collection whose path is path.
func collection[T any](s *server, c echo.Context, path string, items []T, p identity.Page, total int) wire.Collection[T] {
	if items == nil {
		items = []T{}
	}
	return wire.Collection[T]{Href: s.href(c, path), Offset: p.Offset, Limit: p.Limit, Size: total, Items: items}
}
