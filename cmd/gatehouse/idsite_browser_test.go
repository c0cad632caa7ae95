package main

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium, which CI installs.
const chromiumPath = "/usr/bin/chromium"

// browser starts a headless Chromium with a fresh profile for the test and
// returns its context. It skips the test when Chromium is missing, unless
// GATEHOUSE_TEST_BROWSER=1 (CI), where that is a failure. When the test
// fails, a full-page screenshot of the last page is saved under
// GATEHOUSE_TEST_ARTIFACTS (default: the system's temporary directory).
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("GATEHOUSE_TEST_BROWSER") == "1" {
			t.Fatalf("%s is missing and GATEHOUSE_TEST_BROWSER=1: install chromium (apt-get install chromium)", chromiumPath)
		}
		t.Skipf("%s is missing: browser tests skipped (set GATEHOUSE_TEST_BROWSER=1 to make this a failure)", chromiumPath)
	}
	// Exactly these flags (and a fresh profile): anything else makes
	// Chromium try to reach the network.
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		if t.Failed() {
			saveScreenshot(t, ctx)
		}
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	cancelAuthChallenges(t, ctx)
	return ctx
}

// cancelAuthChallenges makes the browser answer the API's Basic challenge
// (on a 401) by cancelling it, as a person dismissing the dialog would, so
// the 401 itself is what the page or fetch gets. Headless Chromium would
// otherwise wait for credentials forever.
func cancelAuthChallenges(t *testing.T, ctx context.Context) {
	t.Helper()
	events := make(chan any, 4096)
	if err := chromedp.Listen(ctx, func(ev any) {
		switch ev.(type) {
		case *fetch.EventRequestPaused, *fetch.EventAuthRequired:
			events <- ev // the listener must not block for long; the buffer is ample for one test
		}
	}); err != nil {
		t.Fatalf("listen: %v", err)
	}
	go func() {
		for {
			var ev any
			select {
			case ev = <-events:
			case <-ctx.Done():
				return
			}
			_ = chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				var err error
				switch e := ev.(type) {
				case *fetch.EventRequestPaused:
					_, err = cdp.Call(ctx, tg, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: e.RequestID})
				case *fetch.EventAuthRequired:
					_, err = cdp.Call(ctx, tg, fetch.ContinueWithAuth, fetch.ContinueWithAuthParams{RequestID: e.RequestID,
						AuthChallengeResponse: &fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseCancelAuth}})
				}
				return err
			}))
		}
	}()
	handleAuth := true
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{HandleAuthRequests: &handleAuth, Patterns: []*fetch.RequestPattern{{URLPattern: "*"}}})
		return err
	})); err != nil {
		t.Fatalf("enable auth handling: %v", err)
	}
}

func saveScreenshot(t *testing.T, ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("no screenshot: %v", err)
		return
	}
	dir := os.Getenv("GATEHOUSE_TEST_ARTIFACTS")
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("no screenshot: %v", err)
		return
	}
	name := filepath.Join(dir, regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(t.Name(), "_")+"-"+time.Now().Format("150405")+".png")
	if err := os.WriteFile(name, png, 0o644); err != nil {
		t.Logf("no screenshot: %v", err)
		return
	}
	t.Logf("screenshot of the last page: %s", name)
}

// page is one browser tab in a test, with helpers that fail the test.
type page struct {
	t   *testing.T
	ctx context.Context
}

