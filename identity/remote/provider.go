package remote

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

// CreateAccount implements identity.Provider: POST to the application's
// accounts, retried with an Idempotency-Key.
func (p *Provider) CreateAccount(ctx context.Context, in identity.AccountCreate) (*identity.Account, error) {
	for _, f := range []struct{ field, value string }{
		{"username", in.Username}, {"email", in.Email}, {"given_name", in.GivenName},
		{"surname", in.Surname}, {"password", in.Password}, {"password_hash", in.PasswordHash},
	} {
		if err := checkUTF8(f.field, f.value); err != nil {
			return nil, err
		}
	}
	if in.Username == "" {
		// The protocol defaults a missing or empty username to the email
		// (as Stormpath did); the Provider contract requires one.
		return nil, identity.Invalid("username", "The username is required.")
	}
	w := wire.AccountWrite{Username: &in.Username}
	if in.Email != "" {
		w.Email = &in.Email
	}
	if in.GivenName != "" {
		w.GivenName = &in.GivenName
	}
	if in.Surname != "" {
		w.Surname = &in.Surname
	}
	if in.Status != "" {
		s := string(in.Status)
		w.Status = &s
	}
	if in.PasswordHash != "" {
		w.PasswordHash = &in.PasswordHash
	}
	if in.Password != "" || in.PasswordHash == "" {
		w.Password = &in.Password
	}
	for k := range in.CustomData {
		if err := identity.CheckCustomDataKey(k); err != nil {
			return nil, err
		}
	}
	if len(in.CustomData) > 0 {
		// Inline, so the directory stores it with the account atomically.
		data, err := json.Marshal(in.CustomData)
		if err != nil {
			return nil, identity.Invalid("customData", "Custom data must be a JSON object.")
		}
		w.CustomData = data
	}
	var out wire.Account
	c := &call{method: http.MethodPost, path: wire.ApplicationPath(p.appID, "accounts"), body: &w, retry: retryIdempotent}
	if err := p.do(ctx, c, &out); err != nil {
		return nil, err
	}
	return toAccount(&out)
}

// Account implements identity.Provider: GET the account.
func (p *Provider) Account(ctx context.Context, id string) (*identity.Account, error) {
	if !validID(id) {
		return nil, notFound("account")
	}
	var out wire.Account
	if err := p.do(ctx, &call{method: http.MethodGet, path: wire.AccountPath(id, ""), retry: retryRead}, &out); err != nil {
		return nil, err
	}
	return toAccount(&out)
}

// FindAccount implements identity.Provider: the application's accounts
// filtered by username, then by email (email first when login has an @),
// both of which the directory matches exactly, ignoring case. Usernames
// and emails are unique across both, so at most one account matches.
func (p *Provider) FindAccount(ctx context.Context, login string) (*identity.Account, error) {
	if login == "" || !utf8.ValidString(login) {
		return nil, notFound("account")
	}
	filters := []string{"username", "email"}
	if strings.Contains(login, "@") {
		filters = []string{"email", "username"}
	}
	for _, f := range filters {
		var col wire.Collection[wire.Account]
		q := url.Values{f: {login}, "limit": {"1"}}
		c := &call{method: http.MethodGet, path: wire.ApplicationPath(p.appID, "accounts"), query: q, retry: retryRead}
		if err := p.do(ctx, c, &col); err != nil {
			return nil, err
		}
		if len(col.Items) > 0 {
			return toAccount(&col.Items[0])
		}
	}
	return nil, notFound("account")
}

// ListAccounts implements identity.Provider: GET the application's
// accounts with the filter's parameters.
func (p *Provider) ListAccounts(ctx context.Context, f identity.AccountFilter) (*identity.List[*identity.Account], error) {
	q := pageQuery(f.Page)
	for k, v := range map[string]string{"username": f.Username, "email": f.Email, "status": string(f.Status), "q": f.Query} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var col wire.Collection[wire.Account]
	c := &call{method: http.MethodGet, path: wire.ApplicationPath(p.appID, "accounts"), query: q, retry: retryRead}
	if err := p.do(ctx, c, &col); err != nil {
		return nil, err
	}
	return toAccountList(&col)
}

