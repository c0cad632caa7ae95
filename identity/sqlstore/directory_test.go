package sqlstore

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/apikey"
	"github.com/gatehouse-id/gatehouse/identity/ids"
)

func TestApplicationByID(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := openTestDB(t, dialect)
		app := newTestApp(t, db)
		got, err := db.ApplicationByID(ctx, app.ID)
		must(t, "ApplicationByID", err)
		if *got != *app {
			t.Fatalf("ApplicationByID = %+v, want %+v", got, app)
		}
		for _, id := range []string{"", ids.New(), "bad\x00id", "\xff"} {
			_, err := db.ApplicationByID(ctx, id)
			wantErr(t, "ApplicationByID("+id+")", err, identity.NotFound("application"))
		}
	})
}

func TestAdminKeys(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := openTestDB(t, dialect)
		app, other := newTestApp(t, db), newTestApp(t, db)

		id, secret, err := db.CreateAdminKey(ctx, app.ID)
		must(t, "CreateAdminKey", err)
		if !apikey.IsID(id) || !apikey.IsSecret(secret) {
			t.Fatalf("CreateAdminKey = %q, %q: not the shapes of API keys", id, secret)
		}
		otherID, otherSecret, err := db.CreateAdminKey(ctx, other.ID)
		must(t, "CreateAdminKey(other)", err)

		// Only the hash is stored.
		var stored []byte
		must(t, "read hash", db.sql.QueryRow(`SELECT secret_hash FROM admin_keys WHERE id = $1`, id).Scan(&stored))
		if !bytes.Equal(stored, apikey.HashSecret(secret)) || bytes.Contains(stored, []byte(secret)) {
			t.Fatalf("stored secret_hash is not the SHA-256 of the secret")
		}

		got, err := db.AuthenticateAdminKey(ctx, id, secret)
		must(t, "AuthenticateAdminKey", err)
		if got != app.ID {
			t.Fatalf("AuthenticateAdminKey = %q, want %q", got, app.ID)
		}
		got, err = db.AuthenticateAdminKey(ctx, otherID, otherSecret)
		must(t, "AuthenticateAdminKey(other)", err)
		if got != other.ID {
			t.Fatalf("AuthenticateAdminKey(other) = %q, want %q", got, other.ID)
		}

		for _, tc := range []struct {
			name, id, secret string
			reason           identity.FailureReason
		}{
			{"wrong secret", id, apikey.NewSecret(), identity.ReasonWrongSecret},
			{"other key's secret", id, otherSecret, identity.ReasonWrongSecret},
			{"empty secret", id, "", identity.ReasonWrongSecret},
			{"unknown id", apikey.NewID(), secret, identity.ReasonUnknownKey},
			{"malformed id", "not-a-key", secret, identity.ReasonUnknownKey},
			{"empty id", "", secret, identity.ReasonUnknownKey},
			{"NUL in id", "gk_\x00", secret, identity.ReasonUnknownKey},
		} {
			_, err := db.AuthenticateAdminKey(ctx, tc.id, tc.secret)
			if !errors.Is(err, identity.ErrInvalidCredentials) || identity.ReasonOf(err) != tc.reason {
				t.Errorf("%s: got %v (reason %q), want invalid credentials (%q)", tc.name, err, identity.ReasonOf(err), tc.reason)
			}
		}

		keys, err := db.AdminKeys(ctx, app.ID)
		must(t, "AdminKeys", err)
		if len(keys) != 1 || keys[0].ID != id || keys[0].AppID != app.ID || keys[0].Status != identity.StatusEnabled {
			t.Fatalf("AdminKeys = %+v", keys)
		}

		// A disabled key fails like a wrong secret does, from outside.
		_, err = db.sql.Exec(`UPDATE admin_keys SET status = 'DISABLED' WHERE id = $1`, otherID)
		must(t, "disable", err)
		_, err = db.AuthenticateAdminKey(ctx, otherID, otherSecret)
		if !errors.Is(err, identity.ErrInvalidCredentials) || identity.ReasonOf(err) != identity.ReasonKeyDisabled {
			t.Fatalf("disabled key: %v", err)
		}

		must(t, "DeleteAdminKey", db.DeleteAdminKey(ctx, id))
		_, err = db.AuthenticateAdminKey(ctx, id, secret)
		wantErr(t, "after delete", err, identity.ErrInvalidCredentials)
		wantErr(t, "DeleteAdminKey again", db.DeleteAdminKey(ctx, id), identity.NotFound("admin_key"))

		_, _, err = db.CreateAdminKey(ctx, ids.New())
		wantErr(t, "CreateAdminKey(missing app)", err, identity.NotFound("application"))

		// Deleting the application deletes its keys.
		must(t, "DeleteApplication", db.DeleteApplication(ctx, other.Name))
		var n int
		must(t, "count", db.sql.QueryRow(`SELECT COUNT(*) FROM admin_keys WHERE app_id = $1`, other.ID).Scan(&n))
		if n != 0 {
			t.Fatalf("%d admin keys left after DeleteApplication", n)
		}
	})
}

