package token

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestPublicJWKSDocument(t *testing.T) {
	k := newKey(t)
	data, err := json.Marshal(PublicJWKS([]SigningKey{k}))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	pub := k.Private.Public().(ed25519.PublicKey)
	want := []map[string]any{{
		"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA",
		"kid": k.ID, "x": base64.RawURLEncoding.EncodeToString(pub),
	}}
	if !reflect.DeepEqual(doc.Keys, want) {
		t.Errorf("JWKS = %s\nwant keys %v", data, want)
	}
	// No private material, in any spelling.
	if strings.Contains(string(data), `"d"`) {
		t.Errorf("JWKS leaks private key: %s", data)
	}
}

func TestPublicJWKSSkipsBadKeys(t *testing.T) {
	a, b := newKey(t), newKey(t)
	dup := b
	dup.Private = a.Private // same id as b, different key: b must win
	got := PublicJWKS([]SigningKey{a, {ID: "nokey"}, {Private: a.Private}, b, dup})
	if len(got.Keys) != 2 || got.Keys[0].KeyID != a.ID || got.Keys[1].KeyID != b.ID {
		t.Fatalf("keys = %+v, want a and b", got.Keys)
	}
	bPub := base64.RawURLEncoding.EncodeToString(b.Private.Public().(ed25519.PublicKey))
	if got.Keys[1].X != bPub {
		t.Error("duplicate id replaced the first key")
	}
}

func TestEmptyJWKSMarshal(t *testing.T) {
	for _, s := range []JWKS{{}, PublicJWKS(nil)} {
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != `{"keys":[]}` {
			t.Errorf("empty JWKS = %s, want {\"keys\":[]}", data)
		}
	}
}

func TestParseJWKSRoundTrip(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	want := PublicJWKS([]SigningKey{k1, k2})
	data, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseJWKS(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseJWKS = %+v, want %+v", got, want)
	}
	// The parsed set verifies tokens from both keys.
	v := NewVerifier(got, testIssuer, testAudience, 0)
	for _, k := range []SigningKey{k1, k2} {
		if _, err := v.Verify(mustSign(t, k, testClaims()), t0); err != nil {
			t.Errorf("key %s: %v", k.ID, err)
		}
	}
}

func TestParseJWKS(t *testing.T) {
	k := newKey(t)
	x := base64.RawURLEncoding.EncodeToString(k.Private.Public().(ed25519.PublicKey))
	ed := func(kid string, extra string) string {
		return `{"kty":"OKP","crv":"Ed25519","kid":"` + kid + `","x":"` + x + `"` + extra + `}`
	}
	rsa := `{"kty":"RSA","kid":"r1","n":"AQAB","e":"AQAB"}`
	x448 := `{"kty":"OKP","crv":"X25519","kid":"x1","x":"` + x + `"}`

	tests := []struct {
		name    string
		doc     string
		wantErr bool
		kids    []string
	}{
		{"minimal ed25519", `{"keys":[` + ed("a", "") + `]}`, false, []string{"a"}},
		{"use and alg", `{"keys":[` + ed("a", `,"use":"sig","alg":"EdDSA"`) + `]}`, false, []string{"a"}},
		{"empty set", `{"keys":[]}`, false, nil},
		{"other key types ignored", `{"keys":[` + rsa + `,` + x448 + `,` + ed("a", "") + `]}`, false, []string{"a"}},
		{"encryption key ignored", `{"keys":[` + ed("a", `,"use":"enc"`) + `]}`, false, nil},
		{"other alg ignored", `{"keys":[` + ed("a", `,"alg":"ES256"`) + `]}`, false, nil},
		{"unknown members ignored", `{"keys":[` + ed("a", `,"key_ops":["verify"]`) + `],"extra":1}`, false, []string{"a"}},

		{"not json", `nope`, true, nil},
		{"no keys member", `{}`, true, nil},
		{"keys null", `{"keys":null}`, true, nil},
		{"keys not array", `{"keys":{}}`, true, nil},
		{"key not object", `{"keys":[1]}`, true, nil},
		{"private d", `{"keys":[` + ed("a", `,"d":"`+x+`"`) + `]}`, true, nil},
		{"private d on ignored key", `{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB","d":"AQAB"}]}`, true, nil},
		{"symmetric k", `{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0"}]}`, true, nil},
		{"missing kid", `{"keys":[` + ed("", "") + `]}`, true, nil},
		{"duplicate kid", `{"keys":[` + ed("a", "") + `,` + ed("a", "") + `]}`, true, nil},
		{"x too short", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"` + x[:20] + `"}]}`, true, nil},
		{"x padded", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"` + x + `="}]}`, true, nil},
		{"x std base64", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"` + strings.Repeat("+", 43) + `"}]}`, true, nil},
		{"x missing", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a"}]}`, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseJWKS([]byte(tt.doc))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseJWKS error = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			var kids []string
			for _, k := range got.Keys {
				kids = append(kids, k.KeyID)
				if k.Use != "sig" || k.Algorithm != "EdDSA" {
					t.Errorf("key %q not normalised: use=%q alg=%q", k.KeyID, k.Use, k.Algorithm)
				}
			}
			if !reflect.DeepEqual(kids, tt.kids) {
				t.Errorf("kids = %q, want %q", kids, tt.kids)
			}
		})
	}
}

// TestNewVerifierDropsAmbiguousKeys checks that a hand-built JWKS with a
// repeated kid fails closed rather than trusting either key.
func TestNewVerifierDropsAmbiguousKeys(t *testing.T) {
	a, b := newKey(t), newKey(t)
	set := PublicJWKS([]SigningKey{a, b})
	set.Keys[1].KeyID = a.ID
	_, err := NewVerifier(set, testIssuer, testAudience, 0).Verify(mustSign(t, a, testClaims()), t0)
	checkErr(t, err, ErrUnknownKey)
}
