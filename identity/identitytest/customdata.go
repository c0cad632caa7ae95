package identitytest

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/identity"
)

func customDataTests() []test {
	return []test{
		{"CustomData/EmptyInitially", testCDEmpty},
		{"CustomData/ReplaceRoundTrip", testCDReplaceRoundTrip},
		{"CustomData/ReplaceOverwrites", testCDReplaceOverwrites},
		{"CustomData/ReplaceEmpty", testCDReplaceEmpty},
		{"CustomData/NumbersExact", testCDNumbers},
		{"CustomData/GoValuesCanonical", testCDGoValues},
		{"CustomData/InputNotAliased", testCDNotAliased},
		{"CustomData/PerAccount", testCDPerAccount},
		{"CustomData/MergeRFC7396", testCDMergeRFC7396},
		{"CustomData/MergeNested", testCDMergeNested},
		{"CustomData/MergeEmptyPatch", testCDMergeEmpty},
		{"CustomData/DeleteKey", testCDDeleteKey},
		{"CustomData/DeleteMissingKeyIdempotent", testCDDeleteMissing},
		{"CustomData/ReservedNames", testCDReserved},
		{"CustomData/InvalidNames", testCDInvalidNames},
		{"CustomData/ValidNames", testCDValidNames},
		{"CustomData/NestedNamesFree", testCDNestedNames},
		{"CustomData/SizeLimit", testCDSizeLimit},
		{"CustomData/SizeLimitMerge", testCDSizeLimitMerge},
		{"CustomData/DepthLimit", testCDDepthLimit},
		{"CustomData/DepthLimitNonCanonicalValues", testCDDepthTyped},
		{"CustomData/NotJSONRefused", testCDNotJSON},
		{"CustomData/UnknownAccount", testCDUnknownAccount},
	}
}

func getData(t *testing.T, p identity.Provider, id string) identity.CustomData {
	t.Helper()
	d, err := p.CustomData(t.Context(), id)
	if err != nil {
		t.Fatalf("CustomData(%s): %v", id, err)
	}
	return d
}

func replaceData(t *testing.T, p identity.Provider, id, js string) {
	t.Helper()
	got, err := p.ReplaceCustomData(t.Context(), id, data(t, js))
	if err != nil {
		t.Fatalf("ReplaceCustomData(%s): %v", js, err)
	}
	requireData(t, got, js)
}

func testCDEmpty(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	d := getData(t, p, a.ID)
	if d == nil || len(d) != 0 {
		t.Fatalf("new account's custom data = %#v, want an empty object", d)
	}
	if enc := mustJSON(t, d); enc != "{}" {
		t.Fatalf("new account's custom data encodes as %s, want {}", enc)
	}
}

const richData = `{
	"string": "héllo \"world\" \u2028 😀",
	"int": 42,
	"negative": -7,
	"float": 1.5,
	"exp": 1e+300,
	"true": true,
	"false": false,
	"null": null,
	"emptyObject": {},
	"emptyArray": [],
	"array": [1, "two", {"three": 3}, [4], null, false],
	"nested": {"a": {"b": {"c": "deep"}}, "list": [{"x": 1}, {"y": 2}]},
	"with-dash_and_underscore": "ok"
}`

func testCDReplaceRoundTrip(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	replaceData(t, p, a.ID, richData)
	requireData(t, getData(t, p, a.ID), richData)
}

func testCDReplaceOverwrites(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	replaceData(t, p, a.ID, `{"a":1,"b":{"c":2}}`)
	replaceData(t, p, a.ID, `{"d":[3]}`)
	requireData(t, getData(t, p, a.ID), `{"d":[3]}`)
}

