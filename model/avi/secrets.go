package avi

import (
	"fmt"
	"reflect"
	"strings"
)

// SecretField is one of an object's secrets and the JSON path it has in the object.
type SecretField struct {
	Path  string // as FieldError names fields: mesos_configuration.marathon_configurations[0].marathon_password
	Value *string
}

// SecretFields names each of o's secrets (its Secrets, in that order) by its JSON path, so
// that what is bound to a secret (the controller seals each at rest for its object and field)
// does not depend on the order of the list. An error means a Secrets method lists a string
// that is not a field of its object.
func SecretFields(o Object) ([]SecretField, error) {
	secrets := o.Secrets()
	if len(secrets) == 0 {
		return nil, nil
	}
	paths := map[*string]string{}
	jsonPaths(reflect.ValueOf(o), "", paths)
	out := make([]SecretField, len(secrets))
	for i, p := range secrets {
		path, ok := paths[p]
		if !ok {
			return nil, fmt.Errorf("%T: secret %d of its Secrets is not one of its fields", o, i)
		}
		out[i] = SecretField{Path: path, Value: p}
	}
	return out, nil
}

var stringType = reflect.TypeFor[string]()

// jsonPaths records the JSON path of every string field v holds, under prefix.
func jsonPaths(v reflect.Value, prefix string, out map[*string]string) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			jsonPaths(v.Elem(), prefix, out)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			path := prefix
			switch {
			case f.Anonymous && name == "":
				// An embedded struct's fields are the object's own in JSON (Meta).
			case name == "":
				path = joinPath(prefix, f.Name)
			default:
				path = joinPath(prefix, name)
			}
			jsonPaths(v.Field(i), path, out)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			jsonPaths(v.Index(i), fmt.Sprintf("%s[%d]", prefix, i), out)
		}
	case reflect.String:
		if v.Type() == stringType && v.CanAddr() {
			out[v.Addr().Interface().(*string)] = prefix
		}
	}
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}
