package wire

// Hosted login: an application's redirect URI allow-list, the login
// requests its API servers have the directory sign, their verification for
// the hosted pages, and the assertions the pages hand back (protocol.md,
// Hosted login).

// RedirectURI is one entry of an application's allow-list, normalised.
type RedirectURI struct {
	URI string `json:"uri"`
}

// LoginRequestWrite asks for a signed login request. Path is "login"
// (the default) or "register".
type LoginRequestWrite struct {
	RedirectURI string `json:"redirectUri"`
	State       string `json:"state"`
	Nonce       string `json:"nonce"`
	Path        string `json:"path,omitempty"`
}

// LoginRequest is a signed login request.
type LoginRequest struct {
	Request   string `json:"request"`
	JTI       string `json:"jti"`
	ExpiresAt Time   `json:"expiresAt"`
}

// LoginRequestVerification asks the directory to verify a login request.
type LoginRequestVerification struct {
	Request string `json:"request"`
}

// LoginRequestClaims are a verified login request's claims.
type LoginRequestClaims struct {
	JTI           string `json:"jti"`
	Application   string `json:"application"`
	ApplicationID string `json:"applicationId,omitempty"`
	RedirectURI   string `json:"redirectUri"`
	State         string `json:"state"`
	Nonce         string `json:"nonce"`
	Path          string `json:"path"`
	IssuedAt      Time   `json:"issuedAt"`
	ExpiresAt     Time   `json:"expiresAt"`
}

// LoginAssertionWrite asks for an assertion that the account logged in for
// the request.
type LoginAssertionWrite struct {
	Request   string `json:"request"`
	AccountID string `json:"accountId"`
}

// LoginAssertion is a signed login assertion.
type LoginAssertion struct {
	Assertion string `json:"assertion"`
	JTI       string `json:"jti"`
	AccountID string `json:"accountId"`
	ExpiresAt Time   `json:"expiresAt"`
}
