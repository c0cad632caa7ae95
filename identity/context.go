package identity

import "context"

type clientIPKey struct{}

// WithClientIP returns ctx carrying the IP address of the client on whose
// behalf a call is made. The HTTP layers set it from the connection (or a
// trusted proxy's X-Forwarded-For); failed-login regulation counts per
// account and client IP with it.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

// ClientIP returns the client IP carried by ctx, or "" if none.
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}
