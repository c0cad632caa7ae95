package directory

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPIDocument is the OpenAPI 3.1 description of the protocol, written
// by hand beside protocol.md. A test checks that it names every route the
// server registers, and no other.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the OpenAPI 3.1 document the directory serves at
// /v1/openapi.json.
func OpenAPI() []byte { return append([]byte(nil), openAPIDocument...) }

// openAPI serves the document. It needs no credentials: it describes the
// protocol, not any data.
func (s *server) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPIDocument)
}