// pageQuery returns the paging parameters of pg. Zero values are left out
// (the directory's defaults apply); anything else, negative values
// included, is sent for the directory to judge.
func pageQuery(pg identity.Page) url.Values {
	q := url.Values{}
	if pg.Offset != 0 {
		q.Set("offset", strconv.Itoa(pg.Offset))
	}
	if pg.Limit != 0 {
		q.Set("limit", strconv.Itoa(pg.Limit))
	}
	return q
}

// UpdateAccount implements identity.Provider: POST the non-nil fields to
// the account, retried with an Idempotency-Key.
func (p *Provider) UpdateAccount(ctx context.Context, id string, u identity.AccountUpdate) (*identity.Account, error) {
	for _, f := range []struct {
		field string
		value *string
	}{
		{"username", u.Username}, {"email", u.Email}, {"given_name", u.GivenName},
		{"surname", u.Surname}, {"password", u.Password},
	} {
		if err := checkUTF8Ptr(f.field, f.value); err != nil {
			return nil, err
		}
	}
	if !validID(id) {
		return nil, notFound("account")
	}
	w := wire.AccountWrite{Username: u.Username, Email: u.Email, GivenName: u.GivenName, Surname: u.Surname, Password: u.Password}
	if u.Status != nil {
		s := string(*u.Status)
		w.Status = &s
	}
	var out wire.Account
	c := &call{method: http.MethodPost, path: wire.AccountPath(id, ""), body: &w, retry: retryIdempotent}
	if err := p.do(ctx, c, &out); err != nil {
		return nil, err
	}
	return toAccount(&out)
}

// DeleteAccount implements identity.Provider: DELETE the account, retried
// with an Idempotency-Key (so a retry after a lost answer is not a 404).
func (p *Provider) DeleteAccount(ctx context.Context, id string) error {
	if !validID(id) {
		return notFound("account")
	}
	return p.do(ctx, &call{method: http.MethodDelete, path: wire.AccountPath(id, ""), retry: retryIdempotent}, nil)
}

// attempt encodes a login or API key attempt.
func attempt(user, secret string) *wire.Attempt {
	return &wire.Attempt{Type: "basic", Value: base64.StdEncoding.EncodeToString([]byte(user + ":" + secret))}
}

// credentialsFailure keeps the contract of the authentication methods,
// "ErrInvalidCredentials for every failure": a request the directory found
// malformed (an invalid or oversized input) is a failed attempt too.
func credentialsFailure(err error) error {
	switch identity.ErrorCode(err) {
	case identity.CodeInvalidInput, identity.CodeLimitExceeded:
		return identity.InvalidCredentials(identity.ReasonInvalidRequest)
	}
	return err
}

// Authenticate implements identity.Provider: a login attempt
// (POST loginAttempts?expand=account), retried only when the directory
// surely did not decide it (see retryAttempt). The
// directory does not say why an attempt failed, so identity.ReasonOf
// reports no reason for the errors of this provider.
func (p *Provider) Authenticate(ctx context.Context, login, password string) (*identity.Account, error) {
	var out wire.AttemptResult
	c := &call{
		method: http.MethodPost, path: wire.ApplicationPath(p.appID, "loginAttempts"),
		query: url.Values{"expand": {"account"}}, body: attempt(login, password), retry: retryAttempt,
	}
	if err := p.do(ctx, c, &out); err != nil {
		return nil, credentialsFailure(err)
	}
	return p.attemptAccount(ctx, out.Account)
}

// attemptAccount reads the account of a successful attempt: the expanded
// resource, or the account its link names.
func (p *Provider) attemptAccount(ctx context.Context, raw json.RawMessage) (*identity.Account, error) {
	if isExpanded(raw) {
		var w wire.Account
		if err := json.Unmarshal(raw, &w); err != nil {
			return nil, invalidAnswer("an attempt's account is not an account")
		}
		return toAccount(&w)
	}
	var l wire.Link
	if err := json.Unmarshal(raw, &l); err != nil || !validID(wire.LastSegment(l.Href)) {
		return nil, invalidAnswer("an attempt without an account")
	}
	return p.Account(ctx, wire.LastSegment(l.Href))
}