func testCDReplaceEmpty(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	replaceData(t, p, a.ID, `{"a":1}`)
	got, err := p.ReplaceCustomData(t.Context(), a.ID, identity.CustomData{})
	noErr(t, err, "ReplaceCustomData({})")
	requireData(t, got, `{}`)
	requireData(t, getData(t, p, a.ID), `{}`)
	replaceData(t, p, a.ID, `{"a":1}`)
	got, err = p.ReplaceCustomData(t.Context(), a.ID, nil)
	noErr(t, err, "ReplaceCustomData(nil)")
	requireData(t, got, `{}`)
	requireData(t, getData(t, p, a.ID), `{}`)
}

func testCDNumbers(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	const js = `{"big":12345678901234567890,"precise":0.1000000000000000055511151231257827,"small":-9007199254740993}`
	_, err := p.ReplaceCustomData(t.Context(), a.ID, data(t, js))
	noErr(t, err, "ReplaceCustomData")
	d := getData(t, p, a.ID)
	n, ok := d["big"].(json.Number)
	if !ok {
		t.Fatalf("big is a %T, want json.Number", d["big"])
	}
	if n.String() != "12345678901234567890" {
		t.Fatalf("big = %s, want 12345678901234567890 exactly", n)
	}
	if s, _ := d["small"].(json.Number); s.String() != "-9007199254740993" {
		t.Fatalf("small = %v, want -9007199254740993 exactly", d["small"])
	}
}

func testCDGoValues(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	in := identity.CustomData{
		"int":    7,
		"float":  2.5,
		"str":    "s",
		"list":   []any{1, "x"},
		"object": map[string]any{"k": true},
		"typed":  []string{"a", "b"},
	}
	got, err := p.ReplaceCustomData(t.Context(), a.ID, in)
	noErr(t, err, "ReplaceCustomData")
	const want = `{"int":7,"float":2.5,"str":"s","list":[1,"x"],"object":{"k":true},"typed":["a","b"]}`
	requireData(t, got, want)
	stored := getData(t, p, a.ID)
	requireData(t, stored, want)
	if _, ok := stored["int"].(json.Number); !ok {
		t.Fatalf("a stored number reads back as %T, want json.Number", stored["int"])
	}
	if _, ok := stored["typed"].([]any); !ok {
		t.Fatalf("a stored array reads back as %T, want []any", stored["typed"])
	}
	merged, err := p.MergeCustomData(t.Context(), a.ID, identity.CustomData{"int": 8, "object": map[string]any{"n": 1}})
	noErr(t, err, "MergeCustomData")
	requireData(t, merged, `{"int":8,"float":2.5,"str":"s","list":[1,"x"],"object":{"k":true,"n":1},"typed":["a","b"]}`)
}

func testCDNotAliased(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	in := data(t, `{"a":{"b":1},"list":[1,2]}`)
	out, err := p.ReplaceCustomData(t.Context(), a.ID, in)
	noErr(t, err, "ReplaceCustomData")
	in["a"].(map[string]any)["b"] = "changed"
	in["new"] = true
	out["list"] = "changed"
	got := getData(t, p, a.ID)
	requireData(t, got, `{"a":{"b":1},"list":[1,2]}`)
	got["a"] = nil
	requireData(t, getData(t, p, a.ID), `{"a":{"b":1},"list":[1,2]}`)
}

func testCDPerAccount(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	b := MustCreateAccount(t, p, "bob")
	replaceData(t, p, a.ID, `{"owner":"alice"}`)
	requireData(t, getData(t, p, b.ID), `{}`)
	replaceData(t, p, b.ID, `{"owner":"bob"}`)
	requireData(t, getData(t, p, a.ID), `{"owner":"alice"}`)
	_, err := p.MergeCustomData(t.Context(), b.ID, data(t, `{"owner":null}`))
	noErr(t, err, "MergeCustomData")
	requireData(t, getData(t, p, a.ID), `{"owner":"alice"}`)
	requireData(t, getData(t, p, b.ID), `{}`)
}

