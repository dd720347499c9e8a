// Package schema holds the field tables of Avi's published API schema (the swagger files of
// vmware/alb-sdk, API 30.2.1) as data, avi.json, and checks objects against them: every field
// the schema defines is taken with a value of its type, any other is refused by name.
package schema

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
)

//go:embed avi.json
var aviJSON []byte

// ownValues are the enum values avi-init takes beyond the schema's, by definition and field:
// its own cloud types, which older Avi releases had.
var ownValues = map[string][]string{
	"Cloud.vtype": {"CLOUD_DOCKER"},
}

// Field is one property of a definition.
type Field struct {
	T        string    `json:"t"` // string, integer, number, boolean, object, array
	Ref      string    `json:"ref,omitempty"`
	Items    *Field    `json:"items,omitempty"`
	Enum     []string  `json:"enum,omitempty"`
	Default  any       `json:"default,omitempty"`
	Min      *float64  `json:"min,omitempty"`
	Max      *float64  `json:"max,omitempty"`
	Special  []any     `json:"special,omitempty"` // values allowed outside min..max
	Values   []float64 `json:"values,omitempty"`  // the only values allowed, when listed
	ReadOnly bool      `json:"readonly,omitempty"`
	Required bool      `json:"required,omitempty"`
}

// Definition is a schema object type: its properties by name.
type Definition map[string]Field

// Schema is the field tables of the API's kinds.
type Schema struct {
	Source   string `json:"source"`
	Versions map[string]struct {
		Version string `json:"version"`
		Commit  string `json:"commit"`
	} `json:"versions"`
	Kinds       map[string]string     `json:"kinds"` // API kind: definition name
	Definitions map[string]Definition `json:"definitions"`
}

// Avi is the embedded schema. It is the program's own data, checked by its tests: a file that
// does not parse is a build mistake and panics.
var Avi = sync.OnceValue(func() *Schema {
	var s Schema
	if err := json.Unmarshal(aviJSON, &s); err != nil {
		panic("schema: avi.json: " + err.Error())
	}
	return &s
})

// Kind is the definition of an API kind; ok is false for a kind the schema does not hold.
func (s *Schema) Kind(kind string) (Definition, bool) {
	name, ok := s.Kinds[kind]
	if !ok {
		return nil, false
	}
	d, ok := s.Definitions[name]
	return d, ok
}

// Error is a value the schema refuses, naming the field by its path (servers[0].ip.addr).
type Error struct{ Field, Reason string }

func (e *Error) Error() string { return e.Field + ": " + e.Reason }

// Check checks a decoded JSON object of a kind (numbers as json.Number or float64) against the
// kind's definition. goType is the Go type avi-init decodes the kind into: a field it has and the
// schema does not (avi-init's own, such as created_by) is left to it; any other unknown field is
// an error.
func (s *Schema) Check(kind string, doc map[string]any, goType reflect.Type) error {
	def, ok := s.Kind(kind)
	if !ok {
		return fmt.Errorf("schema: no definition for %s", kind)
	}
	return s.checkObject("", s.Kinds[kind], def, doc, goType)
}

func (s *Schema) checkObject(path, name string, def Definition, doc map[string]any, goType reflect.Type) error {
	goFields := JSONFields(goType)
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, ok := def[k]
		if !ok {
			if _, own := goFields[k]; own {
				continue
			}
			return &Error{join(path, k), fmt.Sprintf("no such field: Avi's API schema of %s does not define it", name)}
		}
		if err := s.checkValue(join(path, k), name+"."+k, f, doc[k], goFields[k]); err != nil {
			return err
		}
	}
	return nil
}

