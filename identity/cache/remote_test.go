package cache_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/cache"
	"github.com/gatehouse-id/gatehouse/identity/directory"
	"github.com/gatehouse-id/gatehouse/identity/mock"
	"github.com/gatehouse-id/gatehouse/identity/remote"
)

// TestColdLoginsThroughRemoteCollapse: 200 identical cold logins through the
// cache and the remote provider make exactly one login attempt at the
// directory.
func TestColdLoginsThroughRemoteCollapse(t *testing.T) {
	ctx := context.Background()
	backing := mock.New(mock.WithFastHashing())
	if _, err := backing.CreateAccount(ctx, identity.AccountCreate{Username: "alice", Password: pw}); err != nil {
		t.Fatal(err)
	}
	// The directory's own login takes a while, as a real KDF does, so the
	// 200 requests overlap.
	backing.Delay(mock.OpAuthenticate, 300*time.Millisecond)
	const keyID, secret = "gk_0123456789abcdefghijkl", "gks_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
	dir := httptest.NewServer(directory.New(directory.Config{},
		directory.StaticTenant(directory.Application{ID: "app0000000000000000001", Name: "myapp"}, backing, keyID, secret), nil))
	defer dir.Close()
	rp, err := remote.New(ctx, remote.Config{URL: dir.URL, APIKeyID: keyID, APIKeySecret: secret, Application: "myapp"})
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Close()
	c := cache.New(rp, cache.Config{})

	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
		wg.Go(func() {
			_, err := c.Authenticate(ctx, "alice", pw)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := backing.Calls(mock.OpAuthenticate); got != 1 {
		t.Fatalf("200 concurrent cold logins made %d login attempts at the directory, want 1", got)
	}
	// And the warm path does not reach the directory at all.
	if _, err := c.Authenticate(ctx, "alice", pw); err != nil {
		t.Fatal(err)
	}
	if got := backing.Calls(mock.OpAuthenticate); got != 1 {
		t.Fatalf("a warm login reached the directory (%d attempts)", got)
	}
}