// CreateAPIKey implements identity.Provider: POST to the account's apiKeys.
// It is never retried: the answer holds the key's secret, which the
// directory does not keep, so a repeat would make a second key.
func (p *Provider) CreateAPIKey(ctx context.Context, accountID, name string) (*identity.NewAPIKey, error) {
	if err := checkUTF8("name", name); err != nil {
		return nil, err
	}
	if !validID(accountID) {
		return nil, notFound("account")
	}
	w := wire.APIKeyWrite{}
	if name != "" {
		w.Name = &name
	}
	var out wire.APIKey
	c := &call{method: http.MethodPost, path: wire.AccountPath(accountID, "apiKeys"), body: &w, retry: retryNever}
	if err := p.do(ctx, c, &out); err != nil {
		return nil, err
	}
	k, err := toAPIKey(&out)
	if err != nil {
		return nil, err
	}
	if out.Secret == "" {
		return nil, invalidAnswer("a new API key without its secret")
	}
	return &identity.NewAPIKey{APIKey: *k, Secret: out.Secret}, nil
}

// APIKey implements identity.Provider: GET the key.
func (p *Provider) APIKey(ctx context.Context, id string) (*identity.APIKey, error) {
	if !validID(id) {
		return nil, notFound("api_key")
	}
	var out wire.APIKey
	if err := p.do(ctx, &call{method: http.MethodGet, path: wire.APIKeyPath(id), retry: retryRead}, &out); err != nil {
		return nil, err
	}
	return toAPIKey(&out)
}

