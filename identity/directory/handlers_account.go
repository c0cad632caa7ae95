package directory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/jsoncheck"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

// accountReadOnly are the read-only members and links of an account.
// Stormpath's SDKs save an account by POSTing back everything they hold, so
// these are accepted in a write and ignored; any other unknown member is
// still refused.
var accountReadOnly = []string{
	"href", "fullName", "createdAt", "modifiedAt", "passwordModifiedAt",
	"emailVerificationStatus", "emailVerificationToken",
	"groups", "groupMemberships", "apiKeys", "accessTokens", "refreshTokens", "applications",
	"directory", "tenant", "providerData", "linkedAccounts", "accountLinks", "factors", "phones",
}

func (s *server) listAccounts(c echo.Context) error {
	a, err := ownApplication(c)
	if err != nil {
		return err
	}
	q, p, err := pagedQuery(c, "username", "email", "status", "q", "expand")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	list, err := provider(c).ListAccounts(ctx, identity.AccountFilter{
		Username: q.Get("username"),
		Email:    q.Get("email"),
		Status:   identity.Status(q.Get("status")),
		Query:    q.Get("q"),
		Page:     p,
	})
	if err != nil {
		return err
	}
	items, err := s.accountsJSON(c, list.Items, expansions(q)["customData"])
	if err != nil {
		return err
	}
	return send(c, http.StatusOK, collection(s, c, wire.ApplicationPath(a.ID, "accounts"), items, p, list.Total))
}

// accountsJSON renders accounts, with their custom data inline if
// expandCustomData.
func (s *server) accountsJSON(c echo.Context, accs []*identity.Account, expandCustomData bool) ([]wire.Account, error) {
	out := make([]wire.Account, 0, len(accs))
	for _, a := range accs {
		var cd json.RawMessage
		if expandCustomData {
			var err error
			if cd, err = s.expandedCustomData(c, a); err != nil {
				return nil, err
			}
		}
		out = append(out, s.accountJSON(c, a, cd))
	}
	return out, nil
}

func (s *server) expandedCustomData(c echo.Context, a *identity.Account) (json.RawMessage, error) {
	data, err := provider(c).CustomData(c.Request().Context(), a.ID)
	if err != nil {
		return nil, err
	}
	return s.customDataJSON(c, a, data)
}

func (s *server) createAccount(c echo.Context) error {
	if _, err := ownApplication(c); err != nil {
		return err
	}
	// Stormpath's registrationWorkflowEnabled is accepted and ignored:
	// Gatehouse has no verification email workflow.
	if _, err := query(c, "registrationWorkflowEnabled", "expand"); err != nil {
		return err
	}
	var in wire.AccountWrite
	if _, err := decodeJSON(c, false, &in, accountReadOnly...); err != nil {
		return err
	}
	if err := noMiddleName(in.MiddleName); err != nil {
		return err
	}
	customData, err := stormpathCustomData(in.CustomData)
	if err != nil {
		return err
	}
	create := identity.AccountCreate{
		Username:     deref(in.Username),
		Email:        deref(in.Email),
		Password:     deref(in.Password),
		PasswordHash: deref(in.PasswordHash),
		GivenName:    deref(in.GivenName),
		Surname:      deref(in.Surname),
		Status:       identity.Status(deref(in.Status)),
	}
	if create.Username == "" {
		// Stormpath: the username defaults to the email.
		create.Username = create.Email
	}
	if len(customData) > 0 {
		// Stored with the account in one write: an account never exists
		// without the custom data it was created with.
		create.CustomData = withoutNulls(customData)
	}
	acc, err := provider(c).CreateAccount(c.Request().Context(), create)
	if err != nil {
		return err
	}
	href := s.href(c, wire.AccountPath(acc.ID, ""))
	return created(c, href, s.accountJSON(c, acc, nil))
}

