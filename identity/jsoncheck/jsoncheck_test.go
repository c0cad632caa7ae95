package jsoncheck

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestDuplicate(t *testing.T) {
	tests := []struct {
		in      string
		foldTop bool
		want    string // "" when none
	}{
		{`{"username":"alice","password":"x"}`, false, ""},
		{`{"username":"alice","username":"admin"}`, false, "username"},
		{`{"username":"alice","USERNAME":"admin"}`, true, "USERNAME"},
		{`{"username":"alice","USERNAME":"admin"}`, false, ""},
		// encoding/json folds beyond ASCII: a long s (U+017F) and the
		// Kelvin sign (U+212A) match s and k.
		{`{"username":"alice","u\u017fername":"admin"}`, true, "uſername"},
		{"{\"key\":1,\"\u212aey\":2}", true, "\u212aey"},
		{`{"straße":1,"STRASSE":2}`, true, ""},
		// Nested objects: exact names, whatever foldTop says.
		{`{"customData":{"a":1,"A":2}}`, true, ""},
		{`{"customData":{"plan":{"tier":1,"tier":2}}}`, true, "tier"},
		{`{"a":{"x":1},"b":{"x":1}}`, false, ""},
		// Values that look like names do not count.
		{`{"a":"b","b":"a"}`, false, ""},
		{`{"a":["a","a",{"a":1}],"b":{"a":"a"}}`, false, ""},
		{`[{"a":1},{"a":1}]`, false, ""},
		{`[{"a":1,"a":1}]`, false, "a"},
		{`{"a":[],"b":{},"c":null,"a":true}`, false, "a"},
		{`{"outer":{"in":1},"outer":2}`, false, "outer"},
		// Escapes name the same member.
		{`{"a":1,"\u0061":2}`, false, "a"},
		// Not JSON, or not an object: nothing to report.
		{`{"a":1,"a"`, false, ""},
		{`"a"`, false, ""},
		{``, false, ""},
	}
	for _, tt := range tests {
		got, ok := Duplicate([]byte(tt.in), tt.foldTop)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("Duplicate(%s, %v) = %q, %v; want %q", tt.in, tt.foldTop, got, ok, tt.want)
		}
	}
}

// TestDuplicateDeep checks that depth does not confuse the name tracking.
func TestDuplicateDeep(t *testing.T) {
	deep := strings.Repeat(`{"k":[`, 200) + `{"z":1,"z":2}` + strings.Repeat(`]}`, 200)
	if name, ok := Duplicate([]byte(deep), false); !ok || name != "z" {
		t.Errorf("deep duplicate: %q, %v", name, ok)
	}
	clean := strings.Repeat(`{"k":[`, 200) + `{"z":1}` + strings.Repeat(`]}`, 200)
	if name, ok := Duplicate([]byte(clean), false); ok {
		t.Errorf("deep document without duplicates: %q", name)
	}
}

// FuzzDuplicate checks Duplicate against two independent counts: the
// member names written in the document (its colons outside strings) and
// those left once encoding/json has decoded it into maps. They differ
// exactly when some object repeats a name.
func FuzzDuplicate(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":{"b":1},"c":[{"d":1,"d":1}]}`, `[]`, `{"a":"a:b"}`, `{"\u0061":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v any
		if json.Unmarshal(b, &v) != nil {
			return
		}
		name, ok := Duplicate(b, false)
		written, kept := writtenNames(b), decodedNames(v)
		if ok != (written != kept) {
			t.Fatalf("%s: Duplicate = %q, %v; %d names written, %d kept by decoding", b, name, ok, written, kept)
		}
	})
}

// FuzzDuplicateFolded checks the folding against encoding/json itself: a
// document whose top-level object decodes into a struct field from two of
// its members must be reported with foldTop.
func FuzzDuplicateFolded(f *testing.F) {
	for _, s := range []string{`{"name":1,"NAME":2}`, `{"name":1,"n\u0061me":2}`, `{"nam\u212a":1}`, `{"name":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var members map[string]json.RawMessage
		if json.Unmarshal(b, &members) != nil {
			return
		}
		// How many written members encoding/json would put in one field:
		// those whose names are EqualFold to "name".
		n := 0
		dec := json.NewDecoder(bytes.NewReader(b))
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			if strings.EqualFold(tok.(string), "name") {
				n++
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatal(err)
			}
		}
		if _, dup := Duplicate(b, true); n > 1 && !dup {
			t.Fatalf("%s: %d members fill the field \"name\", no duplicate reported", b, n)
		}
	})
}

// writtenNames counts the member names in a valid JSON document: each is
// followed by the only colons outside string literals.
func writtenNames(b []byte) int {
	n, inString := 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && c == ':':
			n++
		}
	}
	return n
}

// decodedNames counts the members of every object in a decoded document.
func decodedNames(v any) int {
	switch x := v.(type) {
	case map[string]any:
		n := len(x)
		for _, e := range x {
			n += decodedNames(e)
		}
		return n
	case []any:
		n := 0
		for _, e := range x {
			n += decodedNames(e)
		}
		return n
	}
	return 0
}