// rfc7396 holds the examples of RFC 7396 appendix A. Those whose document
// or patch is not an object are wrapped in {"x": …}, since custom data is
// always an object; the merge semantics one level down are the same.
var rfc7396 = []struct{ name, target, patch, result string }{
	{"ReplaceValue", `{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
	{"AddMember", `{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
	{"NullDeletes", `{"a":"b"}`, `{"a":null}`, `{}`},
	{"NullDeletesOnlyThat", `{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
	{"ScalarReplacesArray", `{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
	{"ArrayReplacesScalar", `{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
	{"NestedMergeAndDelete", `{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
	{"ArrayReplacesArray", `{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
	{"WrappedArrays", `{"x":["a","b"]}`, `{"x":["c","d"]}`, `{"x":["c","d"]}`},
	{"WrappedArrayReplacesObject", `{"x":{"a":"b"}}`, `{"x":["c"]}`, `{"x":["c"]}`},
	{"WrappedNullDeletesObject", `{"x":{"a":"foo"}}`, `{"x":null}`, `{}`},
	{"WrappedStringReplacesObject", `{"x":{"a":"foo"}}`, `{"x":"bar"}`, `{"x":"bar"}`},
	{"StoredNullKept", `{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
	{"WrappedObjectReplacesArrayDroppingNulls", `{"x":[1,2]}`, `{"x":{"a":"b","c":null}}`, `{"x":{"a":"b"}}`},
	{"NullsInNewObjectDropped", `{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
}

func testCDMergeRFC7396(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	for _, c := range rfc7396 {
		t.Run(c.name, func(t *testing.T) {
			replaceData(t, p, a.ID, c.target)
			got, err := p.MergeCustomData(t.Context(), a.ID, data(t, c.patch))
			noErr(t, err, "MergeCustomData("+c.patch+")")
			requireData(t, got, c.result)
			requireData(t, getData(t, p, a.ID), c.result)
		})
	}
}

func testCDMergeNested(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	// Merging into an account that never had custom data.
	got, err := p.MergeCustomData(t.Context(), a.ID, data(t, `{"prefs":{"theme":"dark","lang":"en"},"tags":["a"],"gone":null}`))
	noErr(t, err, "MergeCustomData")
	requireData(t, got, `{"prefs":{"theme":"dark","lang":"en"},"tags":["a"]}`)
	got, err = p.MergeCustomData(t.Context(), a.ID, data(t, `{"prefs":{"lang":"fr","tz":"UTC","theme":null},"tags":["b","c"],"score":1}`))
	noErr(t, err, "MergeCustomData")
	const want = `{"prefs":{"lang":"fr","tz":"UTC"},"tags":["b","c"],"score":1}`
	requireData(t, got, want)
	requireData(t, getData(t, p, a.ID), want)
}

func testCDMergeEmpty(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	replaceData(t, p, a.ID, `{"a":1}`)
	got, err := p.MergeCustomData(t.Context(), a.ID, identity.CustomData{})
	noErr(t, err, "MergeCustomData({})")
	requireData(t, got, `{"a":1}`)
	got, err = p.MergeCustomData(t.Context(), a.ID, nil)
	noErr(t, err, "MergeCustomData(nil)")
	requireData(t, got, `{"a":1}`)
	requireData(t, getData(t, p, a.ID), `{"a":1}`)
}

func testCDDeleteKey(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	replaceData(t, p, a.ID, `{"a":1,"b":{"c":2},"d":[3]}`)
	noErr(t, p.DeleteCustomDataKey(t.Context(), a.ID, "b"), "DeleteCustomDataKey(b)")
	requireData(t, getData(t, p, a.ID), `{"a":1,"d":[3]}`)
	noErr(t, p.DeleteCustomDataKey(t.Context(), a.ID, "a"), "DeleteCustomDataKey(a)")
	noErr(t, p.DeleteCustomDataKey(t.Context(), a.ID, "d"), "DeleteCustomDataKey(d)")
	requireData(t, getData(t, p, a.ID), `{}`)
}

func testCDDeleteMissing(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	// On an account that never had custom data, and on one that has some.
	noErr(t, p.DeleteCustomDataKey(t.Context(), a.ID, "missing"), "DeleteCustomDataKey on empty data")
	requireData(t, getData(t, p, a.ID), `{}`)
	replaceData(t, p, a.ID, `{"a":1}`)
	for range 2 {
		noErr(t, p.DeleteCustomDataKey(t.Context(), a.ID, "missing"), "DeleteCustomDataKey(missing)")
	}
	noErr(t, p.DeleteCustomDataKey(t.Context(), a.ID, "a"), "DeleteCustomDataKey(a)")
	noErr(t, p.DeleteCustomDataKey(t.Context(), a.ID, "a"), "DeleteCustomDataKey(a) again")
	requireData(t, getData(t, p, a.ID), `{}`)
}

var reservedNames = []string{"href", "createdAt", "modifiedAt", "meta", "spMeta", "spmeta", "ionmeta", "ionMeta"}

// requireRefused checks that Replace, Merge and Delete all refuse key with
// code and leave the stored object as it was.
func requireRefused(t *testing.T, p identity.Provider, id, key string, code identity.Code) {
	t.Helper()
	const before = `{"keep":true}`
	replaceData(t, p, id, before)
	_, err := p.ReplaceCustomData(t.Context(), id, identity.CustomData{key: "v", "other": 1})
	RequireCode(t, err, code)
	_, err = p.MergeCustomData(t.Context(), id, identity.CustomData{key: "v"})
	RequireCode(t, err, code)
	_, err = p.MergeCustomData(t.Context(), id, identity.CustomData{key: nil})
	RequireCode(t, err, code)
	RequireCode(t, p.DeleteCustomDataKey(t.Context(), id, key), code)
	requireData(t, getData(t, p, id), before)
}

func testCDReserved(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	for _, name := range reservedNames {
		t.Run(name, func(t *testing.T) {
			requireRefused(t, p, a.ID, name, identity.CodeInvalidInput)
		})
	}
}

func testCDInvalidNames(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	for _, c := range []struct{ name, key string }{
		{"LeadingDash", "-x"},
		{"Space", "has space"},
		{"Empty", ""},
		{"TooLong", repeat("k", 256)},
		{"Dot", "a.b"},
		{"Dollar", "$set"},
		{"NonASCII", "café"},
		{"Slash", "a/b"},
	} {
		t.Run(c.name, func(t *testing.T) {
			requireRefused(t, p, a.ID, c.key, identity.CodeInvalidInput)
		})
	}
}

func testCDValidNames(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	long := repeat("k", 255)
	in := identity.CustomData{"a": 1, "A_b-9": 2, "_": 3, "x-": 4, "0": 5, long: 6, "HREF": 7, "metadata": 8}
	_, err := p.ReplaceCustomData(t.Context(), a.ID, in)
	noErr(t, err, "ReplaceCustomData")
	requireData(t, getData(t, p, a.ID), mustJSON(t, in))
	noErr(t, p.DeleteCustomDataKey(t.Context(), a.ID, long), "DeleteCustomDataKey(255 characters)")
	if _, ok := getData(t, p, a.ID)[long]; ok {
		t.Fatal("the 255-character key was not deleted")
	}
}

func testCDNestedNames(t *testing.T, p identity.Provider) {
	// The naming rule applies to top-level fields only.
	a := MustCreateAccount(t, p, "alice")
	replaceData(t, p, a.ID, `{"nested":{"has space":1,"-x":2,"href":3,"":4}}`)
	_, err := p.MergeCustomData(t.Context(), a.ID, data(t, `{"nested":{"meta":5}}`))
	noErr(t, err, "MergeCustomData")
	requireData(t, getData(t, p, a.ID), `{"nested":{"has space":1,"-x":2,"href":3,"":4,"meta":5}}`)
}

func testCDSizeLimit(t *testing.T, p identity.Provider) {
	max := identity.DefaultLimits().CustomDataMaxBytes
	a := MustCreateAccount(t, p, "alice")
	replaceData(t, p, a.ID, `{"before":1}`)
	// Just under the limit is fine: {"big":"…"} is 10 bytes plus the string.
	fits := identity.CustomData{"big": repeat("x", max-10)}
	if n := len(mustJSON(t, fits)); n != max {
		t.Fatalf("test setup: encoding is %d bytes, want %d", n, max)
	}
	_, err := p.ReplaceCustomData(t.Context(), a.ID, fits)
	noErr(t, err, "ReplaceCustomData of exactly the limit")
	replaceData(t, p, a.ID, `{"before":1}`)
	for _, c := range []struct {
		name string
		d    identity.CustomData
	}{
		{"OneByteOver", identity.CustomData{"big": repeat("x", max-9)}},
		{"Huge", identity.CustomData{"big": repeat("x", 4*max)}},
		{"ManyKeys", manyKeys(max / 8)},
	} {
		_, err := p.ReplaceCustomData(t.Context(), a.ID, c.d)
		RequireCode(t, err, identity.CodeLimitExceeded)
		requireData(t, getData(t, p, a.ID), `{"before":1}`)
	}
}

func manyKeys(n int) identity.CustomData {
	d := identity.CustomData{}
	for i := range n {
		d["k"+strings.Repeat("0", 3)+itoa(i)] = i
	}
	return d
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func testCDSizeLimitMerge(t *testing.T, p identity.Provider) {
	max := identity.DefaultLimits().CustomDataMaxBytes
	a := MustCreateAccount(t, p, "alice")
	half := repeat("h", max/2)
	_, err := p.ReplaceCustomData(t.Context(), a.ID, identity.CustomData{"first": half})
	noErr(t, err, "ReplaceCustomData")
	before := mustJSON(t, getData(t, p, a.ID))
	// Each patch is under the limit alone, but the merged object is not.
	_, err = p.MergeCustomData(t.Context(), a.ID, identity.CustomData{"second": half})
	RequireCode(t, err, identity.CodeLimitExceeded)
	requireData(t, getData(t, p, a.ID), before)
	// Replacing the big member instead of adding one fits.
	_, err = p.MergeCustomData(t.Context(), a.ID, identity.CustomData{"first": nil, "second": half})
	noErr(t, err, "MergeCustomData replacing the big member")
	d := getData(t, p, a.ID)
	if _, ok := d["first"]; ok || d["second"] != half {
		t.Fatalf("after the merge: keys %v", keysOf(d))
	}
}

func keysOf(d identity.CustomData) []string {
	var out []string
	for k := range d {
		out = append(out, k)
	}
	return out
}

// nested returns a custom data object of the given depth (the object itself
// is depth 1), as JSON.
func nested(depth int) string {
	return `{"d":` + strings.Repeat(`{"d":`, depth-1) + `1` + strings.Repeat(`}`, depth)
}

// nestedArrays returns an object of the given depth built from arrays.
func nestedArrays(depth int) string {
	return `{"d":` + strings.Repeat(`[`, depth-1) + `1` + strings.Repeat(`]`, depth-1) + `}`
}

func testCDDepthLimit(t *testing.T, p identity.Provider) {
	max := identity.DefaultLimits().CustomDataMaxDepth
	a := MustCreateAccount(t, p, "alice")
	replaceData(t, p, a.ID, nested(max))
	replaceData(t, p, a.ID, nestedArrays(max))
	replaceData(t, p, a.ID, `{"keep":1}`)
	for _, js := range []string{nested(max + 1), nestedArrays(max + 1), nested(1000)} {
		_, err := p.ReplaceCustomData(t.Context(), a.ID, data(t, js))
		RequireCode(t, err, identity.CodeLimitExceeded)
		requireData(t, getData(t, p, a.ID), `{"keep":1}`)
	}
	// Merges: a patch reaching exactly the limit is fine, one beyond is
	// refused and changes nothing.
	replaceData(t, p, a.ID, `{"d":{"d":1}}`)
	patch := `{"d":` + nested(max-1) + `}` // depth max, merging one level below the top
	_, err := p.MergeCustomData(t.Context(), a.ID, data(t, patch))
	noErr(t, err, "MergeCustomData of depth max")
	replaceData(t, p, a.ID, `{"keep":1}`)
	_, err = p.MergeCustomData(t.Context(), a.ID, data(t, nested(max+1)))
	RequireCode(t, err, identity.CodeLimitExceeded)
	requireData(t, getData(t, p, a.ID), `{"keep":1}`)
}

func testCDUnknownAccount(t *testing.T, p identity.Provider) {
	MustCreateAccount(t, p, "alice")
	const id = "nonexistent"
	_, err := p.CustomData(t.Context(), id)
	RequireNotFound(t, err)
	_, err = p.ReplaceCustomData(t.Context(), id, data(t, `{"a":1}`))
	RequireNotFound(t, err)
	_, err = p.MergeCustomData(t.Context(), id, data(t, `{"a":1}`))
	RequireNotFound(t, err)
	RequireNotFound(t, p.DeleteCustomDataKey(t.Context(), id, "a"))
}

// object is a map type that is not map[string]any, as a Go caller might
// build custom data.
type object map[string]any

// anyList is a slice type that is not []any.
type anyList []any

// The depth limit applies to what is stored, however the caller's Go values
// are typed: nested values of other map and slice types count too.
func testCDDepthTyped(t *testing.T, p identity.Provider) {
	max := identity.DefaultLimits().CustomDataMaxDepth
	a := MustCreateAccount(t, p, "alice")
	replaceData(t, p, a.ID, `{"keep":1}`)
	var deep any = 1
	for range max {
		deep = object{"d": deep}
	}
	// {"d": deep} is max+1 levels deep once encoded.
	if enc := mustJSON(t, identity.CustomData{"d": deep}); enc != mustJSON(t, data(t, nested(max+1))) {
		t.Fatalf("test setup: %s", enc)
	}
	var deepSlice any = 1
	for range max {
		deepSlice = anyList{deepSlice}
	}
	for _, c := range []struct {
		name  string
		merge bool
		value any
	}{
		{"ReplaceMaps", false, deep},
		{"MergeMaps", true, deep},
		{"ReplaceSlices", false, deepSlice},
		{"MergeSlices", true, deepSlice},
	} {
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.merge {
				_, err = p.MergeCustomData(t.Context(), a.ID, identity.CustomData{"d": c.value})
			} else {
				_, err = p.ReplaceCustomData(t.Context(), a.ID, identity.CustomData{"d": c.value})
			}
			stored := getData(t, p, a.ID)
			replaceData(t, p, a.ID, `{"keep":1}`)
			RequireCode(t, err, identity.CodeLimitExceeded)
			requireData(t, stored, `{"keep":1}`)
		})
	}
}

func testCDNotJSON(t *testing.T, p identity.Provider) {
	a := MustCreateAccount(t, p, "alice")
	replaceData(t, p, a.ID, `{"keep":1}`)
	for name, v := range map[string]any{
		"NaN":      math.NaN(),
		"Infinity": math.Inf(1),
		"Channel":  make(chan int),
		"Func":     func() {},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := p.ReplaceCustomData(t.Context(), a.ID, identity.CustomData{"v": v})
			RequireCode(t, err, identity.CodeInvalidInput)
			_, err = p.MergeCustomData(t.Context(), a.ID, identity.CustomData{"v": v})
			RequireCode(t, err, identity.CodeInvalidInput)
			requireData(t, getData(t, p, a.ID), `{"keep":1}`)
		})
	}
}
