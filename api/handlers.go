package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/identity"
)

// principal returns the request's principal; routes that call it are
// behind the auth middleware, so a missing one is a wiring bug.
func principal(c echo.Context) (*Principal, error) {
	p, ok := PrincipalFrom(c)
	if !ok {
		return nil, errors.New("api: handler needs the auth middleware")
	}
	return p, nil
}

func (s *server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) readyz(c echo.Context) error {
	if err := s.cfg.Ready(c.Request().Context()); err != nil {
		return identity.Unavailable(err)
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// accountRef is the short form of an account.
type accountRef struct {
	ID       string `json:"id"`
	Username string `json:"username"`
}

func (s *server) root(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{
		"status":  "authenticated",
		"method":  p.Method,
		"account": accountRef{ID: p.Account.ID, Username: p.Account.Username},
	})
}

type createUserRequest struct {
	Username  string `json:"username"`
	Password  string `json:"password"`
	Email     string `json:"email"`
	GivenName string `json:"given_name"`
	Surname   string `json:"surname"`
}

func (s *server) createUser(c echo.Context) error {
	var req createUserRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	acc, err := s.p.CreateAccount(c.Request().Context(), identity.AccountCreate{
		Username:  req.Username,
		Password:  req.Password,
		Email:     req.Email,
		GivenName: req.GivenName,
		Surname:   req.Surname,
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/users/"+acc.ID)
	return c.JSON(http.StatusCreated, acc)
}

// getUser shows another account's id and username; only the account itself
// sees its email, names and status.
func (s *server) getUser(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	id := c.Param("id")
	if id == p.Account.ID {
		return c.JSON(http.StatusOK, p.Account)
	}
	acc, err := s.p.Account(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, accountRef{ID: acc.ID, Username: acc.Username})
}

// newToken issues a token for the authenticated account. A token may be
// exchanged for a fresh one; it keeps the scopes of the token presented, so
// an exchange never widens what a token may do.
func (s *server) newToken(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	var scopes []string
	if p.Claims != nil {
		scopes = p.Claims.Scopes
	}
	t, err := s.p.IssueToken(c.Request().Context(), p.Account.ID, identity.TokenRequest{TTL: s.cfg.TokenTTL, Scopes: scopes})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusOK, map[string]any{
		"token":    t.Value,
		"duration": int(t.ExpiresAt.Sub(t.IssuedAt) / time.Second),
	})
}

func (s *server) resource(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"data": "Hello, " + p.Account.Username + "!"})
}

// meView is an account with its groups.
type meView struct {
	*identity.Account
	Groups []groupRef `json:"groups"`
}

type groupRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (s *server) me(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	gs, err := s.p.AccountGroups(c.Request().Context(), p.Account.ID)
	if err != nil {
		return err
	}
	v := meView{Account: p.Account, Groups: make([]groupRef, len(gs))}
	for i, g := range gs {
		v.Groups[i] = groupRef{ID: g.ID, Name: g.Name}
	}
	return c.JSON(http.StatusOK, v)
}

func (s *server) getCustomData(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	d, err := s.p.CustomData(c.Request().Context(), p.Account.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

func (s *server) replaceCustomData(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	d, err := decodeCustomData(c, echo.MIMEApplicationJSON)
	if err != nil {
		return err
	}
	out, err := s.p.ReplaceCustomData(c.Request().Context(), p.Account.ID, d)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// patchCustomData applies an RFC 7396 merge patch.
func (s *server) patchCustomData(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	patch, err := decodeCustomData(c, "application/merge-patch+json", echo.MIMEApplicationJSON)
	if err != nil {
		return err
	}
	out, err := s.p.MergeCustomData(c.Request().Context(), p.Account.ID, patch)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *server) deleteCustomDataKey(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	if err := s.p.DeleteCustomDataKey(c.Request().Context(), p.Account.ID, c.Param("key")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type createAPIKeyRequest struct {
	Name string `json:"name"`
}

// createAPIKey accepts an empty body or {"name": ...}.
func (s *server) createAPIKey(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	var req createAPIKeyRequest
	if c.Request().ContentLength != 0 {
		b, err := readBody(c, echo.MIMEApplicationJSON)
		if err != nil {
			return err
		}
		if len(b) > 0 {
			if err := unmarshalStrict(b, &req); err != nil {
				return err
			}
		}
	}
	k, err := s.p.CreateAPIKey(c.Request().Context(), p.Account.ID, req.Name)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/me/api-keys/"+k.ID)
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusCreated, k)
}

func (s *server) listAPIKeys(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	keys, err := s.p.ListAPIKeys(c.Request().Context(), p.Account.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": keys})
}

// deleteAPIKey deletes one of the caller's keys; another account's key is
// reported as not found, so key ids cannot be probed.
func (s *server) deleteAPIKey(c echo.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	k, err := s.p.APIKey(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	if k.AccountID != p.Account.ID {
		return identity.NotFound("api_key")
	}
	if err := s.p.DeleteAPIKey(ctx, k.ID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
