package directory

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/identity"
)

// maxIdempotencyKey is the longest Idempotency-Key accepted.
const maxIdempotencyKey = 255

// checkIdempotencyKey applies the protocol's rule: 1 to 255 printable ASCII
// characters.
func checkIdempotencyKey(k string) error {
	if k == "" || len(k) > maxIdempotencyKey {
		return identity.Invalid(headerIdempotencyKey, "The Idempotency-Key must be 1 to %d printable ASCII characters.", maxIdempotencyKey)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return identity.Invalid(headerIdempotencyKey, "The Idempotency-Key must be 1 to %d printable ASCII characters.", maxIdempotencyKey)
		}
	}
	return nil
}

// fingerprint identifies a request for idempotency: a SHA-256 over its
// method, path with query, and body, each length-prefixed so that no two
// different requests run together into the same bytes.
func fingerprint(method, uri string, body []byte) []byte {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(method), []byte(uri), body} {
		var n [8]byte
		l := uint64(len(part))
		for i := range n {
			n[i] = byte(l >> (56 - 8*i))
		}
		h.Write(n[:])
		h.Write(part)
	}
	return h.Sum(nil)
}

// idempotent is the middleware of the writes a client may retry. A request
// with an Idempotency-Key runs once: a repeat with the same key and the same
// request gets the first answer again (with Idempotent-Replayed: true), a
// repeat while the first still runs waits for it, and the same key with a
// different request is a 400. Answers of 5xx are not kept, so the write can
// be retried; every other answer, errors included, is.
func (s *server) idempotent(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		values, present := req.Header[http.CanonicalHeaderKey(headerIdempotencyKey)]
		if !present {
			return next(c)
		}
		if len(values) != 1 {
			return identity.Invalid(headerIdempotencyKey, "Send one Idempotency-Key.")
		}
		key := values[0]
		if err := checkIdempotencyKey(key); err != nil {
			return err
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			// The body limit is the usual reason; readBody classifies it.
			req.Body = io.NopCloser(errReader{err})
			return next(c)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		fp := fingerprint(req.Method, req.URL.RequestURI(), body)

		appID := app(c).ID
		store := s.tenant.Idempotency()
		ctx := req.Context()
		saved, err := store.Begin(ctx, appID, key, fp)
		if err != nil {
			return err
		}
		if saved != nil {
			return replay(c, saved)
		}

		// Record the outcome even if the caller has gone away: otherwise
		// the key would stay claimed until its lease runs out.
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		abandon := func() {
			if err := store.Abandon(bg, appID, key); err != nil {
				s.log.ErrorContext(ctx, "could not release idempotency key", "request_id", c.Response().Header().Get(headerRequestID), "error", err)
			}
		}
		finished := false
		defer func() {
			if !finished { // the handler panicked: release the key, let the panic go on
				abandon()
			}
		}()

		rec := &recorder{ResponseWriter: c.Response().Writer}
		c.Response().Writer = rec
		if err := next(c); err != nil {
			c.Error(err) // answer now, through the recorder, to keep it
		}
		c.Response().Writer = rec.ResponseWriter
		finished = true

		status := c.Response().Status
		if status >= 500 || !c.Response().Committed {
			abandon()
			return nil
		}
		resp := SavedResponse{Status: status, Location: c.Response().Header().Get(echo.HeaderLocation), Body: rec.body.Bytes()}
		if err := store.Complete(bg, appID, key, resp); err != nil {
			// The write happened and was answered; only a retry would now
			// run it again. Log it: there is nothing else to do.
			s.log.ErrorContext(ctx, "could not store idempotent answer", "request_id", c.Response().Header().Get(headerRequestID), "error", err)
		}
		return nil
	}
}

// replay answers with a stored answer.
func replay(c echo.Context, r *SavedResponse) error {
	h := c.Response().Header()
	h.Set(headerReplayed, "true")
	if r.Location != "" {
		h.Set(echo.HeaderLocation, r.Location)
	}
	if len(r.Body) == 0 {
		return c.NoContent(r.Status)
	}
	return c.Blob(r.Status, echo.MIMEApplicationJSON, r.Body)
}

// recorder copies what a handler writes, to keep it.
type recorder struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// errReader is a body whose reads fail with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// memoryIdempotency is an IdempotencyStore in memory, with the semantics of
// the SQL store's: for StaticTenant, tests, and single-process directories.
// Entries expire after 24 hours; expired ones are swept as new keys arrive.
type memoryIdempotency struct {
	now func() time.Time

	mu        sync.Mutex
	entries   map[idemKey]*idemEntry
	lastSweep time.Time
}

type idemKey struct{ app, key string }

type idemEntry struct {
	fp      []byte
	created time.Time
	resp    *SavedResponse // nil while running
	done    chan struct{}  // closed when completed or abandoned
}

// idempotencyTTL is how long answers are kept.
const idempotencyTTL = 24 * time.Hour

func newMemoryIdempotency(now func() time.Time) *memoryIdempotency {
	if now == nil {
		now = time.Now
	}
	return &memoryIdempotency{now: now, entries: map[idemKey]*idemEntry{}}
}

// Begin implements IdempotencyStore.
func (m *memoryIdempotency) Begin(ctx context.Context, appID, key string, fp []byte) (*SavedResponse, error) {
	k := idemKey{appID, key}
	for {
		m.mu.Lock()
		now := m.now()
		m.sweepLocked(now)
		e, ok := m.entries[k]
		if ok && now.Sub(e.created) >= idempotencyTTL {
			delete(m.entries, k)
			ok = false
		}
		if !ok {
			m.entries[k] = &idemEntry{fp: bytes.Clone(fp), created: now, done: make(chan struct{})}
			m.mu.Unlock()
			return nil, nil
		}
		if !bytes.Equal(e.fp, fp) {
			m.mu.Unlock()
			return nil, identity.Invalid(headerIdempotencyKey, "The idempotency key was already used for a different request.")
		}
		if e.resp != nil {
			r := *e.resp
			r.Body = bytes.Clone(r.Body)
			m.mu.Unlock()
			return &r, nil
		}
		done := e.done
		m.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Complete implements IdempotencyStore.
func (m *memoryIdempotency) Complete(_ context.Context, appID, key string, r SavedResponse) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[idemKey{appID, key}]
	if !ok || e.resp != nil {
		return nil
	}
	r.Body = bytes.Clone(r.Body)
	e.resp = &r
	close(e.done)
	return nil
}

// Abandon implements IdempotencyStore.
func (m *memoryIdempotency) Abandon(_ context.Context, appID, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := idemKey{appID, key}
	if e, ok := m.entries[k]; ok && e.resp == nil {
		delete(m.entries, k)
		close(e.done)
	}
	return nil
}

// sweepLocked drops expired answers, at most once a minute.
func (m *memoryIdempotency) sweepLocked(now time.Time) {
	if now.Sub(m.lastSweep) < time.Minute {
		return
	}
	m.lastSweep = now
	for k, e := range m.entries {
		if e.resp != nil && now.Sub(e.created) >= idempotencyTTL {
			delete(m.entries, k)
		}
	}
}
