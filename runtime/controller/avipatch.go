package controller

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/avi-init/avi-init/model/avi"
)

// Avi's PATCH: a body of {"add": {...}}, {"replace": {...}} and {"delete": {...}} (any of the
// three). For a scalar or an object field, add and replace set it and delete removes it (back
// to its default). For a list, replace sets the whole list; add appends entries, an entry with
// the key of one the list has updating that one (a pool server is keyed by its ip and port);
// delete removes the entries with the keys given. Any other body is an RFC 7386 merge patch.
var aviPatchOps = []string{"replace", "add", "delete"}

// aviPatch reports whether body is in Avi's format: only add, replace and delete, each an
// object.
func aviPatch(body map[string]any) bool {
	if len(body) == 0 {
		return false
	}
	for k, v := range body {
		if _, ok := v.(map[string]any); !ok || !slices.Contains(aviPatchOps, k) {
			return false
		}
	}
	return true
}

// applyAviPatch applies an Avi PATCH body to doc, the object as the API shows it: replace, then
// add, then delete.
func applyAviPatch(doc, body map[string]any) error {
	for _, op := range aviPatchOps {
		fields, _ := body[op].(map[string]any)
		for field, v := range fields {
			list, isList := v.([]any)
			switch {
			case op == "delete" && !isList:
				delete(doc, field)
			case op == "delete":
				cur, ok := doc[field].([]any)
				if !ok {
					return &avi.FieldError{Field: "delete." + field, Reason: "the object has no such list to delete entries from"}
				}
				doc[field] = slices.DeleteFunc(slices.Clone(cur), func(e any) bool {
					return slices.ContainsFunc(list, func(d any) bool { return entryKey(e) == entryKey(d) })
				})
			case op == "add" && isList:
				cur, _ := doc[field].([]any)
				doc[field] = addEntries(cur, list)
			default:
				doc[field] = v
			}
		}
	}
	return nil
}

// addEntries appends entries to a list; an entry keyed as one already there updates it (its
// fields set over that one's).
func addEntries(cur, entries []any) []any {
	out := slices.Clone(cur)
	for _, e := range entries {
		i := slices.IndexFunc(out, func(c any) bool { return entryKey(c) == entryKey(e) })
		if i < 0 {
			out = append(out, e)
			continue
		}
		if em, ok := e.(map[string]any); ok {
			if cm, ok := out[i].(map[string]any); ok {
				merged := map[string]any{}
				for k, v := range cm {
					merged[k] = v
				}
				for k, v := range em {
					merged[k] = v
				}
				out[i] = merged
				continue
			}
		}
		out[i] = e
	}
	return out
}

// entryKey is what identifies an entry of a list, as Avi keys them: a uuid, a name, an address
// and port (pool servers), a port (a service's), or else the whole entry.
func entryKey(e any) string {
	m, ok := e.(map[string]any)
	if !ok {
		data, _ := json.Marshal(e)
		return string(data)
	}
	for _, k := range []string{"uuid", "name"} {
		if v, ok := m[k].(string); ok && v != "" {
			return k + "=" + v
		}
	}
	if ip, ok := m["ip"].(map[string]any); ok {
		return fmt.Sprintf("ip=%v port=%v", ip["addr"], m["port"])
	}
	if port, ok := m["port"]; ok {
		return fmt.Sprintf("port=%v", port)
	}
	data, _ := json.Marshal(m)
	return string(data)
}
