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

// Test what your app does when the identity service misbehaves: the mock
// provider fails or slows down any operation on request. An unreachable
// provider is a 503 with Retry-After, never a wrong password.
func Example_faultInjection() {
	provider := mock.New(mock.WithFastHashing())
	_ = provider.Seed(context.Background(), mock.Account{Username: "alice", Password: "correct horse battery"})

	e := echo.New()
	e.HTTPErrorHandler = api.ErrorHandler(nil)
	e.GET("/hello", func(c echo.Context) error {
		return c.String(http.StatusOK, "hello")
	}, api.Auth(provider))

	login := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/hello", nil)
		req.SetBasicAuth("alice", "correct horse battery")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}

	provider.Fail(mock.OpAuthenticate, identity.ErrUnavailable)
	rec := login()
	fmt.Println(rec.Code, rec.Header().Get("Retry-After") != "")

	provider.Reset() // the provider is back; call counts start again
	fmt.Println(login().Code, provider.Calls(mock.OpAuthenticate))
	// Output:
	// 503 true
	// 200 1
}

// AuthWithConfig narrows what a route accepts: here only API keys, as a
// machine-to-machine endpoint would, in a realm of its own.
func ExampleAuthWithConfig() {
	provider := mock.New(mock.WithFastHashing())
	_ = provider.Seed(context.Background(), mock.Account{Username: "alice", Password: "correct horse battery"})

	e := echo.New()
	e.HTTPErrorHandler = api.ErrorHandler(nil)
	e.POST("/ingest", func(c echo.Context) error {
		return c.NoContent(http.StatusAccepted)
	}, api.AuthWithConfig(api.AuthConfig{
		Provider: provider,
		Realm:    "ingest",
		Methods:  []api.Method{api.MethodAPIKey},
	}))

	req := httptest.NewRequest(http.MethodPost, "/ingest", nil)
	req.SetBasicAuth("alice", "correct horse battery") // a password: not accepted here
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	// Output:
	// 401 Basic realm="ingest", charset="UTF-8"
}
