package remote

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity/wire"
)

// BenchmarkAuthenticate measures the client's warm path: one login attempt
// over a pooled keep-alive connection to a directory that answers at once,
// so what is measured is the provider's own cost (encoding, headers, the
// retry machinery, decoding) plus loopback HTTP.
func BenchmarkAuthenticate(b *testing.B) {
	var answer []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == wire.ApplicationsPath {
			json.NewEncoder(w).Encode(wire.Collection[wire.Application]{
				Size: 1, Items: []wire.Application{{Href: "http://" + r.Host + wire.ApplicationPath(testAppID, ""), Name: testApp}},
			})
			return
		}
		w.Write(answer)
	}))
	defer srv.Close()
	acc := wireAccount(srv.Listener.Addr().String(), testAccID, "alice")
	answer, _ = json.Marshal(map[string]any{"account": acc})
	p, err := New(b.Context(), Config{URL: srv.URL, APIKeyID: testKeyID, APIKeySecret: testSecret, Application: testApp, Timeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Authenticate(b.Context(), "alice", "correct horse battery staple"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
