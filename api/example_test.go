package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/api"
	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/mock"
)

// Protect your own Echo app: api.Auth accepts HTTP Basic (password, API key
// or token) and Bearer tokens, and api.AccountFrom tells a handler who is
// calling. In production the provider is the SQL store or the remote
// directory; in tests, the in-memory mock.
func Example() {
	provider := mock.New(mock.WithFastHashing())
	_, _ = provider.CreateAccount(context.Background(), identity.AccountCreate{Username: "alice", Password: "correct horse battery"})

	e := echo.New()
	e.HTTPErrorHandler = api.ErrorHandler(nil) // JSON problems, right statuses
	e.GET("/hello", func(c echo.Context) error {
		acc, _ := api.AccountFrom(c)
		return c.String(http.StatusOK, "Hello, "+acc.Username+"!")
	}, api.Auth(provider))

	req := httptest.NewRequest(http.MethodGet, "/hello", nil)
	req.SetBasicAuth("alice", "correct horse battery")
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body.String())

	req = httptest.NewRequest(http.MethodGet, "/hello", nil)
	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Values("WWW-Authenticate"))
	// Output:
	// 200 Hello, alice!
	// 401 [Basic realm="gatehouse", charset="UTF-8" Bearer realm="gatehouse"]
}
