// Package directory is Gatehouse's directory server: it serves the
// identities of one or more applications over the Stormpath-shaped HTTP
// protocol described in identity/wire/protocol.md, so that API servers
// configured with the remote provider (identity/remote), and Stormpath's own
// SDKs where the protocol allows, can delegate every identity decision to
// it.
//
//	db, _ := sqlstore.Open(ctx, "gatehouse.db")
//	e := directory.New(directory.Config{}, directory.SQLTenant(db, store.Options{}), logger)
//	_ = e.Start("127.0.0.1:8080")
//
// The server itself holds no identity logic. A Tenant supplies the
// applications, one identity.Provider per application, the admin keys
// callers authenticate with and the store of idempotent answers; the
// handlers only translate between the wire types (identity/wire) and the
// Provider. SQLTenant serves every application of a SQL store;
// StaticTenant serves one application over any Provider (the mock, in
// tests).
//
// # Scoping
//
// Every /v1 request carries an admin API key (HTTP Basic). A key belongs to
// one application, and every lookup goes through that application's
// Provider, so a resource of another application is simply not found (404):
// the server never has to remember to check ownership.
//
// # Errors
//
// Every error, Echo's own (404, 405, 413) included, is a wire.Error body
// with a Request-Id header. Internal errors are logged once, with the
// request id, and answered with a generic message. Failed login and API key
// attempts answer one fixed body whatever the cause, so a caller cannot tell
// an unknown login from a wrong password.
package directory
