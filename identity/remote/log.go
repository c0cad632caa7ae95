package remote

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"

	"github.com/hashicorp/go-retryablehttp"
)

// leveledLogger adapts a *slog.Logger to go-retryablehttp's LeveledLogger.
// The library logs full URLs (query strings included) and errors whose text
// holds them; the adapter rewrites every value it is given so that a URL
// shows only its path (the "url" key) or its scheme, host and path (URLs
// inside other text). The library never logs headers, so the Authorization
// header cannot reach it.
type leveledLogger struct{ l *slog.Logger }

var _ retryablehttp.LeveledLogger = leveledLogger{}

// Error implements retryablehttp.LeveledLogger. The library reports every
// failed attempt as an error, even one that is retried and then succeeds;
// the provider logs the outcome of the whole call itself (at Warn), so an
// attempt's failure is logged at Info.
func (a leveledLogger) Error(msg string, kv ...any) { a.log(slog.LevelInfo, msg, kv) }

// Warn implements retryablehttp.LeveledLogger.
func (a leveledLogger) Warn(msg string, kv ...any) { a.log(slog.LevelWarn, msg, kv) }

// Info implements retryablehttp.LeveledLogger.
func (a leveledLogger) Info(msg string, kv ...any) { a.log(slog.LevelInfo, msg, kv) }

// Debug implements retryablehttp.LeveledLogger.
func (a leveledLogger) Debug(msg string, kv ...any) { a.log(slog.LevelDebug, msg, kv) }

func (a leveledLogger) log(level slog.Level, msg string, kv []any) {
	ctx := context.Background()
	if !a.l.Enabled(ctx, level) {
		return
	}
	args := make([]any, 0, len(kv))
	for i := 0; i+1 < len(kv); i += 2 {
		key, ok := kv[i].(string)
		if !ok {
			continue
		}
		if key == "url" {
			args = append(args, "path", urlPath(kv[i+1]))
			continue
		}
		args = append(args, key, scrubValue(kv[i+1]))
	}
	a.l.Log(ctx, level, "directory client: "+msg, args...)
}

// scrubValue renders v safe to log: errors and strings (and anything that
// formats itself) have their URLs reduced; numbers, durations and booleans
// pass through.
func scrubValue(v any) any {
	switch v := v.(type) {
	case nil, bool, int, int64, uint64, float64, slog.Level:
		return v
	case interface{ Nanoseconds() int64 }: // time.Duration
		return v
	case error:
		return scrub(v.Error())
	case string:
		return scrub(v)
	default:
		return scrub(fmt.Sprint(v))
	}
}

// urlPath returns the path of a URL given as a string or *url.URL.
func urlPath(v any) string {
	var s string
	switch v := v.(type) {
	case *url.URL:
		if v == nil {
			return ""
		}
		return v.EscapedPath()
	case string:
		s = v
	default:
		s = fmt.Sprint(v)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "[url]"
	}
	return u.EscapedPath()
}

// urlPattern finds absolute URLs in free text (Go quotes the URL of a
// *url.URL error, so a URL ends at a quote or a space).
var urlPattern = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]*://[^\s"'<>]+`)

// scrub rewrites every URL in s with redactURL.
func scrub(s string) string {
	return urlPattern.ReplaceAllStringFunc(s, redactURL)
}

// redactURL keeps a URL's scheme, host and path: no user information, no
// query, no fragment.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "[url]"
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return r.String()
}
