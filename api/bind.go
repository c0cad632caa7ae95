package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/jsoncheck"
)

// readBody reads a request body whose media type must be one of types:
// 415 for another type, 413 past the body limit.
func readBody(c echo.Context, types ...string) ([]byte, error) {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || !slices.Contains(types, strings.ToLower(mt)) {
		return nil, newError(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
			fmt.Sprintf("The request body must be %s.", strings.Join(types, " or ")))
	}
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, newError(http.StatusRequestEntityTooLarge, CodeRequestTooLarge, "The request body is too large.")
		}
		return nil, newError(http.StatusBadRequest, CodeBadRequest, "The request body could not be read.")
	}
	// encoding/json would silently replace invalid UTF-8 with U+FFFD, so a
	// username or secret could be stored as something other than what was
	// sent: refuse it instead.
	if !utf8.Valid(b) {
		return nil, newError(http.StatusBadRequest, CodeMalformedJSON, "The request body must be valid UTF-8.")
	}
	return b, nil
}

// decodeJSON decodes a JSON object body into dst. Unknown fields are
// refused, so a typo ("passwrd") is an error rather than silently ignored.
func decodeJSON(c echo.Context, dst any) error {
	b, err := readBody(c, echo.MIMEApplicationJSON)
	if err != nil {
		return err
	}
	return unmarshalStrict(b, dst)
}

func unmarshalStrict(b []byte, dst any) error {
	// A top-level null (or any non-object) would decode into a struct
	// without error, as if no fields were sent.
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return newError(http.StatusBadRequest, CodeMalformedJSON, "The request body must be a JSON object.")
	}
	if name, dup := jsoncheck.Duplicate(b, true); dup {
		return duplicateError(name)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	// dec.More would miss a stray "}" or "]" after the object.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return newError(http.StatusBadRequest, CodeMalformedJSON, "The request body must hold a single JSON value.")
	}
	return nil
}

// duplicateError refuses a body that names a member twice: decoders
// disagree on which one counts (see package jsoncheck).
func duplicateError(name string) error {
	name = truncate(name, 64)
	return &Error{Status: http.StatusBadRequest, Code: string(identity.CodeInvalidInput), Field: name,
		Message: fmt.Sprintf("The field %q is given more than once.", name)}
}

// jsonError turns a decoding error into a 400 that names the problem
// without echoing the input back.
func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		if field == "" {
			return newError(http.StatusBadRequest, CodeMalformedJSON, "The request body must be a JSON object.")
		}
		return &Error{Status: http.StatusBadRequest, Code: string(identity.CodeInvalidInput), Field: field,
			Message: fmt.Sprintf("The field %q must be a %s.", field, typeErr.Type.String())}
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		f = truncate(strings.Trim(f, `"`), 64)
		return &Error{Status: http.StatusBadRequest, Code: string(identity.CodeInvalidInput), Field: f,
			Message: fmt.Sprintf("Unknown field %q.", f)}
	}
	return newError(http.StatusBadRequest, CodeMalformedJSON, "The request body is not valid JSON.")
}

// truncate shortens a name the client sent before it is echoed in an error.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// decodeCustomData reads a JSON object body of custom data, keeping numbers
// exact.
func decodeCustomData(c echo.Context, types ...string) (identity.CustomData, error) {
	b, err := readBody(c, types...)
	if err != nil {
		return nil, err
	}
	if !json.Valid(b) {
		return nil, newError(http.StatusBadRequest, CodeMalformedJSON, "The request body is not valid JSON.")
	}
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return nil, &Error{Status: http.StatusBadRequest, Code: string(identity.CodeInvalidInput), Field: "customData",
			Message: "Custom data must be a JSON object."}
	}
	if name, dup := jsoncheck.Duplicate(b, false); dup {
		return nil, duplicateError(name)
	}
	return identity.DecodeCustomData(b)
}
