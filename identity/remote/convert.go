package remote

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/wire"
)

// validID reports whether id can name a resource in a path: 1 to 128
// characters of [0-9A-Za-z_]. Every id the directory hands out (base62 ids,
// gk_ key ids) has that shape, so an id that does not cannot exist, and is
// answered locally: no "..", "/", "-" (the membership separator) or empty
// segment ever reaches the directory.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_') {
			return false
		}
	}
	return true
}

// notFound is the error the directory's not_found answer turns into
// (wire.Error.Err): the kind is in the message, no field.
func notFound(kind string) error {
	e := identity.NotFound(kind)
	e.Field = ""
	return e
}

// checkUTF8 refuses invalid UTF-8 before it is put in a JSON body:
// encoding/json would silently replace the bad bytes with U+FFFD, and the
// directory would then accept a value the caller never sent.
func checkUTF8(field, s string) error {
	if !utf8.ValidString(s) {
		return identity.Invalid(field, "The %s must be valid UTF-8.", strings.ReplaceAll(field, "_", " "))
	}
	return nil
}

// checkUTF8Ptr is checkUTF8 for an optional field.
func checkUTF8Ptr(field string, s *string) error {
	if s == nil {
		return nil
	}
	return checkUTF8(field, *s)
}

// invalidAnswer reports an answer that parsed but does not make sense.
func invalidAnswer(what string) error {
	return identity.Unavailable(fmt.Errorf("the directory's answer is invalid: %s", what))
}

func toAccount(w *wire.Account) (*identity.Account, error) {
	id := wire.LastSegment(w.Href)
	if !validID(id) {
		return nil, invalidAnswer("an account without a valid href")
	}
	return &identity.Account{
		ID:                 id,
		Username:           w.Username,
		Email:              w.Email,
		GivenName:          w.GivenName,
		Surname:            w.Surname,
		Status:             identity.Status(w.Status),
		CreatedAt:          utc(w.CreatedAt),
		ModifiedAt:         utc(w.ModifiedAt),
		PasswordModifiedAt: utc(w.PasswordModifiedAt),
	}, nil
}

func toAccounts(ws []wire.Account) ([]*identity.Account, error) {
	out := make([]*identity.Account, len(ws))
	for i := range ws {
		a, err := toAccount(&ws[i])
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

func toAccountList(c *wire.Collection[wire.Account]) (*identity.List[*identity.Account], error) {
	items, err := toAccounts(c.Items)
	if err != nil {
		return nil, err
	}
	return &identity.List[*identity.Account]{Items: items, Offset: c.Offset, Limit: c.Limit, Total: c.Size}, nil
}

func toAPIKey(w *wire.APIKey) (*identity.APIKey, error) {
	id := w.ID
	if id == "" {
		id = wire.LastSegment(w.Href)
	}
	accountID := wire.LastSegment(w.Account.Href)
	if !validID(id) || !validID(accountID) {
		return nil, invalidAnswer("an API key without a valid id or account")
	}
	return &identity.APIKey{
		ID:        id,
		AccountID: accountID,
		Name:      w.Name,
		Status:    identity.Status(w.Status),
		CreatedAt: utc(w.CreatedAt),
	}, nil
}

func toGroup(w *wire.Group) (*identity.Group, error) {
	id := wire.LastSegment(w.Href)
	if !validID(id) {
		return nil, invalidAnswer("a group without a valid href")
	}
	return &identity.Group{
		ID:          id,
		Name:        w.Name,
		Description: w.Description,
		CreatedAt:   utc(w.CreatedAt),
		ModifiedAt:  utc(w.ModifiedAt),
	}, nil
}

func toGroups(ws []wire.Group) ([]*identity.Group, error) {
	out := make([]*identity.Group, len(ws))
	for i := range ws {
		g, err := toGroup(&ws[i])
		if err != nil {
			return nil, err
		}
		out[i] = g
	}
	return out, nil
}

// utc converts a wire time; the zero time stays zero.
func utc(t wire.Time) time.Time {
	if time.Time(t).IsZero() {
		return time.Time{}
	}
	return time.Time(t).UTC()
}

// splitScope splits a space-separated scope claim.
func splitScope(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Fields(s)
}

// readOnlyCustomData are the members the directory adds to custom data
// answers, as Stormpath did; they are not part of the account's data.
var readOnlyCustomData = []string{"href", "createdAt", "modifiedAt"}

// decodeCustomData decodes a custom data answer and drops the read-only
// members.
func decodeCustomData(raw []byte) (identity.CustomData, error) {
	d, err := identity.DecodeCustomData(raw)
	if err != nil {
		return nil, invalidAnswer("custom data that is not a JSON object")
	}
	for _, k := range readOnlyCustomData {
		delete(d, k)
	}
	return d, nil
}

// encodeCustomData encodes custom data (or a merge patch) for a request
// body; values encoding/json cannot represent are an invalid input, as
// with the local providers.
func encodeCustomData(d identity.CustomData) ([]byte, error) {
	if d == nil {
		return []byte("{}"), nil
	}
	b, err := encodeJSON(d)
	if err != nil {
		return nil, identity.Invalid("customData", "Custom data must be a JSON object.")
	}
	return b, nil
}

// isExpanded reports whether an attempt's account or key member holds the
// resource itself rather than only its link.
func isExpanded(raw json.RawMessage) bool {
	var probe struct {
		CreatedAt *wire.Time `json:"createdAt"`
	}
	return json.Unmarshal(raw, &probe) == nil && probe.CreatedAt != nil && !time.Time(*probe.CreatedAt).IsZero()
}
