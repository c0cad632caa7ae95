package identity

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// reservedCustomDataNames are the top-level names Stormpath reserved for its
// own metadata; refusing them keeps documents portable between the two.
var reservedCustomDataNames = map[string]bool{
	"href": true, "createdAt": true, "modifiedAt": true, "meta": true,
	"spMeta": true, "spmeta": true, "ionmeta": true, "ionMeta": true,
}

// CheckCustomDataKey checks a top-level custom data field name against
// Stormpath's rule: 1 to 255 characters of [0-9A-Za-z_-], not starting with
// '-', and not a reserved name.
func CheckCustomDataKey(key string) error {
	if reservedCustomDataNames[key] {
		return Invalid("customData."+safeKey(key), "The name %q is reserved.", key)
	}
	if len(key) == 0 || len(key) > 255 || key[0] == '-' {
		return Invalid("customData."+safeKey(key), "Field names must be 1 to 255 characters of [0-9A-Za-z_-] and must not start with '-'.")
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-') {
			return Invalid("customData."+safeKey(key), "Field names must be 1 to 255 characters of [0-9A-Za-z_-] and must not start with '-'.")
		}
	}
	return nil
}

// safeKey shortens and quotes a rejected key for an error's field name, so a
// hostile key cannot flood or corrupt the message.
func safeKey(key string) string {
	if len(key) > 64 {
		key = key[:64] + "…"
	}
	return fmt.Sprintf("%q", key)
}

// CheckCustomData validates a whole custom data object: every top-level name,
// the encoded size and the nesting depth. It returns the JSON encoding, which
// is what backends store. Size and depth are measured on that encoding, so
// they hold whatever Go types the caller built the object from.
func (l Limits) CheckCustomData(data CustomData) ([]byte, error) {
	if data == nil {
		data = CustomData{}
	}
	for k := range data {
		if err := CheckCustomDataKey(k); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Count '<' as one byte, not as the six of "\u003c".
	enc.SetEscapeHTML(false)
	if err := enc.Encode(data); err != nil {
		return nil, Invalid("customData", "Custom data must be a JSON object.")
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(b) > l.CustomDataMaxBytes {
		return nil, LimitExceeded("customData", "Custom data must not exceed %d bytes.", l.CustomDataMaxBytes)
	}
	if jsonDepth(b) > l.CustomDataMaxDepth {
		return nil, LimitExceeded("customData", "Custom data must not nest more than %d levels deep.", l.CustomDataMaxDepth)
	}
	return b, nil
}

// jsonDepth returns the deepest nesting of objects and arrays in a valid
// JSON document: a scalar is 0, {} or [] is 1.
func jsonDepth(b []byte) int {
	depth, max := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case escaped:
			escaped = false
		case inString:
			if c == '\\' {
				escaped = true
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > max {
				max = depth
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return max
}

// MergePatch applies an RFC 7396 JSON merge patch to target and returns the
// result; target is not modified. A null in the patch deletes the member,
// objects merge recursively, and anything else replaces the member.
func MergePatch(target, patch CustomData) CustomData {
	out := make(CustomData, len(target)+len(patch))
	for k, v := range target {
		out[k] = v
	}
	for k, pv := range patch {
		if pv == nil {
			delete(out, k)
			continue
		}
		pm, isObj := pv.(map[string]any)
		if !isObj {
			out[k] = pv
			continue
		}
		tm, _ := out[k].(map[string]any)
		out[k] = map[string]any(MergePatch(tm, pm))
	}
	return out
}

// DecodeCustomData decodes a stored or received JSON object, keeping numbers
// exact (json.Number). An empty input is an empty object.
func DecodeCustomData(b []byte) (CustomData, error) {
	out := CustomData{}
	if len(bytes.TrimSpace(b)) == 0 {
		return out, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, Invalid("customData", "Custom data must be a JSON object.")
	}
	if dec.More() {
		return nil, Invalid("customData", "Custom data must be a single JSON object.")
	}
	if out == nil { // the input was JSON null
		out = CustomData{}
	}
	return out, nil
}