// ListAPIKeys implements identity.Provider: every page of the account's
// apiKeys.
func (p *Provider) ListAPIKeys(ctx context.Context, accountID string) ([]*identity.APIKey, error) {
	if !validID(accountID) {
		return nil, notFound("account")
	}
	items, err := collectAll[wire.APIKey](ctx, p, wire.AccountPath(accountID, "apiKeys"))
	if err != nil {
		return nil, err
	}
	out := make([]*identity.APIKey, len(items))
	for i := range items {
		if out[i], err = toAPIKey(&items[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// collectAll reads every page of a collection, pageSize items at a time.
func collectAll[T any](ctx context.Context, p *Provider, path string) ([]T, error) {
	var all []T
	for offset := 0; ; {
		var col wire.Collection[T]
		q := url.Values{"offset": {strconv.Itoa(offset)}, "limit": {strconv.Itoa(pageSize)}}
		if err := p.do(ctx, &call{method: http.MethodGet, path: path, query: q, retry: retryRead}, &col); err != nil {
			return nil, err
		}
		all = append(all, col.Items...)
		offset += len(col.Items)
		if len(col.Items) == 0 || offset >= col.Size {
			return all, nil
		}
	}
}

// SetAPIKeyStatus implements identity.Provider: POST the status to the
// key, retried with an Idempotency-Key.
func (p *Provider) SetAPIKeyStatus(ctx context.Context, id string, status identity.Status) (*identity.APIKey, error) {
	if status == "" {
		// An empty status would read as "no change" on the wire.
		return nil, identity.Invalid("status", "The status must be ENABLED or DISABLED.")
	}
	if !validID(id) {
		return nil, notFound("api_key")
	}
	s := string(status)
	var out wire.APIKey
	c := &call{method: http.MethodPost, path: wire.APIKeyPath(id), body: &wire.APIKeyWrite{Status: &s}, retry: retryIdempotent}
	if err := p.do(ctx, c, &out); err != nil {
		return nil, err
	}
	return toAPIKey(&out)
}

// DeleteAPIKey implements identity.Provider: DELETE the key, retried with
// an Idempotency-Key.
func (p *Provider) DeleteAPIKey(ctx context.Context, id string) error {
	if !validID(id) {
		return notFound("api_key")
	}
	return p.do(ctx, &call{method: http.MethodDelete, path: wire.APIKeyPath(id), retry: retryIdempotent}, nil)
}

// AuthenticateAPIKey implements identity.Provider: an API key attempt
// (POST apiKeyAttempts?expand=account,apiKey), retried like a login
// attempt.
func (p *Provider) AuthenticateAPIKey(ctx context.Context, id, secret string) (*identity.Account, *identity.APIKey, error) {
	var out wire.AttemptResult
	c := &call{
		method: http.MethodPost, path: wire.ApplicationPath(p.appID, "apiKeyAttempts"),
		query: url.Values{"expand": {"account,apiKey"}}, body: attempt(id, secret), retry: retryAttempt,
	}
	if err := p.do(ctx, c, &out); err != nil {
		return nil, nil, credentialsFailure(err)
	}
	acc, err := p.attemptAccount(ctx, out.Account)
	if err != nil {
		return nil, nil, err
	}
	var key *identity.APIKey
	if isExpanded(out.APIKey) {
		var w wire.APIKey
		if err := json.Unmarshal(out.APIKey, &w); err != nil {
			return nil, nil, invalidAnswer("an attempt's API key is not a key")
		}
		key, err = toAPIKey(&w)
	} else {
		key, err = p.APIKey(ctx, id)
	}
	if err != nil {
		return nil, nil, err
	}
	return acc, key, nil
}

// CustomData implements identity.Provider: GET the account's customData,
// without the read-only href, createdAt and modifiedAt members.
func (p *Provider) CustomData(ctx context.Context, accountID string) (identity.CustomData, error) {
	if !validID(accountID) {
		return nil, notFound("account")
	}
	var raw []byte
	if err := p.do(ctx, &call{method: http.MethodGet, path: wire.AccountPath(accountID, "customData"), retry: retryRead}, &raw); err != nil {
		return nil, err
	}
	return decodeCustomData(raw)
}

// ReplaceCustomData implements identity.Provider: PUT the whole object,
// retried with an Idempotency-Key.
func (p *Provider) ReplaceCustomData(ctx context.Context, accountID string, data identity.CustomData) (identity.CustomData, error) {
	return p.writeCustomData(ctx, http.MethodPut, contentJSON, accountID, data)
}

// MergeCustomData implements identity.Provider: POST an RFC 7396 merge
// patch (Content-Type application/merge-patch+json), retried with an
// Idempotency-Key.
func (p *Provider) MergeCustomData(ctx context.Context, accountID string, patch identity.CustomData) (identity.CustomData, error) {
	return p.writeCustomData(ctx, http.MethodPost, contentMergePatch, accountID, patch)
}

func (p *Provider) writeCustomData(ctx context.Context, method, contentType, accountID string, data identity.CustomData) (identity.CustomData, error) {
	// The directory ignores the read-only members (href, createdAt,
	// modifiedAt) in a body, so that a document read can be written back;
	// the Provider contract refuses every reserved name, so check here.
	for k := range data {
		if err := identity.CheckCustomDataKey(k); err != nil {
			return nil, err
		}
	}
	body, err := encodeCustomData(data)
	if err != nil {
		return nil, err
	}
	if !validID(accountID) {
		return nil, notFound("account")
	}
	var raw []byte
	c := &call{method: method, path: wire.AccountPath(accountID, "customData"), raw: body, contentType: contentType, retry: retryIdempotent}
	if err := p.do(ctx, c, &raw); err != nil {
		return nil, err
	}
	return decodeCustomData(raw)
}

// DeleteCustomDataKey implements identity.Provider: DELETE one member,
// retried with an Idempotency-Key. The name is checked here first, so that
// no name can turn the path into another resource's (an empty name would
// otherwise address the whole object).
func (p *Provider) DeleteCustomDataKey(ctx context.Context, accountID, key string) error {
	if err := identity.CheckCustomDataKey(key); err != nil {
		return err
	}
	if !validID(accountID) {
		return notFound("account")
	}
	return p.do(ctx, &call{method: http.MethodDelete, path: wire.CustomDataKeyPath(accountID, key), retry: retryIdempotent}, nil)
}

// CreateGroup implements identity.Provider: POST to the application's
// groups, retried with an Idempotency-Key.
func (p *Provider) CreateGroup(ctx context.Context, in identity.GroupCreate) (*identity.Group, error) {
	if err := checkUTF8("name", in.Name); err != nil {
		return nil, err
	}
	if err := checkUTF8("description", in.Description); err != nil {
		return nil, err
	}
	var out wire.Group
	c := &call{
		method: http.MethodPost, path: wire.ApplicationPath(p.appID, "groups"),
		body: &wire.GroupWrite{Name: in.Name, Description: in.Description}, retry: retryIdempotent,
	}
	if err := p.do(ctx, c, &out); err != nil {
		return nil, err
	}
	return toGroup(&out)
}

// Group implements identity.Provider: GET the group.
func (p *Provider) Group(ctx context.Context, id string) (*identity.Group, error) {
	if !validID(id) {
		return nil, notFound("group")
	}
	var out wire.Group
	if err := p.do(ctx, &call{method: http.MethodGet, path: wire.GroupPath(id, ""), retry: retryRead}, &out); err != nil {
		return nil, err
	}
	return toGroup(&out)
}

// ListGroups implements identity.Provider: GET the application's groups.
func (p *Provider) ListGroups(ctx context.Context, f identity.GroupFilter) (*identity.List[*identity.Group], error) {
	q := pageQuery(f.Page)
	if f.Name != "" {
		q.Set("name", f.Name)
	}
	var col wire.Collection[wire.Group]
	c := &call{method: http.MethodGet, path: wire.ApplicationPath(p.appID, "groups"), query: q, retry: retryRead}
	if err := p.do(ctx, c, &col); err != nil {
		return nil, err
	}
	items, err := toGroups(col.Items)
	if err != nil {
		return nil, err
	}
	return &identity.List[*identity.Group]{Items: items, Offset: col.Offset, Limit: col.Limit, Total: col.Size}, nil
}

// DeleteGroup implements identity.Provider: DELETE the group, retried with
// an Idempotency-Key.
func (p *Provider) DeleteGroup(ctx context.Context, id string) error {
	if !validID(id) {
		return notFound("group")
	}
	return p.do(ctx, &call{method: http.MethodDelete, path: wire.GroupPath(id, ""), retry: retryIdempotent}, nil)
}

// AddToGroup implements identity.Provider: POST a membership linking the
// two hrefs, retried with an Idempotency-Key.
func (p *Provider) AddToGroup(ctx context.Context, accountID, groupID string) error {
	if !validID(accountID) {
		return notFound("account")
	}
	if !validID(groupID) {
		return notFound("group")
	}
	m := &wire.GroupMembership{
		Account: wire.Link{Href: p.base + wire.AccountPath(accountID, "")},
		Group:   wire.Link{Href: p.base + wire.GroupPath(groupID, "")},
	}
	return p.do(ctx, &call{method: http.MethodPost, path: wire.GroupMembershipsPath, body: m, retry: retryIdempotent}, nil)
}

// RemoveFromGroup implements identity.Provider: DELETE the membership
// {accountID}-{groupID}, retried with an Idempotency-Key.
func (p *Provider) RemoveFromGroup(ctx context.Context, accountID, groupID string) error {
	// validID refuses the dash that joins the two in the membership id.
	if !validID(accountID) {
		return notFound("account")
	}
	if !validID(groupID) {
		return notFound("group")
	}
	return p.do(ctx, &call{method: http.MethodDelete, path: wire.GroupMembershipPath(accountID, groupID), retry: retryIdempotent}, nil)
}

// AccountGroups implements identity.Provider: every page of the account's
// groups.
func (p *Provider) AccountGroups(ctx context.Context, accountID string) ([]*identity.Group, error) {
	if !validID(accountID) {
		return nil, notFound("account")
	}
	items, err := collectAll[wire.Group](ctx, p, wire.AccountPath(accountID, "groups"))
	if err != nil {
		return nil, err
	}
	return toGroups(items)
}

// GroupMembers implements identity.Provider: GET a page of the group's
// accounts.
func (p *Provider) GroupMembers(ctx context.Context, groupID string, pg identity.Page) (*identity.List[*identity.Account], error) {
	if !validID(groupID) {
		return nil, notFound("group")
	}
	var col wire.Collection[wire.Account]
	c := &call{method: http.MethodGet, path: wire.GroupPath(groupID, "accounts"), query: pageQuery(pg), retry: retryRead}
	if err := p.do(ctx, c, &col); err != nil {
		return nil, err
	}
	return toAccountList(&col)
}

// IssueToken implements identity.Provider: POST to the account's
// accessTokens with the lifetime in whole seconds and the scopes
// space-separated. It is never retried: the answer holds the token, which
// the directory does not keep.
//
// A lifetime under one second (other than zero, the default) cannot be
// said in whole seconds and is refused here, as is a scope that is empty
// or holds a space or a control character, since the wire joins scopes
// with spaces; the directory judges everything else.
func (p *Provider) IssueToken(ctx context.Context, accountID string, req identity.TokenRequest) (*identity.Token, error) {
	if req.TTL != 0 && req.TTL < time.Second {
		return nil, identity.Invalid("ttl", "The token lifetime must be at least 1s.")
	}
	for _, s := range req.Scopes {
		if err := checkScopeToken(s); err != nil {
			return nil, err
		}
	}
	if !validID(accountID) {
		return nil, notFound("account")
	}
	w := &wire.TokenWrite{TTL: int(req.TTL / time.Second), Scope: strings.Join(req.Scopes, " ")}
	var out wire.AccessToken
	c := &call{method: http.MethodPost, path: wire.AccountPath(accountID, "accessTokens"), body: w, retry: retryNever}
	if err := p.do(ctx, c, &out); err != nil {
		return nil, err
	}
	jti := wire.LastSegment(out.Href)
	if out.JWT == "" || jti == "" {
		return nil, invalidAnswer("a token without its value or id")
	}
	sub := wire.LastSegment(out.Account.Href)
	if sub == "" {
		sub = accountID
	}
	return &identity.Token{
		Value:     out.JWT,
		ID:        jti,
		AccountID: sub,
		Scopes:    splitScope(out.Scope),
		IssuedAt:  utc(out.IssuedAt),
		ExpiresAt: utc(out.ExpiresAt),
	}, nil
}

// checkScopeToken refuses the scopes the wire cannot carry.
func checkScopeToken(s string) error {
	if s == "" || !utf8.ValidString(s) {
		return identity.Invalid("scope", "A scope must be 1 to 128 printable characters.")
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return identity.Invalid("scope", "A scope must not contain spaces or control characters.")
		}
	}
	return nil
}

// RevokeToken implements identity.Provider: POST a revocation, retried
// with an Idempotency-Key.
func (p *Provider) RevokeToken(ctx context.Context, tokenID string, expiresAt time.Time) error {
	if err := checkUTF8("jti", tokenID); err != nil {
		return err
	}
	r := &wire.Revocation{JTI: tokenID, ExpiresAt: wire.Time(expiresAt.UTC())}
	return p.do(ctx, &call{method: http.MethodPost, path: wire.ApplicationPath(p.appID, "revocations"), body: r, retry: retryIdempotent}, nil)
}

// TokenRevoked implements identity.Provider: GET the revocation; 404 means
// not revoked.
func (p *Provider) TokenRevoked(ctx context.Context, tokenID string) (bool, error) {
	switch tokenID {
	case "":
		return false, nil
	case ".", "..":
		return false, identity.Invalid("jti", "The token id %q cannot be looked up.", tokenID)
	}
	path := wire.ApplicationPath(p.appID, "revocations") + "/" + url.PathEscape(tokenID)
	err := p.do(ctx, &call{method: http.MethodGet, path: path, retry: retryRead}, nil)
	switch {
	case err == nil:
		return true, nil
	case identity.ErrorCode(err) == identity.CodeNotFound:
		return false, nil
	}
	return false, err
}

// JWKS implements identity.Provider: GET the application's jwks, returned
// as the directory sent it.
func (p *Provider) JWKS(ctx context.Context) ([]byte, error) {
	var raw []byte
	c := &call{method: http.MethodGet, path: wire.ApplicationPath(p.appID, "jwks"), accept: "application/jwk-set+json, application/json", retry: retryRead}
	if err := p.do(ctx, c, &raw); err != nil {
		return nil, err
	}
	if !json.Valid(raw) {
		return nil, invalidAnswer("a JWKS that is not JSON")
	}
	return raw, nil
}

// TokenSettings implements identity.Provider: GET the application's
// oAuthPolicy.
func (p *Provider) TokenSettings(ctx context.Context) (identity.TokenSettings, error) {
	var out wire.OAuthPolicy
	if err := p.do(ctx, &call{method: http.MethodGet, path: wire.ApplicationPath(p.appID, "oAuthPolicy"), retry: retryRead}, &out); err != nil {
		return identity.TokenSettings{}, err
	}
	return identity.TokenSettings{Issuer: out.Issuer, Audience: out.Audience}, nil
}

// RotateSigningKey implements identity.Provider: POST to the application's
// signingKeys, retried with an Idempotency-Key (so a retry does not rotate
// twice).
func (p *Provider) RotateSigningKey(ctx context.Context) (string, error) {
	var out wire.SigningKey
	c := &call{method: http.MethodPost, path: wire.ApplicationPath(p.appID, "signingKeys"), body: struct{}{}, retry: retryIdempotent}
	if err := p.do(ctx, c, &out); err != nil {
		return "", err
	}
	kid := out.KID
	if kid == "" {
		kid = wire.LastSegment(out.Href)
	}
	if kid == "" {
		return "", invalidAnswer("a signing key without a kid")
	}
	return kid, nil
}
