package directory

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/jsoncheck"
)

// Media types of request bodies.
const (
	mimeJSON       = "application/json"
	mimeMergePatch = "application/merge-patch+json"
)

// readBody reads the request body, whose media type must be one of types.
// An empty body is allowed without a Content-Type when optional is set
// (Stormpath's SDKs send API key creation and deletes that way) and is a
// 400 otherwise; a non-empty body of another type, or without a type, is a
// 415, and one past the body limit a 413. It returns the body and its media
// type ("" for an empty body without one).
func readBody(c echo.Context, optional bool, types ...string) ([]byte, string, error) {
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, "", tooLarge()
		}
		return nil, "", identity.Invalid("body", "The request body could not be read.")
	}
	// encoding/json would silently replace invalid UTF-8 with U+FFFD and
	// store something other than what was sent.
	if !utf8.Valid(b) {
		return nil, "", identity.Invalid("body", "The request body is not valid UTF-8.")
	}
	ct := c.Request().Header.Get(echo.HeaderContentType)
	empty := len(bytes.TrimSpace(b)) == 0
	if ct == "" && empty {
		if optional {
			return nil, "", nil
		}
		return nil, "", identity.Invalid("body", "A JSON request body is required.")
	}
	mt, _, err := mime.ParseMediaType(ct)
	mt = strings.ToLower(mt)
	if err != nil || !slices.Contains(types, mt) {
		return nil, "", unsupportedMediaType(strings.Join(types, " or "))
	}
	if empty {
		if optional {
			return nil, mt, nil
		}
		return nil, "", identity.Invalid("body", "A JSON request body is required.")
	}
	return b, mt, nil
}

// decodeJSON reads a JSON object body into dst. Unknown members are
// refused (400 naming the member), so that a typo is an error rather than a
// silently ignored field; members named in ignored are accepted and
// dropped (the read-only members Stormpath's SDKs send back when saving a
// resource). With optional, an empty body leaves dst alone and reports
// false.
func decodeJSON(c echo.Context, optional bool, dst any, ignored ...string) (bool, error) {
	m, err := decodeObject(c, optional)
	if err != nil || m == nil {
		return false, err
	}
	return true, strictFrom(m, dst, ignored...)
}

// decodeObject reads a JSON object body as its members, undecoded. With
// optional, an empty body is a nil map.
func decodeObject(c echo.Context, optional bool) (map[string]json.RawMessage, error) {
	b, _, err := readBody(c, optional, mimeJSON)
	if err != nil || b == nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := unmarshalStrict(b, &m); err != nil {
		return nil, err
	}
	// Checked here, on the bytes the client sent, and not again on what
	// strictFrom re-encodes from m, which cannot repeat a name. Folded at
	// the top level: the members go on into structs.
	if name, dup := jsoncheck.Duplicate(b, true); dup {
		return nil, duplicateError(name)
	}
	if m == nil { // cannot happen: unmarshalStrict wants an object
		m = map[string]json.RawMessage{}
	}
	return m, nil
}

// strictFrom decodes an object's members into dst, refusing unknown
// members, after dropping those named in ignored.
func strictFrom(m map[string]json.RawMessage, dst any, ignored ...string) error {
	for _, k := range ignored {
		delete(m, k)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return identity.Invalid("body", "The request body is not valid JSON.")
	}
	return unmarshalStrict(b, dst)
}

// unmarshalStrict decodes one JSON object into dst, refusing unknown
// members and trailing data.
func unmarshalStrict(b []byte, dst any) error {
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		if json.Valid(t) {
			return identity.Invalid("body", "The request body must be a JSON object.")
		}
		return identity.Invalid("body", "The request body is not valid JSON.")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return identity.Invalid("body", "The request body must hold a single JSON object.")
	}
	return nil
}

// duplicateError refuses a body that names a member twice: decoders
// disagree on which one counts (see package jsoncheck).
func duplicateError(name string) error {
	name = truncate(name, 64)
	return identity.Invalid(name, "The member %q is given more than once.", name)
}

// jsonError turns a decoding error into a 400 that names the member at
// fault without echoing the input back.
func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field == "" {
			return identity.Invalid("body", "The request body must be a JSON object.")
		}
		return identity.Invalid(typeErr.Field, "The member %q must be a %s.", typeErr.Field, jsonType(typeErr.Type.String()))
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		f = strings.Trim(f, `"`)
		return identity.Invalid(f, "Unknown member %q.", truncate(f, 64))
	}
	return identity.Invalid("body", "The request body is not valid JSON.")
}

