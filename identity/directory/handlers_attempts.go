package directory

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

// readAttempt decodes an attempt and its base64 "a:b" value. A value that
// is not base64 or has no colon is reported as !ok, for the caller to fail
// exactly as it fails wrong credentials. The request shape itself (JSON,
// type) is checked like any other input.
func readAttempt(c echo.Context) (first, second string, ok bool, err error) {
	// accountStore (which Stormpath's SDKs send to name the directory to
	// search) is accepted and ignored: an application is its own only
	// account store.
	var in wire.Attempt
	if _, err := decodeJSON(c, false, &in, "accountStore"); err != nil {
		return "", "", false, err
	}
	if !strings.EqualFold(in.Type, "basic") {
		return "", "", false, identity.Invalid("type", `The attempt type must be "basic".`)
	}
	raw, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(in.Value))
	if derr != nil {
		return "", "", false, nil
	}
	first, second, ok = strings.Cut(string(raw), ":")
	return first, second, ok && first != "", nil
}

// loginAttempt authenticates a username-or-email and password. Every
// failure, a malformed value included, is the same 400/7100 body; the cause
// goes to the log only.
func (s *server) loginAttempt(c echo.Context) error {
	if _, err := ownApplication(c); err != nil {
		return err
	}
	q, err := query(c, "expand")
	if err != nil {
		return err
	}
	login, password, ok, err := readAttempt(c)
	if err != nil {
		return err
	}
	p := provider(c)
	ctx := c.Request().Context()
	if !ok {
		// Pay for a password verification anyway (the Provider does one for
		// every failure), so a malformed value takes as long as a wrong one.
		login, password = "", ""
	}
	acc, err := p.Authenticate(ctx, login, password)
	if err == nil && !ok {
		err = identity.InvalidCredentials(identity.ReasonInvalidRequest) // cannot happen
	}
	if errors.Is(err, identity.ErrInvalidCredentials) {
		return credentialsFailure(wire.CodeLoginFailed, msgLoginFailed, err)
	}
	if err != nil {
		return err
	}
	accJSON, err := s.accountRef(c, acc, expansions(q)["account"])
	if err != nil {
		return err
	}
	return send(c, http.StatusOK, wire.AttemptResult{Account: accJSON})
}

// accountRef renders an account as a link, or whole when expanded.
func (s *server) accountRef(c echo.Context, acc *identity.Account, expand bool) (json.RawMessage, error) {
	if expand {
		return json.Marshal(s.accountJSON(c, acc, nil))
	}
	return json.Marshal(s.link(c, wire.AccountPath(acc.ID, "")))
}

// apiKeyAttempt verifies an account API key (id and secret). Every failure
// (unknown key, wrong secret, disabled key or account, malformed value) is
// the same 400/7105 body.
func (s *server) apiKeyAttempt(c echo.Context) error {
	if _, err := ownApplication(c); err != nil {
		return err
	}
	q, err := query(c, "expand")
	if err != nil {
		return err
	}
	id, secret, ok, err := readAttempt(c)
	if err != nil {
		return err
	}
	fail := func(cause error) error { return credentialsFailure(wire.CodeAPIKeyFailed, msgAPIKeyFailed, cause) }
	if !ok {
		return fail(identity.InvalidCredentials(identity.ReasonInvalidRequest))
	}
	acc, key, err := provider(c).AuthenticateAPIKey(c.Request().Context(), id, secret)
	if errors.Is(err, identity.ErrInvalidCredentials) {
		return fail(err)
	}
	if err != nil {
		return err
	}
	exp := expansions(q)
	accJSON, err := s.accountRef(c, acc, exp["account"])
	if err != nil {
		return err
	}
	var keyJSON json.RawMessage
	if exp["apiKey"] {
		keyJSON, err = json.Marshal(s.apiKeyJSON(c, key, nil, ""))
	} else {
		keyJSON, err = json.Marshal(s.link(c, wire.APIKeyPath(key.ID)))
	}
	if err != nil {
		return err
	}
	return send(c, http.StatusOK, wire.AttemptResult{Account: accJSON, APIKey: keyJSON})
}
