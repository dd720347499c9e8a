package avi

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"

	"github.com/avi-init/avi-init/model/avi/schema"
)

// Avi's schema defines many fields avi-init keeps but does not act on yet (a pool's
// description, a virtual service's markers, a whole networkprofile). An object stores them beside
// its Go fields, in Meta.Extra, as the parts of the document its client wrote that its Go type
// has no field for: the same shape, holding only those parts. An answer merges them back
// (Document), so every field the schema defines comes back as it was written.

// ExtraOf is the part of a decoded document (a JSON object) that the Go type t has no field for,
// at any depth, and the values the Go type's encoding of it (typed, decoded) leaves out (a false
// or 0 it omits when empty), so that they come back as written; nil when there is none. A
// list's extras are per element (nil for none).
func ExtraOf(doc map[string]any, t reflect.Type, typed map[string]any) map[string]any {
	e, _ := extra(doc, t, typed).(map[string]any)
	return e
}

func extra(doc any, t reflect.Type, typed any) any {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch d := doc.(type) {
	case map[string]any:
		fields := schema.JSONFields(t)
		if fields == nil {
			return nil // a map-typed field keeps everything itself
		}
		tm, _ := typed.(map[string]any)
		out := map[string]any{}
		for k, v := range d {
			ft, known := fields[k]
			tv, encoded := tm[k]
			switch {
			case !known, v != nil && !encoded:
				out[k] = v
			case v != nil:
				if e := extra(v, ft, tv); e != nil {
					out[k] = e
				}
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		if t == nil || t.Kind() != reflect.Slice {
			return nil
		}
		tl, _ := typed.([]any)
		out := make([]any, len(d))
		found := false
		for i, v := range d {
			var tv any
			if i < len(tl) {
				tv = tl[i]
			}
			if out[i] = extra(v, t.Elem(), tv); out[i] != nil {
				found = true
			}
		}
		if !found {
			return nil
		}
		return out
	}
	return nil
}

// Document is an object as the API answers it: its Go fields and its extras merged, as a JSON
// object. Numbers stay json.Number, so integers keep every digit.
func Document(o Object) map[string]any {
	data, err := json.Marshal(o)
	if err != nil {
		return map[string]any{"uuid": o.GetMeta().UUID} // our own types always marshal
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return map[string]any{"uuid": o.GetMeta().UUID}
	}
	delete(doc, extraKey)
	if e := o.GetMeta().Extra; e != nil {
		merge(doc, e)
	}
	return doc
}

// extraKey is Meta.Extra's JSON name: stored objects carry it, answers never do.
const extraKey = "_extra"

// merge adds the extras to doc; a Go field's value wins over an extra of the same name, and a
// list whose length changed since the extras were recorded keeps none of them.
func merge(doc, extra map[string]any) {
	for k, ev := range extra {
		dv, ok := doc[k]
		if !ok {
			doc[k] = ev
			continue
		}
		switch d := dv.(type) {
		case map[string]any:
			if e, ok := ev.(map[string]any); ok {
				merge(d, e)
			}
		case []any:
			if e, ok := ev.([]any); ok && len(e) == len(d) {
				for i := range d {
					dm, ok1 := d[i].(map[string]any)
					em, ok2 := e[i].(map[string]any)
					if ok1 && ok2 {
						merge(dm, em)
					}
				}
			}
		}
	}
}

// Decode reads one object of a kind as a client sends it, strictly: a field neither Avi's schema
// (schema.Avi) nor the kind's Go type defines, or a value of the wrong type, is an error naming
// the field. The schema's fields the Go type has none for are kept in Meta.Extra. A kind the
// schema does not hold takes its Go fields only.
func Decode(k KindInfo, data []byte) (Object, error) {
	o := k.New()
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, JSONFieldError(err)
	}
	if dec.More() {
		return nil, &FieldError{Field: "body", Reason: "holds more than one JSON value"}
	}
	if _, ok := doc[extraKey]; ok {
		return nil, &FieldError{Field: extraKey, Reason: "no such field"}
	}
	_, inSchema := schema.Avi().Kind(string(k.Kind))
	if inSchema {
		if err := schema.Avi().Check(string(k.Kind), doc, reflect.TypeOf(o)); err != nil {
			var se *schema.Error
			if errors.As(err, &se) {
				return nil, &FieldError{Field: se.Field, Reason: se.Reason}
			}
			return nil, err
		}
	}
	typed := json.NewDecoder(bytes.NewReader(data))
	if !inSchema {
		typed.DisallowUnknownFields()
	}
	if err := typed.Decode(o); err != nil {
		return nil, JSONFieldError(err)
	}
	if inSchema {
		var typedDoc map[string]any
		if enc, err := json.Marshal(o); err == nil {
			json.Unmarshal(enc, &typedDoc)
		}
		o.GetMeta().Extra = ExtraOf(doc, reflect.TypeOf(o), typedDoc)
	}
	return o, nil
}
