package identity_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity"
)

// FuzzMergePatch decodes two documents as custom data (DecodeCustomData),
// merges the second into the first (MergePatch) and checks the result
// against the limits (Limits.CheckCustomData). None of them may panic, and
// the merge must have the properties of RFC 7396:
//
//   - it equals the RFC's reference algorithm, written out below;
//   - it leaves the target and the patch unmodified;
//   - applying the same patch twice is applying it once (idempotence);
//   - a patch with no null and no object is a top-level overwrite;
//   - every null member of the patch is absent from the result, every other
//     member present; the empty patch changes nothing;
//   - a target without nulls in objects (what a store holds) gives a result
//     without nulls in objects.
//
// What CheckCustomData accepts it must give back in a form DecodeCustomData
// reads as the same document, within the byte and depth limits; what it
// refuses it refuses as invalid input or an exceeded limit.
func FuzzMergePatch(f *testing.F) {
	for _, s := range [][2]string{
		{`{"a":"b"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`},
		{`{"a":["b"]}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`},
		{`{"e":null}`, `{"a":1}`},
		{`{"a":"foo"}`, `{"a":{"bb":{"ccc":null}}}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`},
		{`{"n":1.0e+2,"big":123456789012345678901234567890}`, `{"n":-0}`},
		{`{"a":{"b":{"c":{"d":{}}}}}`, `{"a":{"b":{"c":{"d":null}}}}`},
		{``, `null`},
		{`{"href":"x"}`, `{"-bad":1,"ok":"\u0000"}`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	limits := identity.DefaultLimits()
	f.Fuzz(func(t *testing.T, targetJSON, patchJSON []byte) {
		target, err := identity.DecodeCustomData(targetJSON)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		patch, err := identity.DecodeCustomData(patchJSON)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		targetBefore, patchBefore := deepCopy(target), deepCopy(patch)

		once := identity.MergePatch(target, patch)
		if !reflect.DeepEqual(target, targetBefore) {
			t.Fatalf("MergePatch modified its target:\nbefore %v\nafter  %v", targetBefore, target)
		}
		if !reflect.DeepEqual(patch, patchBefore) {
			t.Fatalf("MergePatch modified its patch")
		}
		if once == nil {
			t.Fatalf("MergePatch returned nil")
		}

		// The RFC's own algorithm.
		if ref := referenceMergePatch(map[string]any(deepCopy(target)), map[string]any(patch)); !reflect.DeepEqual(map[string]any(once), ref) {
			t.Fatalf("MergePatch(%s, %s):\ngot  %v\nwant %v", targetJSON, patchJSON, once, ref)
		}

		twice := identity.MergePatch(once, patch)
		if !reflect.DeepEqual(once, twice) {
			t.Fatalf("not idempotent: once %v, twice %v", once, twice)
		}

		if same := identity.MergePatch(target, identity.CustomData{}); !reflect.DeepEqual(same, target) {
			t.Fatalf("the empty patch changed %v into %v", target, same)
		}

		flat := true
		for k, v := range patch {
			switch v.(type) {
			case nil:
				flat = false
				if _, ok := once[k]; ok {
					t.Fatalf("member %q is null in the patch but present in the result", k)
				}
			case map[string]any:
				flat = false
				if _, ok := once[k]; !ok {
					t.Fatalf("member %q is an object in the patch but absent from the result", k)
				}
			default:
				if !reflect.DeepEqual(once[k], v) {
					t.Fatalf("member %q: result %v, patch %v", k, once[k], v)
				}
			}
		}
		if flat {
			want := copyMap(target)
			for k, v := range patch {
				want[k] = v
			}
			if !reflect.DeepEqual(map[string]any(once), want) {
				t.Fatalf("a patch of scalars and arrays is not a top-level overwrite: got %v, want %v", once, want)
			}
		}
		for k, v := range target {
			if _, patched := patch[k]; !patched && !reflect.DeepEqual(once[k], v) {
				t.Fatalf("member %q is not in the patch but changed from %v to %v", k, v, once[k])
			}
		}
		if !nullInObject(map[string]any(target)) && nullInObject(map[string]any(once)) {
			t.Fatalf("the result %v has a null member, the target %v none", once, target)
		}

		// The limits, on the patch alone (what a replace stores) and on the
		// result (what a merge stores).
		for _, doc := range []identity.CustomData{patch, once} {
			enc, err := limits.CheckCustomData(doc)
			if err != nil {
				checkRefusal(t, err)
				continue
			}
			if len(enc) > limits.CustomDataMaxBytes {
				t.Fatalf("CheckCustomData accepted %d bytes, limit %d", len(enc), limits.CustomDataMaxBytes)
			}
			if d := depth(enc); d > limits.CustomDataMaxDepth {
				t.Fatalf("CheckCustomData accepted depth %d, limit %d", d, limits.CustomDataMaxDepth)
			}
			for k := range doc {
				if identity.CheckCustomDataKey(k) != nil {
					t.Fatalf("CheckCustomData accepted the name %q", k)
				}
			}
			back, err := identity.DecodeCustomData(enc)
			if err != nil {
				t.Fatalf("CheckCustomData's encoding %s does not decode: %v", enc, err)
			}
			if !reflect.DeepEqual(canonical(t, back), canonical(t, doc)) {
				t.Fatalf("round trip changed the document:\n%v\n%v", doc, back)
			}
		}
	})
}

// checkRefusal fails unless err is a client error: invalid input or an
// exceeded limit (a 400), never an internal one.
func checkRefusal(t *testing.T, err error) {
	t.Helper()
	switch identity.ErrorCode(err) {
	case identity.CodeInvalidInput, identity.CodeLimitExceeded:
	default:
		t.Fatalf("refused with %v (code %q), want invalid input or limit exceeded", err, identity.ErrorCode(err))
	}
}

// referenceMergePatch is RFC 7396 section 2, verbatim:
//
//	define MergePatch(Target, Patch):
//	  if Patch is an Object:
//	    if Target is not an Object:
//	      Target = {} # Ignore the contents and set it to an empty Object
//	    for each Name/Value pair in Patch:
//	      if Value is null:
//	        if Name exists in Target:
//	          remove the Name/Value pair from Target
//	      else:
//	        Target[Name] = MergePatch(Target[Name], Value)
//	    return Target
//	  else:
//	    return Patch
func referenceMergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for name, value := range p {
		if value == nil {
			delete(t, name)
		} else {
			t[name] = referenceMergePatch(t[name], value)
		}
	}
	return t
}

// deepCopy copies a decoded document through JSON.
func deepCopy(d identity.CustomData) identity.CustomData {
	b, err := json.Marshal(d)
	if err != nil {
		panic(err)
	}
	out, err := identity.DecodeCustomData(b)
	if err != nil {
		panic(err)
	}
	return out
}

func copyMap(d identity.CustomData) map[string]any {
	out := make(map[string]any, len(d))
	for k, v := range d {
		out[k] = v
	}
	return out
}

// nullInObject reports whether v has a null member in an object, at any
// depth outside arrays (a merge patch replaces arrays whole).
func nullInObject(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for _, x := range m {
		if x == nil || nullInObject(x) {
			return true
		}
	}
	return false
}

// canonical re-encodes a document with numbers compared by their value as
// written in canonical form, for comparing documents whose numbers went
// through different encoders.
func canonical(t *testing.T, d identity.CustomData) string {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

// depth is the nesting of a JSON document, counted with the decoder rather
// than by scanning bytes, as an independent check of the limit.
func depth(b []byte) int {
	dec := json.NewDecoder(bytes.NewReader(b))
	d, maxD := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return maxD
		}
		if delim, ok := tok.(json.Delim); ok {
			switch delim {
			case '{', '[':
				d++
				maxD = max(maxD, d)
			case '}', ']':
				d--
			}
		}
	}
}
