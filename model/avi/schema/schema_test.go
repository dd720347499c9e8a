package schema

import (
	"reflect"
	"strings"
	"testing"
)

// The embedded tables are whole: every kind names a definition, every reference a definition
// the file has, and every type is one of JSON's.
func TestTablesAreWhole(t *testing.T) {
	s := Avi()
	if len(s.Kinds) < 20 || len(s.Definitions) < 100 {
		t.Fatalf("%d kinds, %d definitions: the tables are cut short", len(s.Kinds), len(s.Definitions))
	}
	for kind, def := range s.Kinds {
		if _, ok := s.Definitions[def]; !ok {
			t.Errorf("kind %s names %s, which is missing", kind, def)
		}
		if s.Versions[def].Version == "" {
			t.Errorf("kind %s: no version recorded for %s", kind, def)
		}
	}
	var check func(where string, f Field)
	check = func(where string, f Field) {
		switch f.T {
		case "string", "integer", "number", "boolean":
		case "object":
			if _, ok := s.Definitions[f.Ref]; f.Ref != "" && !ok {
				t.Errorf("%s refers to %s, which is missing", where, f.Ref)
			}
		case "array":
			if f.Items != nil {
				check(where+"[]", *f.Items)
			}
		default:
			t.Errorf("%s: type %q", where, f.T)
		}
	}
	for name, def := range s.Definitions {
		for field, f := range def {
			check(name+"."+field, f)
		}
	}
}

// Check takes values of the schema's types, refuses others and unknown fields by path, and leaves
// the Go type's own fields to it.
func TestCheck(t *testing.T) {
	s := Avi()
	type own struct {
		CreatedBy string `json:"created_by"`
	}
	for _, c := range []struct {
		doc   map[string]any
		field string // "" when taken
	}{
		{map[string]any{"name": "p", "default_server_port": 80.0, "servers": []any{map[string]any{"ip": map[string]any{"addr": "192.0.2.1", "type": "V4"}}}}, ""},
		{map[string]any{"name": "p", "created_by": "me"}, ""},
		{map[string]any{"name": "p", "default_server_port": 70000.0}, "default_server_port"},
		{map[string]any{"name": "p", "default_server_port": 1.5}, "default_server_port"},
		{map[string]any{"name": "p", "lb_algorithm": "LB_ALGORITHM_NOPE"}, "lb_algorithm"},
		{map[string]any{"name": "p", "servers": []any{map[string]any{"bogus": true}}}, "servers[0].bogus"},
		{map[string]any{"name": "p", "servers": map[string]any{}}, "servers"},
		{map[string]any{"name": true}, "name"},
		{map[string]any{"nope": 1.0}, "nope"},
	} {
		err := s.Check("pool", c.doc, reflect.TypeFor[own]())
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%v: %v", c.doc, err)
		case c.field != "" && (err == nil || !strings.HasPrefix(err.Error(), c.field+":")):
			t.Errorf("%v: %v; want an error naming %s", c.doc, err, c.field)
		}
	}
}