func TestAdminKeyUnavailable(t *testing.T) {
	db := openTestDB(t, DialectSQLite)
	app, err := db.Application(context.Background(), "closing", true)
	must(t, "Application", err)
	id, secret, err := db.CreateAdminKey(context.Background(), app.ID)
	must(t, "CreateAdminKey", err)
	db.Close()
	_, err = db.AuthenticateAdminKey(context.Background(), id, secret)
	if err == nil || errors.Is(err, identity.ErrInvalidCredentials) {
		t.Fatalf("closed database: got %v, want an error that is not a credentials failure", err)
	}
}

func TestIdempotency(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := openTestDB(t, dialect)
		app, other := newTestApp(t, db), newTestApp(t, db)
		fp, fp2 := []byte("fingerprint-1"), []byte("fingerprint-2")
		answer := IdempotentResponse{Status: 201, Location: "http://h/v1/accounts/x", Body: []byte(`{"ok":true}`)}

		t.Run("new key is claimed, answer replayed", func(t *testing.T) {
			key := "k-" + ids.New()
			resp, err := db.BeginIdempotent(ctx, app.ID, key, fp)
			if err != nil || resp != nil {
				t.Fatalf("first Begin = %v, %v; want nil, nil", resp, err)
			}
			must(t, "Complete", db.CompleteIdempotent(ctx, app.ID, key, answer))
			resp, err = db.BeginIdempotent(ctx, app.ID, key, fp)
			must(t, "second Begin", err)
			if resp == nil || resp.Status != answer.Status || resp.Location != answer.Location || !bytes.Equal(resp.Body, answer.Body) {
				t.Fatalf("second Begin = %+v, want %+v", resp, answer)
			}
			_, err = db.BeginIdempotent(ctx, app.ID, key, fp2)
			wantErr(t, "different fingerprint", err, identity.Invalid("Idempotency-Key", ""))
			// Keys are per application.
			resp, err = db.BeginIdempotent(ctx, other.ID, key, fp2)
			if err != nil || resp != nil {
				t.Fatalf("same key in another application = %v, %v; want a new claim", resp, err)
			}
		})

		t.Run("empty body is kept as empty", func(t *testing.T) {
			key := "k-" + ids.New()
			_, err := db.BeginIdempotent(ctx, app.ID, key, fp)
			must(t, "Begin", err)
			must(t, "Complete", db.CompleteIdempotent(ctx, app.ID, key, IdempotentResponse{Status: 204}))
			resp, err := db.BeginIdempotent(ctx, app.ID, key, fp)
			must(t, "Begin again", err)
			if resp == nil || resp.Status != 204 || resp.Body == nil || len(resp.Body) != 0 {
				t.Fatalf("Begin = %+v", resp)
			}
		})

		t.Run("different fingerprint while running", func(t *testing.T) {
			key := "k-" + ids.New()
			_, err := db.BeginIdempotent(ctx, app.ID, key, fp)
			must(t, "Begin", err)
			_, err = db.BeginIdempotent(ctx, app.ID, key, fp2)
			wantErr(t, "different fingerprint", err, identity.Invalid("Idempotency-Key", ""))
		})

		t.Run("repeat waits for the running request", func(t *testing.T) {
			key := "k-" + ids.New()
			_, err := db.BeginIdempotent(ctx, app.ID, key, fp)
			must(t, "Begin", err)
			done := make(chan *IdempotentResponse, 1)
			go func() {
				resp, err := db.BeginIdempotent(ctx, app.ID, key, fp)
				if err != nil {
					t.Errorf("waiting Begin: %v", err)
				}
				done <- resp
			}()
			select {
			case r := <-done:
				t.Fatalf("repeat returned %+v while the first request was running", r)
			case <-time.After(150 * time.Millisecond):
			}
			must(t, "Complete", db.CompleteIdempotent(ctx, app.ID, key, answer))
			select {
			case r := <-done:
				if r == nil || r.Status != answer.Status {
					t.Fatalf("waiting Begin = %+v, want the answer", r)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("waiting Begin did not return after Complete")
			}
		})

		t.Run("abandon lets exactly one repeat run", func(t *testing.T) {
			key := "k-" + ids.New()
			_, err := db.BeginIdempotent(ctx, app.ID, key, fp)
			must(t, "Begin", err)
			const waiters = 4
			var wg sync.WaitGroup
			var mu sync.Mutex
			claims, answers := 0, 0
			for range waiters {
				wg.Go(func() {
					resp, err := db.BeginIdempotent(ctx, app.ID, key, fp)
					if err != nil {
						t.Errorf("Begin: %v", err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					if resp == nil {
						claims++
						// The new owner answers, releasing the others.
						if err := db.CompleteIdempotent(ctx, app.ID, key, answer); err != nil {
							t.Errorf("Complete: %v", err)
						}
					} else {
						answers++
					}
				})
			}
			time.Sleep(100 * time.Millisecond)
			must(t, "Abandon", db.AbandonIdempotent(ctx, app.ID, key))
			wg.Wait()
			if claims != 1 || answers != waiters-1 {
				t.Fatalf("after Abandon: %d claims and %d answers, want 1 and %d", claims, answers, waiters-1)
			}
		})

		t.Run("waiting ends with the context", func(t *testing.T) {
			key := "k-" + ids.New()
			_, err := db.BeginIdempotent(ctx, app.ID, key, fp)
			must(t, "Begin", err)
			cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			_, err = db.BeginIdempotent(cctx, app.ID, key, fp)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Begin with an expiring context = %v, want DeadlineExceeded", err)
			}
		})

		t.Run("expired entries count as absent and are purged", func(t *testing.T) {
			key := "k-" + ids.New()
			_, err := db.BeginIdempotent(ctx, app.ID, key, fp)
			must(t, "Begin", err)
			must(t, "Complete", db.CompleteIdempotent(ctx, app.ID, key, answer))
			old := ms(time.Now().Add(-IdempotencyTTL - time.Minute))
			_, err = db.sql.Exec(`UPDATE idempotency_keys SET created_at = $1 WHERE app_id = $2 AND key = $3`, old, app.ID, key)
			must(t, "age entry", err)
			// Even a different request may use the key now.
			resp, err := db.BeginIdempotent(ctx, app.ID, key, fp2)
			if err != nil || resp != nil {
				t.Fatalf("Begin on an expired key = %v, %v; want a new claim", resp, err)
			}

			stale := "k-" + ids.New()
			_, err = db.BeginIdempotent(ctx, app.ID, stale, fp)
			must(t, "Begin stale", err)
			_, err = db.sql.Exec(`UPDATE idempotency_keys SET created_at = $1 WHERE app_id = $2 AND key = $3`, old, app.ID, stale)
			must(t, "age entry", err)
			n, err := db.PurgeIdempotent(ctx, time.Now().Add(-IdempotencyTTL))
			must(t, "Purge", err)
			if n < 1 {
				t.Fatalf("Purge deleted %d entries, want at least 1", n)
			}
			var left int
			must(t, "count", db.sql.QueryRow(`SELECT COUNT(*) FROM idempotency_keys WHERE app_id = $1 AND key = $2`, app.ID, stale).Scan(&left))
			if left != 0 {
				t.Fatal("Purge left an expired entry")
			}
		})

		t.Run("a running entry past its lease is taken over", func(t *testing.T) {
			key := "k-" + ids.New()
			_, err := db.BeginIdempotent(ctx, app.ID, key, fp)
			must(t, "Begin", err)
			_, err = db.sql.Exec(`UPDATE idempotency_keys SET created_at = $1 WHERE app_id = $2 AND key = $3`,
				ms(time.Now().Add(-idempotencyLease-time.Second)), app.ID, key)
			must(t, "age entry", err)
			resp, err := db.BeginIdempotent(ctx, app.ID, key, fp)
			if err != nil || resp != nil {
				t.Fatalf("Begin on a stale running key = %v, %v; want a new claim", resp, err)
			}
		})

		t.Run("bad input", func(t *testing.T) {
			_, err := db.BeginIdempotent(ctx, app.ID, "", fp)
			wantErr(t, "empty key", err, identity.Invalid("Idempotency-Key", ""))
			_, err = db.BeginIdempotent(ctx, app.ID, "a\x00b", fp)
			wantErr(t, "NUL key", err, identity.Invalid("Idempotency-Key", ""))
			_, err = db.BeginIdempotent(ctx, ids.New(), "k", fp)
			wantErr(t, "missing application", err, identity.NotFound("application"))
		})
	})
}