func (p page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

func (p page) location() string {
	p.t.Helper()
	loc, err := chromedp.Run(p.ctx, chromedp.Location())
	if err != nil {
		p.t.Fatalf("location: %v", err)
	}
	return loc
}

func (p page) text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// waitFor waits until the page's URL starts with prefix, the body is there,
// and returns the body's text.
func (p page) waitFor(prefix string) string {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		loc := p.location()
		if strings.HasPrefix(loc, prefix) {
			p.do("body of "+loc, chromedp.WaitReady(chromedp.CSS("body")))
			return p.text("body")
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the browser is at %s, want %s…\n%s", loc, prefix, p.text("body"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fill sets the value of each input (by id), submits the form by its
// button, and waits for the next document.
func (p page) fill(values map[string]string, button string) {
	p.t.Helper()
	for id, v := range values {
		p.do("fill "+id, chromedp.SetValue(chromedp.ID(id), v))
	}
	if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`window.gatehouseOldPage = true`)); err != nil {
		p.t.Fatalf("mark the page: %v", err)
	}
	p.do("submit", chromedp.Click(chromedp.CSS(button)))
	deadline := time.Now().Add(30 * time.Second)
	for {
		old, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`window.gatehouseOldPage === true`))
		if err == nil && !old {
			break
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("submitting did not load a new page (still at %s)", p.location())
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.do("load", chromedp.WaitReady(chromedp.CSS("body")))
}

// hostedLoginSetup is an API server with hosted login, and where its pages
// are.
type hostedLoginSetup struct {
	api   string // http://127.0.0.1:port
	pages string // base URL of the pages
	// allow and disallow change the allow-list of the API's callback.
	allow, disallow func()
}

func startHostedRemote(t *testing.T) hostedLoginSetup {
	t.Helper()
	dir := t.TempDir()
	apiAddr := freeAddr(t)
	callback := "http://" + apiAddr + "/login/callback"
	dirEnv := []string{"GATEHOUSE_DIRECTORY_DATABASE=" + filepath.Join(dir, "directory.db")}
	out := runBinary(t, dir, []string{"directory", "bootstrap", "--application", "webapp", "--redirect-uri", callback}, dirEnv...)
	directory := startBinary(t, dir, []string{"directory", "serve"}, dirEnv...)
	apiEnv := append([]string{
		"GATEHOUSE_IDENTITY_PROVIDER=remote",
		"GATEHOUSE_IDENTITY_REMOTE_URL=" + directory.base,
		"GATEHOUSE_APPLICATION=webapp",
		"GATEHOUSE_SERVER_ADDR=" + apiAddr,
		"GATEHOUSE_LOGIN_PUBLIC_URL=http://" + apiAddr,
	}, strings.Split(strings.TrimSpace(out), "\n")...)
	api := startBinary(t, dir, []string{"serve"}, apiEnv...)
	redirects := func(verb string) func() {
		return func() {
			runBinary(t, dir, []string{"directory", "redirect-uris", verb, "--application", "webapp", callback}, dirEnv...)
		}
	}
	return hostedLoginSetup{api: api.base, pages: directory.base + "/idsite", allow: redirects("add"), disallow: redirects("remove")}
}

func startHostedLocal(t *testing.T) hostedLoginSetup {
	t.Helper()
	dir := t.TempDir()
	apiAddr := freeAddr(t)
	api := startAPI(t, dir, filepath.Join(dir, "gatehouse.db"),
		"GATEHOUSE_SERVER_ADDR="+apiAddr, "GATEHOUSE_LOGIN_PUBLIC_URL=http://"+apiAddr)
	return hostedLoginSetup{api: api.base, pages: api.base + "/idsite"}
}

// TestBrowserHostedLoginRemote drives Chromium through hosted login with the
// API server on the remote provider and the pages served by the directory.
func TestBrowserHostedLoginRemote(t *testing.T) {
	ctx := browser(t)
	s := startHostedRemote(t)
	p := page{t: t, ctx: ctx}
	hostedLoginFlow(t, p, s)
	refusals(t, p, s)
}

// TestBrowserHostedLoginLocal is the same flow with the API server alone
// (local provider), serving the pages itself.
func TestBrowserHostedLoginLocal(t *testing.T) {
	ctx := browser(t)
	s := startHostedLocal(t)
	p := page{t: t, ctx: ctx}
	hostedLoginFlow(t, p, s)
	refusals(t, p, s)
}

const browserPassword = "a browser-typed passphrase"

// hostedLoginFlow: register through the page, log in, land on the API
// authenticated, log out.
func hostedLoginFlow(t *testing.T, p page, s hostedLoginSetup) {
	if status := p.fetchStatus(s.api, "/api/me"); status != http.StatusUnauthorized {
		t.Fatalf("/api/me before login: %d", status)
	}

	p.do("open /login", chromedp.Navigate(s.api+"/login?next=/api/me"))
	body := p.waitFor(s.pages + "/login?request=")
	if !strings.Contains(body, "Log in") {
		t.Fatalf("login page: %s", body)
	}
	p.do("follow the registration link", chromedp.Click(chromedp.CSS(`a[href*="/register?request="]`)))
	p.waitFor(s.pages + "/register?request=")
	p.fill(map[string]string{"username": "webuser", "email": "webuser@example.com", "given_name": "Web", "password": browserPassword}, `button[type=submit]`)
	body = p.waitFor(s.pages + "/login?")
	if !strings.Contains(body, "Your account was created") {
		t.Fatalf("after registration: %s", body)
	}

	p.fill(map[string]string{"login": "webuser", "password": browserPassword}, `button[type=submit]`)
	body = p.waitFor(s.api + "/api/me")
	if !strings.Contains(body, `"username":"webuser"`) || !strings.Contains(body, `"email":"webuser@example.com"`) {
		t.Fatalf("/api/me after login: %s", body)
	}
	// The session cookie is HttpOnly: page scripts cannot read it.
	if cookies, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.cookie`)); err != nil || strings.Contains(cookies, "gatehouse_session") {
		t.Fatalf("document.cookie = %q, %v: the session cookie is readable by scripts", cookies, err)
	}

	// GET /logout only shows the button (api's TestLogout checks that it
	// changes nothing); the logout is its POST, same-origin.
	p.do("open /logout", chromedp.Navigate(s.api+"/logout?next=/healthz"))
	p.fill(nil, `button[type=submit]`)
	p.waitFor(s.api + "/healthz")
	if status := p.fetchStatus(s.api, "/api/me"); status != http.StatusUnauthorized {
		t.Fatalf("/api/me after logout: %d", status)
	}
}

// fetchStatus returns the status the browser gets for path on origin, with
// its cookies, from a page of that origin. A 401 is not navigated to: its
// Basic challenge would make Chromium fail the navigation.
func (p page) fetchStatus(origin, path string) int {
	p.t.Helper()
	if !strings.HasPrefix(p.location(), origin+"/") {
		p.do("open "+origin, chromedp.Navigate(origin+"/healthz"))
	}
	status, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](
		`fetch(`+strconv.Quote(path)+`, {credentials: "same-origin"}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("fetch %s: %v", path, err)
	}
	return status
}

// refusals: a wrong password and an unknown user get the same message, a
// form without its CSRF token is refused, and a redirect URI that is not
// allowed is refused by the API and by the pages.
func refusals(t *testing.T, p page, s hostedLoginSetup) {
	failed := func(login, password string) string {
		t.Helper()
		p.do("open /login", chromedp.Navigate(s.api+"/login"))
		p.waitFor(s.pages + "/login?request=")
		p.fill(map[string]string{"login": login, "password": password}, `button[type=submit]`)
		p.do("wait for the error", chromedp.WaitVisible(chromedp.ID("form-error")))
		if loc := p.location(); !strings.HasPrefix(loc, s.pages+"/login") {
			t.Fatalf("a failed login left the pages for %s", loc)
		}
		return p.text("#form-error")
	}
	wrong := failed("webuser", "not the right password")
	unknown := failed("nobody-at-all", browserPassword)
	if wrong != unknown || !strings.Contains(wrong, "Login failed") {
		t.Fatalf("wrong password says %q, unknown user says %q: want one generic message", wrong, unknown)
	}

	// The form without its CSRF token: DevTools removes the field (no page
	// script could run under the pages' CSP).
	p.do("open /login", chromedp.Navigate(s.api+"/login"))
	p.waitFor(s.pages + "/login?request=")
	if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`document.querySelector('input[name=csrf_token]').remove(), true`)); err != nil {
		t.Fatalf("remove the CSRF field: %v", err)
	}
	p.fill(map[string]string{"login": "webuser", "password": browserPassword}, `button[type=submit]`)
	p.do("wait for the refusal", chromedp.WaitVisible(chromedp.CSS("h1")))
	if h := p.text("h1"); h != "Form refused" {
		t.Fatalf("a form without its CSRF token: %q\n%s", h, p.text("body"))
	}
	if status := lastStatus(t, p); status != http.StatusForbidden {
		t.Fatalf("a form without its CSRF token answered %d, want 403", status)
	}

	// A login request whose redirect_uri was changed: the signature no
	// longer matches, and the page says so without redirecting anywhere.
	p.do("open /login", chromedp.Navigate(s.api+"/login"))
	p.waitFor(s.pages + "/login?request=")
	u, err := url.Parse(p.location())
	if err != nil {
		t.Fatal(err)
	}
	tampered := tamperRedirect(t, u.Query().Get("request"), "https://evil.example/steal")
	p.do("open the tampered request", chromedp.Navigate(s.pages+"/login?request="+url.QueryEscape(tampered)))
	if body := p.text("body"); !strings.Contains(body, "Invalid login link") || strings.Contains(body, "evil.example") {
		t.Fatalf("tampered request: %s", body)
	}

	// A redirect URI that is not (or no longer) on the allow-list: the API
	// cannot even get a login request for it.
	if s.disallow != nil {
		p.do("open /login", chromedp.Navigate(s.api+"/login"))
		p.waitFor(s.pages + "/login?request=")
		pendingURL := p.location()
		s.disallow()
		// A request signed before the removal no longer opens the page.
		p.do("open the pending request", chromedp.Navigate(pendingURL))
		if body := p.text("body"); !strings.Contains(body, "Invalid login link") {
			t.Fatalf("a request for a removed redirect URI: %s", body)
		}
		p.do("open /login", chromedp.Navigate(s.api+"/login"))
		body := p.text("body")
		if !strings.HasPrefix(p.location(), s.api+"/login") || !strings.Contains(body, `"field":"redirect_uri"`) {
			t.Fatalf("/login with its callback not allowed: %s\n%s", p.location(), body)
		}
		s.allow()
	}
}