// jsonType names a Go type the way a JSON client thinks of it.
func jsonType(goType string) string {
	switch {
	case goType == "string" || strings.HasSuffix(goType, "*string"):
		return "string"
	case strings.HasPrefix(goType, "int") || strings.HasPrefix(goType, "uint") || strings.HasPrefix(goType, "float"):
		return "number"
	case goType == "bool":
		return "boolean"
	case strings.HasPrefix(goType, "[]"):
		return "array"
	case strings.HasPrefix(goType, "map") || strings.Contains(goType, "."):
		return "object"
	}
	return goType
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// query checks a request's query string against the parameters the route
// knows, so a filter the directory does not implement (givenName=, orderBy=)
// is a 400 rather than silently ignored, which would return more than the
// caller asked for. It returns the parsed values.
func query(c echo.Context, known ...string) (url.Values, error) {
	q, err := url.ParseQuery(c.Request().URL.RawQuery)
	if err != nil {
		return nil, identity.Invalid("query", "The query string is not valid.")
	}
	for name, vs := range q {
		if !slices.Contains(known, name) {
			return nil, identity.Invalid(truncate(name, 64), "Unknown query parameter %q.", truncate(name, 64))
		}
		if len(vs) > 1 {
			return nil, identity.Invalid(name, "The query parameter %q is given more than once.", name)
		}
	}
	return q, nil
}

// noQuery is the middleware of routes that take no query parameter: any is
// a 400, as for every other route that does not know it.
func noQuery(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, err := query(c); err != nil {
			return err
		}
		return next(c)
	}
}

// pagingParams are the query parameters of every collection.
var pagingParams = []string{"offset", "limit"}

// pagedQuery reads the query of a collection request: the known
// parameters plus offset and limit, and the page they ask for.
func pagedQuery(c echo.Context, known ...string) (url.Values, identity.Page, error) {
	// Concat, not append: known may be a caller's shared slice.
	q, err := query(c, slices.Concat(known, pagingParams)...)
	if err != nil {
		return nil, identity.Page{}, err
	}
	p, err := page(q)
	if err != nil {
		return nil, identity.Page{}, err
	}
	return q, p, nil
}

// page reads offset and limit: offset from 0, limit from 1 to
// identity.MaxLimit (default identity.DefaultLimit).
func page(q url.Values) (identity.Page, error) {
	p := identity.Page{Limit: identity.DefaultLimit}
	if v, ok := q["offset"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 0 || n > math.MaxInt32 {
			return p, identity.Invalid("offset", "The offset must be an integer from 0 to %d.", math.MaxInt32)
		}
		p.Offset = n
	}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > identity.MaxLimit {
			return p, identity.Invalid("limit", "The limit must be an integer from 1 to %d.", identity.MaxLimit)
		}
		p.Limit = n
	}
	return p, nil
}

// expansions reads ?expand=a,b. Names the route cannot expand are ignored,
// as are Stormpath's paging options on them (groups(offset:0)): the answer
// then holds a link instead, which a client can follow, so ignoring an
// expansion never changes what the answer means.
func expansions(q url.Values) map[string]bool {
	out := map[string]bool{}
	for _, part := range strings.Split(q.Get("expand"), ",") {
		name, _, _ := strings.Cut(strings.TrimSpace(part), "(")
		if name != "" {
			out[name] = true
		}
	}
	return out
}

// pathParam returns a path parameter, unescaped (Echo leaves escapes in
// place when the request path has them).
func pathParam(c echo.Context, name string) string {
	v := c.Param(name)
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

// validID reports whether s can be an id of the protocol: 1 to 64
// characters of base62 and '_' (ids, API key ids with their gk_ prefix).
// Anything else names nothing, and is answered 404 without asking the
// Provider.
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch == '_') {
			return false
		}
	}
	return true
}

// idParam returns the path parameter name as an id of a resource of kind,
// or a 404 naming kind if it cannot be one.
func idParam(c echo.Context, name, kind string) (string, error) {
	id := pathParam(c, name)
	if !validID(id) {
		return "", identity.NotFound(kind)
	}
	return id, nil
}

// bodiless checks a request that takes no query parameter and at most an
// empty JSON body, as the deletes do.
func bodiless(c echo.Context) error {
	if _, err := query(c); err != nil {
		return err
	}
	_, _, err := readBody(c, true, mimeJSON)
	return err
}

// pageSlice cuts one page out of a whole collection held in memory.
func pageSlice[T any](all []T, p identity.Page) []T {
	if p.Offset >= len(all) {
		return []T{}
	}
	end := min(len(all), p.Offset+p.Limit)
	return all[p.Offset:end]
}

// escapePath escapes a value for one path segment.
func escapePath(s string) string { return url.PathEscape(s) }
