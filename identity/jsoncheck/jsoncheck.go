// Package jsoncheck finds what encoding/json lets through silently in a
// request body: an object member given twice.
//
// encoding/json keeps the last of two members with the same name, where
// other parsers keep the first. A body such as
// {"username":"alice","username":"admin"} can therefore mean one account to
// a proxy, a WAF or an audit log and another to Gatehouse; RFC 8259 leaves
// the meaning of duplicate names undefined. Gatehouse refuses such bodies.
package jsoncheck

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"
)

// Duplicate returns the first member name that appears twice in one object
// of the JSON document b, at any depth, and true; or "", false when there
// is none or b is not valid JSON (decoding reports that better).
//
// Names are compared exactly, except with foldTop in the top-level object:
// encoding/json matches a struct's fields as bytes.EqualFold does (Unicode
// simple folding, so "username", "USERNAME" and "uſername" with a long s
// are one field), and so does Duplicate there. Nested
// objects are compared exactly, since they are mostly free-form custom data
// where "a" and "A" are different keys.
func Duplicate(b []byte, foldTop bool) (string, bool) {
	type object struct {
		seen    map[string]struct{}
		wantKey bool // the next token is a member name
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var stack []*object // nil entries are arrays
	for {
		tok, err := dec.Token()
		if err != nil { // io.EOF at the end, or invalid JSON
			return "", false
		}
		var top *object
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if top != nil {
					top.wantKey = true // after this value, a name or the end
				}
				if d == '{' {
					stack = append(stack, &object{seen: map[string]struct{}{}, wantKey: true})
				} else {
					stack = append(stack, nil)
				}
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if top == nil {
			continue // a value in an array, or a lone scalar
		}
		if !top.wantKey {
			top.wantKey = true
			continue
		}
		name := tok.(string) // json.Decoder guarantees member names are strings
		key := name
		if foldTop && len(stack) == 1 {
			key = fold(name)
		}
		if _, dup := top.seen[key]; dup {
			// The rest of b is not read yet: a syntax error there is the
			// decoder's to report.
			if !json.Valid(b) {
				return "", false
			}
			return name, true
		}
		top.seen[key] = struct{}{}
		top.wantKey = false
	}
}

// fold maps name to one spelling for all names bytes.EqualFold finds
// equal: each rune becomes the smallest of its simple case-folding orbit,
// as encoding/json folds field names.
func fold(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		for {
			next := unicode.SimpleFold(r)
			if next <= r {
				r = next
				break
			}
			r = next
		}
		b.WriteRune(r)
	}
	return b.String()
}