// tamperRedirect replaces the redirect_uri claim of a signed request,
// keeping the original signature.
func tamperRedirect(t *testing.T, raw, to string) string {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("request %q is not a JWS", raw)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	changed := regexp.MustCompile(`"redirect_uri":"[^"]*"`).ReplaceAll(payload, []byte(`"redirect_uri":"`+to+`"`))
	if string(changed) == string(payload) {
		t.Fatalf("no redirect_uri in %s", payload)
	}
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(changed) + "." + parts[2]
}

// lastStatus returns the HTTP status of the page shown, from the
// Navigation Timing API.
func lastStatus(t *testing.T, p page) int {
	t.Helper()
	status, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`performance.getEntriesByType('navigation')[0].responseStatus`))
	if err != nil {
		t.Fatalf("response status: %v", err)
	}
	return status
}

// TestHostedLoginWiring checks, without a browser, what serve sets up: with
// the local provider the API allows its own callback and serves the pages;
// with the remote provider it sends browsers to the directory's pages, and
// only for a callback the directory's allow-list has.
func TestHostedLoginWiring(t *testing.T) {
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) *http.Response {
		t.Helper()
		resp, err := noRedirect.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for name, start := range map[string]func(*testing.T) hostedLoginSetup{"local": startHostedLocal, "remote": startHostedRemote} {
		t.Run(name, func(t *testing.T) {
			s := start(t)
			resp := get(s.api + "/login?next=/api/me")
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, s.pages+"/login?request=") {
				t.Fatalf("GET /login: %d %s", resp.StatusCode, loc)
			}
			pg := get(loc)
			if pg.StatusCode != http.StatusOK || !strings.Contains(pg.Header.Get("Content-Security-Policy"), "form-action 'self' "+s.api) ||
				pg.Header.Get("X-Frame-Options") != "DENY" {
				t.Fatalf("pages: %d CSP %q", pg.StatusCode, pg.Header.Get("Content-Security-Policy"))
			}
			if s.disallow != nil {
				s.disallow()
				if resp := get(s.api + "/login"); resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("GET /login with the callback not allowed: %d", resp.StatusCode)
				}
			}
		})
	}
}
