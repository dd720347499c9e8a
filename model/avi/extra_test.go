package avi

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecode: any body, for any kind, is decoded or refused without panicking, and an object
// decoded and valid (as the store takes it) comes back through Document and Decode unchanged:
// what a client reads, it can write.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"name": "p", "servers": [{"ip": {"addr": "192.0.2.1", "type": "V4"}, "description": "d"}], "markers": [{"key": "k"}]}`,
		`{"name": "v", "vip": [{"vip_id": "0", "ip_address": {"addr": "192.0.2.2", "type": "V4"}, "prefix_length": 32}]}`,
		`{"name": "h", "type": "HEALTH_MONITOR_HTTP", "http_monitor": {"exact_http_request": true}}`,
		`{"name": 1}`, `{"_extra": {}}`, `[]`, `{"servers": [null, {}]}`,
	} {
		for i := range Kinds {
			f.Add(i, seed)
		}
	}
	f.Fuzz(func(t *testing.T, kind int, body string) {
		if kind < 0 || kind >= len(Kinds) {
			return
		}
		k := Kinds[kind]
		o, err := Decode(k, []byte(body))
		if err != nil {
			return
		}
		if o.Defaults(); o.Validate() != nil {
			return
		}
		doc, err := json.Marshal(Document(o))
		if err != nil {
			t.Fatalf("Document of a decoded %s does not marshal: %v", k.Kind, err)
		}
		again, err := Decode(k, doc)
		if err != nil {
			t.Fatalf("%s read back is refused: %v\n%s", k.Kind, err, doc)
		}
		if a, b := Document(o), Document(again); !reflect.DeepEqual(normal(a), normal(b)) {
			t.Fatalf("%s changed through a read and write:\n%v\n%v", k.Kind, a, b)
		}
	})
}

// normal is a decoded document with numbers as float64, for comparison.
func normal(doc map[string]any) any {
	data, _ := json.Marshal(doc)
	var out any
	json.Unmarshal(data, &out)
	return out
}
