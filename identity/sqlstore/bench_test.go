package sqlstore

import (
	"context"
	"fmt"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity"
)

// BenchmarkAccountByLogin measures the login lookup (login key → account
// join) on a SQLite file holding 1000 accounts, serially and in parallel.
func BenchmarkAccountByLogin(b *testing.B) {
	_, be := newTestBackend(b, DialectSQLite)
	const n = 1000
	for i := 0; i < n; i++ {
		mustInsertAccount(b, be, fmt.Sprintf("user%04d", i), fmt.Sprintf("user%04d@example.com", i))
	}
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			key := identity.FoldKey(fmt.Sprintf("user%04d@example.com", i%n))
			if _, err := be.AccountByLogin(ctx, key); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := be.AccountByLogin(ctx, fmt.Sprintf("user%04d", i%n)); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}