// noMiddleName refuses a middle name: Gatehouse accounts have none, and
// dropping one silently would lose data. null and "" (what the directory
// itself answers) are fine.
func noMiddleName(v *string) error {
	if v != nil && *v != "" {
		return identity.Invalid("middleName", "Accounts have no middle name.")
	}
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// accountParam reads the :id parameter as an account id.
func accountParam(c echo.Context) (string, error) { return idParam(c, "id", "account") }

func (s *server) getAccount(c echo.Context) error {
	id, err := accountParam(c)
	if err != nil {
		return err
	}
	q, err := query(c, "expand")
	if err != nil {
		return err
	}
	acc, err := provider(c).Account(c.Request().Context(), id)
	if err != nil {
		return err
	}
	var cd json.RawMessage
	if expansions(q)["customData"] {
		if cd, err = s.expandedCustomData(c, acc); err != nil {
			return err
		}
	}
	return send(c, http.StatusOK, s.accountJSON(c, acc, cd))
}

// updateAccount changes the members given; members equal to the stored
// values are left alone, so that an SDK saving the whole account does not
// rewrite (and re-date) what it did not change. Inline customData merges
// as POST …/customData does. The account and its custom data are two
// writes: if the second fails, the first stays.
func (s *server) updateAccount(c echo.Context) error {
	id, err := accountParam(c)
	if err != nil {
		return err
	}
	if _, err := query(c); err != nil {
		return err
	}
	var in wire.AccountWrite
	if _, err := decodeJSON(c, false, &in, accountReadOnly...); err != nil {
		return err
	}
	if err := noMiddleName(in.MiddleName); err != nil {
		return err
	}
	if in.PasswordHash != nil {
		return identity.Invalid("passwordHash", "A password hash can only be imported when the account is created.")
	}
	customData, err := stormpathCustomData(in.CustomData)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	p := provider(c)
	cur, err := p.Account(ctx, id)
	if err != nil {
		return err
	}
	var u identity.AccountUpdate
	changed := false
	set := func(dst **string, v *string, old string) {
		if v != nil && *v != old {
			*dst, changed = v, true
		}
	}
	set(&u.Username, in.Username, cur.Username)
	set(&u.Email, in.Email, cur.Email)
	set(&u.GivenName, in.GivenName, cur.GivenName)
	set(&u.Surname, in.Surname, cur.Surname)
	if in.Password != nil {
		u.Password, changed = in.Password, true
	}
	if in.Status != nil && identity.Status(*in.Status) != cur.Status {
		st := identity.Status(*in.Status)
		u.Status, changed = &st, true
	}
	// A failed write must leave nothing behind. The custom data goes first,
	// since it is what a client's mistake (too large, too deep, a reserved
	// name) most often breaks; if the account change fails after it, the
	// previous custom data is put back.
	var restore identity.CustomData
	if len(customData) > 0 {
		if restore, err = p.CustomData(ctx, id); err != nil {
			return err
		}
		if _, err := s.stormpathMerge(ctx, p, id, customData); err != nil {
			return err
		}
	}
	acc := cur
	if changed {
		if acc, err = p.UpdateAccount(ctx, id, u); err != nil {
			if restore != nil {
				if _, rerr := p.ReplaceCustomData(ctx, id, restore); rerr != nil {
					s.log.ErrorContext(ctx, "restoring custom data after a failed account update", "account", id, "error", rerr)
				}
			}
			return err
		}
	}
	return send(c, http.StatusOK, s.accountJSON(c, acc, nil))
}

func (s *server) deleteAccount(c echo.Context) error {
	id, err := accountParam(c)
	if err != nil {
		return err
	}
	if err := bodiless(c); err != nil {
		return err
	}
	if err := provider(c).DeleteAccount(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// accountApplications answers the applications an account belongs to: the
// caller's, where every account of its Provider lives.
func (s *server) accountApplications(c echo.Context) error {
	id, err := accountParam(c)
	if err != nil {
		return err
	}
	_, p, err := pagedQuery(c, "expand")
	if err != nil {
		return err
	}
	if _, err := provider(c).Account(c.Request().Context(), id); err != nil {
		return err
	}
	all := []wire.Application{s.applicationJSON(c, app(c))}
	return send(c, http.StatusOK, collection(s, c, wire.AccountPath(id, "applications"), pageSlice(all, p), p, len(all)))
}

// Custom data.

// readOnlyCustomData are the members of a custom data document the
// directory computes; in a body they are ignored (Stormpath's SDKs send
// href back on every save).
var readOnlyCustomData = []string{"href", "createdAt", "modifiedAt"}

// decodeCustomDataBody decodes a custom data object from b, keeping numbers
// exact, without the read-only members.
func decodeCustomDataBody(b []byte) (identity.CustomData, error) {
	t := bytes.TrimSpace(b)
	if !json.Valid(t) {
		return nil, identity.Invalid("body", "The request body is not valid JSON.")
	}
	if len(t) == 0 || t[0] != '{' {
		return nil, identity.Invalid("customData", "Custom data must be a JSON object.")
	}
	if name, dup := jsoncheck.Duplicate(t, false); dup {
		return nil, duplicateError(name)
	}
	d, err := identity.DecodeCustomData(t)
	if err != nil {
		return nil, err
	}
	for _, k := range readOnlyCustomData {
		delete(d, k)
	}
	return d, nil
}

// stormpathCustomData reads the inline customData member of an account
// body: absent or null is nothing to do.
func stormpathCustomData(raw json.RawMessage) (identity.CustomData, error) {
	if len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	d, err := decodeCustomDataBody(raw)
	if err != nil {
		return nil, err
	}
	// Check the names now, so that a bad name fails the whole request
	// before anything is written.
	for k := range d {
		if err := identity.CheckCustomDataKey(k); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (s *server) getCustomData(c echo.Context) error {
	id, err := accountParam(c)
	if err != nil {
		return err
	}
	if _, err := query(c); err != nil {
		return err
	}
	acc, err := provider(c).Account(c.Request().Context(), id)
	if err != nil {
		return err
	}
	doc, err := s.expandedCustomData(c, acc)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, doc)
}

// postCustomData updates custom data. With application/json it is
// Stormpath's update: each top-level member given replaces the stored one
// (a null member deletes it); with application/merge-patch+json it is an
// RFC 7396 merge patch.
func (s *server) postCustomData(c echo.Context) error {
	id, err := accountParam(c)
	if err != nil {
		return err
	}
	if _, err := query(c); err != nil {
		return err
	}
	b, mt, err := readBody(c, false, mimeJSON, mimeMergePatch)
	if err != nil {
		return err
	}
	d, err := decodeCustomDataBody(b)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	p := provider(c)
	acc, err := p.Account(ctx, id)
	if err != nil {
		return err
	}
	var result identity.CustomData
	if mt == mimeMergePatch {
		result, err = p.MergeCustomData(ctx, id, d)
	} else {
		result, err = s.stormpathMerge(ctx, p, id, d)
	}
	if err != nil {
		return err
	}
	doc, err := s.customDataJSON(c, acc, result)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, doc)
}

// stormpathMerge applies Stormpath's custom data update through the
// Provider's merge patch: each top-level member of upd replaces the stored
// member whole, and a null member deletes it.
//
// An RFC 7396 patch merges objects recursively instead, so for a member
// whose old and new values are both objects the patch is the difference
// between them (nulls for the names that go). That difference is computed
// from a read, so a concurrent write to the same member could leave a mix;
// the result is checked, and the update retried, until each member holds
// exactly its new value. Nulls nested in an object cannot be stored by a
// merge patch: they are dropped, as a member set to null is.
func (s *server) stormpathMerge(ctx context.Context, p identity.Provider, accountID string, upd identity.CustomData) (identity.CustomData, error) {
	for k := range upd {
		if err := identity.CheckCustomDataKey(k); err != nil {
			return nil, err
		}
	}
	// Values are compared in their canonical JSON encoding.
	want := make(map[string][]byte, len(upd))
	for k, v := range upd {
		if v == nil {
			continue
		}
		b, err := json.Marshal(stripNulls(v))
		if err != nil {
			return nil, identity.Invalid("customData", "Custom data must be a JSON object.")
		}
		want[k] = b
	}
	const attempts = 3
	var result identity.CustomData
	for range attempts {
		cur, err := p.CustomData(ctx, accountID)
		if err != nil {
			return nil, err
		}
		patch := make(identity.CustomData, len(upd))
		for k, v := range upd {
			patch[k] = replacePatch(cur[k], v)
		}
		if result, err = p.MergeCustomData(ctx, accountID, patch); err != nil {
			return nil, err
		}
		if matches(result, want, upd) {
			return result, nil
		}
	}
	return nil, errors.New("custom data kept changing while it was updated")
}

// matches reports whether each member of upd holds its new value in result.
func matches(result identity.CustomData, want map[string][]byte, upd identity.CustomData) bool {
	for k, v := range upd {
		got, present := result[k]
		if v == nil {
			if present {
				return false
			}
			continue
		}
		b, err := json.Marshal(got)
		if err != nil || !bytes.Equal(b, want[k]) {
			return false
		}
	}
	return true
}

// replacePatch returns the RFC 7396 patch that turns old into new.
func replacePatch(old, new any) any {
	nm, newObj := new.(map[string]any)
	om, oldObj := old.(map[string]any)
	if !newObj || !oldObj {
		return new
	}
	out := make(map[string]any, len(nm)+len(om))
	for k := range om {
		if _, ok := nm[k]; !ok {
			out[k] = nil
		}
	}
	for k, v := range nm {
		out[k] = replacePatch(om[k], v)
	}
	return out
}

// stripNulls removes null members from objects, recursively (not from
// arrays, which a merge patch replaces whole): what a merge patch stores.
func stripNulls(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(m))
	for k, x := range m {
		if x != nil {
			out[k] = stripNulls(x)
		}
	}
	return out
}

// withoutNulls is stripNulls for a whole document.
func withoutNulls(d identity.CustomData) identity.CustomData {
	return identity.CustomData(stripNulls(map[string]any(d)).(map[string]any))
}

// replaceCustomData replaces the whole document (a Gatehouse extension).
func (s *server) replaceCustomData(c echo.Context) error {
	id, err := accountParam(c)
	if err != nil {
		return err
	}
	if _, err := query(c); err != nil {
		return err
	}
	b, _, err := readBody(c, false, mimeJSON)
	if err != nil {
		return err
	}
	d, err := decodeCustomDataBody(b)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	p := provider(c)
	acc, err := p.Account(ctx, id)
	if err != nil {
		return err
	}
	result, err := p.ReplaceCustomData(ctx, id, d)
	if err != nil {
		return err
	}
	doc, err := s.customDataJSON(c, acc, result)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, doc)
}

// deleteCustomData empties the document.
func (s *server) deleteCustomData(c echo.Context) error {
	id, err := accountParam(c)
	if err != nil {
		return err
	}
	if err := bodiless(c); err != nil {
		return err
	}
	if _, err := provider(c).ReplaceCustomData(c.Request().Context(), id, identity.CustomData{}); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// deleteCustomDataKey removes one member; removing an absent one is not an
// error.
func (s *server) deleteCustomDataKey(c echo.Context) error {
	id, err := accountParam(c)
	if err != nil {
		return err
	}
	if err := bodiless(c); err != nil {
		return err
	}
	if err := provider(c).DeleteCustomDataKey(c.Request().Context(), id, pathParam(c, "key")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