// checkValue checks one value; field is its definition and property (Cloud.vtype).
func (s *Schema) checkValue(path, field string, f Field, v any, goType reflect.Type) error {
	if v == nil {
		return nil // null: not set
	}
	switch f.T {
	case "string":
		str, ok := v.(string)
		if !ok {
			return &Error{path, fmt.Sprintf("want a string, got %s", jsonType(v))}
		}
		if len(f.Enum) > 0 && !slices.Contains(f.Enum, str) && !slices.Contains(ownValues[field], str) {
			return &Error{path, fmt.Sprintf("%q: want one of %s", str, strings.Join(f.Enum, ", "))}
		}
	case "integer", "number":
		n, ok := number(v)
		if !ok {
			return &Error{path, fmt.Sprintf("want a number, got %s", jsonType(v))}
		}
		if f.T == "integer" && n != math.Trunc(n) {
			return &Error{path, fmt.Sprintf("%v: want an integer", n)}
		}
		if slices.ContainsFunc(f.Special, func(sp any) bool { return sp == n }) {
			return nil
		}
		if len(f.Values) > 0 && !slices.Contains(f.Values, n) {
			return &Error{path, fmt.Sprintf("%v: want one of %v", n, f.Values)}
		}
		if f.Min != nil && n < *f.Min || f.Max != nil && n > *f.Max {
			return &Error{path, fmt.Sprintf("%v: want %s to %s", n, bound(f.Min, "-"), bound(f.Max, ""))}
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return &Error{path, fmt.Sprintf("want true or false, got %s", jsonType(v))}
		}
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return &Error{path, fmt.Sprintf("want an object, got %s", jsonType(v))}
		}
		if def, known := s.Definitions[f.Ref]; known {
			return s.checkObject(path, f.Ref, def, obj, goType)
		}
	case "array":
		list, ok := v.([]any)
		if !ok {
			return &Error{path, fmt.Sprintf("want a list, got %s", jsonType(v))}
		}
		if f.Items == nil {
			return nil
		}
		var elem reflect.Type
		if goType != nil && goType.Kind() == reflect.Slice {
			elem = goType.Elem()
		}
		for i, item := range list {
			if err := s.checkValue(fmt.Sprintf("%s[%d]", path, i), field, *f.Items, item, elem); err != nil {
				return err
			}
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func bound(b *float64, none string) string {
	if b == nil {
		return none
	}
	return fmt.Sprint(*b)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, json.Number:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// JSONFields maps the JSON names of a Go struct type's fields (pointers followed, embedded
// structs flattened) to their types; nil for a type that is no struct.
func JSONFields(t reflect.Type) map[string]reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || !sf.IsExported() {
			continue
		}
		if sf.Anonymous && name == "" {
			for k, v := range JSONFields(sf.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = sf.Name
		}
		ft := sf.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		out[name] = ft
	}
	return out
}

// Unimplemented lists the fields of a kind's definition that its Go type has no field for, at
// any depth below the fields it has (servers[].description): what avi-init stores and returns
// but does not act on.
func (s *Schema) Unimplemented(kind string, goType reflect.Type) []string {
	def, ok := s.Kind(kind)
	if !ok {
		return nil
	}
	var out []string
	s.unimplemented("", def, goType, &out, map[string]bool{})
	sort.Strings(out)
	return out
}

func (s *Schema) unimplemented(path string, def Definition, goType reflect.Type, out *[]string, seen map[string]bool) {
	goFields := JSONFields(goType)
	for name, f := range def {
		p := join(path, name)
		ft, has := goFields[name]
		if !has {
			*out = append(*out, p)
			continue
		}
		for f.T == "array" && f.Items != nil {
			f, p = *f.Items, p+"[]"
			if ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
		}
		if sub, ok := s.Definitions[f.Ref]; ok && JSONFields(ft) != nil && !seen[p] {
			seen[p] = true
			s.unimplemented(p, sub, ft, out, seen)
		}
	}
}

// NonDefault lists the paths (list indices as []) of the values in extra, an object's fields
// its Go type lacks (avi.ExtraOf), that differ from the schema's default: the settings a client
// asked for that avi-init does not act on yet.
func (s *Schema) NonDefault(kind string, extra map[string]any) []string {
	def, ok := s.Kind(kind)
	if !ok {
		return nil
	}
	var out []string
	s.nonDefault("", def, extra, &out)
	sort.Strings(out)
	return slices.Compact(out)
}

func (s *Schema) nonDefault(path string, def Definition, extra map[string]any, out *[]string) {
	for name, v := range extra {
		f, ok := def[name]
		if !ok || v == nil {
			continue
		}
		s.nonDefaultValue(join(path, name), f, v, out)
	}
}

func (s *Schema) nonDefaultValue(path string, f Field, v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		if sub, ok := s.Definitions[f.Ref]; ok {
			s.nonDefault(path, sub, x, out)
			return
		}
	case []any:
		if f.Items != nil {
			for _, item := range x {
				if item != nil {
					s.nonDefaultValue(path+"[]", *f.Items, item, out)
				}
			}
			return
		}
	}
	if f.Default == nil || !sameJSON(v, f.Default) {
		*out = append(*out, path)
	}
}

// sameJSON reports whether two decoded JSON values are equal, numbers compared by value.
func sameJSON(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	return reflect.DeepEqual(a, b)
}
