package controller

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/avi/schema"
)

// schemaBases are valid objects of each kind the API writes, to which the schema test adds a
// value for every other field of Avi's schema.
var schemaBases = map[avi.Kind]string{
	avi.KindHealthMonitor:                 `{"name": "s-hm", "type": "HEALTH_MONITOR_HTTP", "http_monitor": {"http_request": "GET / HTTP/1.0"}}`,
	avi.KindPool:                          `{"name": "s-pool", "servers": [{"ip": {"addr": "192.0.2.1", "type": "V4"}}]}`,
	avi.KindVsVip:                         `{"name": "s-vsvip", "vip": [{"vip_id": "0", "ip_address": {"addr": "192.0.2.60", "type": "V4"}}]}`,
	avi.KindVirtualService:                `{"name": "s-vs", "services": [{"port": 9001}]}`,
	avi.KindApplicationProfile:            `{"name": "s-ap", "type": "APPLICATION_PROFILE_TYPE_HTTP"}`,
	avi.KindCloud:                         `{"name": "s-cloud", "vtype": "CLOUD_NONE"}`,
	avi.KindCloudConnectorUser:            `{"name": "s-ccu"}`,
	avi.KindServiceEngineGroup:            `{"name": "s-seg"}`,
	avi.KindTenant:                        `{"name": "s-tenant"}`,
	avi.KindRole:                          `{"name": "s-role"}`,
	avi.KindVrfContext:                    `{"name": "s-vrf"}`,
	avi.KindNetwork:                       `{"name": "s-net"}`,
	avi.KindSSLKeyAndCertificate:          `{"name": "s-cert"}`,
	avi.KindSSLProfile:                    `{"name": "s-sslp"}`,
	avi.KindNetworkProfile:                `{"name": "s-np"}`,
	avi.KindPoolGroup:                     `{"name": "s-pg"}`,
	avi.KindApplicationPersistenceProfile: `{"name": "s-app"}`,
	avi.KindAnalyticsProfile:              `{"name": "s-anp"}`,
	avi.KindIpamDnsProviderProfile:        `{"name": "s-ipam"}`,
}

// TestSchemaFieldsRoundTrip: for every kind the API writes, every field of Avi's schema that the
// kind's Go type does not implement, at any depth, is accepted with a value of its type and
// returned equal; each is listed by ?unimplemented_fields; a field the schema does not define is
// refused naming it.
func TestSchemaFieldsRoundTrip(t *testing.T) {
	e := newSetUpAPIEnv(t)
	sch := schema.Avi()
	covered := map[avi.Kind]bool{}
	for _, k := range avi.Kinds {
		if _, ok := sch.Kind(string(k.Kind)); !ok || k.Internal || k.Private || k.Kind == avi.KindUser {
			continue
		}
		covered[k.Kind] = true
		t.Run(string(k.Kind), func(t *testing.T) {
			var base map[string]any
			path := "/api/" + string(k.Kind)
			method := "POST"
			if k.Singleton {
				base = e.admin(t, "GET", path, nil).want(t, http.StatusOK).obj
				method = "PUT"
			} else if err := json.Unmarshal([]byte(schemaBases[k.Kind]), &base); err != nil || base == nil {
				t.Fatalf("no base object for %s", k.Kind)
			}
			def, _ := sch.Kind(string(k.Kind))
			added := augment(sch, base, sch.Kinds[string(k.Kind)], def, reflect.TypeOf(k.New()), 0)
			if len(added) == 0 {
				t.Fatal("no field to add: the test checks nothing")
			}
			want := http.StatusCreated
			if k.Singleton {
				want = http.StatusOK
			}
			t.Logf("%d fields added, such as %v", len(added), added[len(added)/2])
			written := e.admin(t, method, path, base).want(t, want)
			got := e.admin(t, "GET", written.obj["url"].(string), nil).want(t, http.StatusOK).obj
			for _, p := range added {
				sent, back := pick(base, p), pick(got, p)
				if !sameDecoded(sent, back) {
					t.Errorf("%s: sent %v, read back %v", strings.Join(p, "."), sent, back)
				}
			}
			list := e.admin(t, "GET", path+"?unimplemented_fields", nil).want(t, http.StatusOK).obj
			fields := fmt.Sprint(list["unimplemented_fields"])
			for _, p := range added {
				if len(p) == 1 && !strings.Contains(fields, p[0]) {
					t.Errorf("?unimplemented_fields does not list %s", p[0])
				}
			}
			// A field the schema does not define is refused by name, at the top and nested.
			base["no_such_field"] = 1
			e.admin(t, method, path, base).want(t, http.StatusBadRequest, "no_such_field")
		})
	}
	for _, k := range []avi.Kind{avi.KindHealthMonitor, avi.KindPool, avi.KindVsVip, avi.KindVirtualService} {
		if !covered[k] {
			t.Errorf("%s is not covered", k)
		}
	}
	e.admin(t, "POST", "/api/pool", `{"name": "bad", "servers": [{"ip": {"addr": "192.0.2.1", "type": "V4"}, "bogus": true}]}`).
		want(t, http.StatusBadRequest, "servers[0].bogus")
	e.admin(t, "POST", "/api/pool", `{"name": "bad", "description": 7}`).want(t, http.StatusBadRequest, "description", "want a string")
	e.admin(t, "POST", "/api/pool", `{"name": "bad", "markers": {}}`).want(t, http.StatusBadRequest, "markers", "want a list")
}

// augment adds to doc a value of its type for every field of def that goType has no field for
// (at any depth below the fields doc has), returning their paths (list elements by index).
func augment(sch *schema.Schema, doc map[string]any, defName string, def schema.Definition, goType reflect.Type, depth int) [][]string {
	goFields := schema.JSONFields(goType)
	var added [][]string
	for name, f := range def {
		if f.ReadOnly {
			continue
		}
		ft, has := goFields[name]
		if !has {
			doc[name] = sample(sch, f, name, depth)
			added = append(added, []string{name})
			continue
		}
		sub, ok := sch.Definitions[f.Ref]
		if v, present := doc[name].(map[string]any); ok && present && depth < 3 {
			for _, p := range augment(sch, v, f.Ref, sub, ft, depth+1) {
				added = append(added, append([]string{name}, p...))
			}
		}
		if list, present := doc[name].([]any); present && f.Items != nil && ft.Kind() == reflect.Slice {
			if sub, ok := sch.Definitions[f.Items.Ref]; ok {
				for i, item := range list {
					if m, ok := item.(map[string]any); ok {
						for _, p := range augment(sch, m, f.Items.Ref, sub, ft.Elem(), depth+1) {
							added = append(added, append([]string{name, fmt.Sprint(i)}, p...))
						}
					}
				}
			}
		}
	}
	slices.SortFunc(added, func(a, b []string) int { return strings.Compare(strings.Join(a, "."), strings.Join(b, ".")) })
	return added
}

// sample is a value of a field's type: its first enum value, a number in its range, the opposite
// of its default, an object of its definition (to a bounded depth), a list of one.
func sample(sch *schema.Schema, f schema.Field, name string, depth int) any {
	switch f.T {
	case "string":
		if len(f.Enum) > 0 {
			return f.Enum[len(f.Enum)-1]
		}
		return "s-" + name
	case "integer", "number":
		switch {
		case len(f.Values) > 0:
			return f.Values[len(f.Values)-1]
		case f.Max != nil:
			return *f.Max
		case f.Min != nil:
			return *f.Min
		}
		return 7.0
	case "boolean":
		d, _ := f.Default.(bool)
		return !d
	case "array":
		if f.Items == nil {
			return []any{}
		}
		return []any{sample(sch, *f.Items, name, depth+1)}
	}
	out := map[string]any{}
	if def, ok := sch.Definitions[f.Ref]; ok && depth < 3 {
		for n, sub := range def {
			if !sub.ReadOnly {
				out[n] = sample(sch, sub, n, depth+1)
			}
		}
	}
	return out
}

// pick is the value at a path of a decoded document (list elements by index).
func pick(doc any, path []string) any {
	for _, p := range path {
		switch d := doc.(type) {
		case map[string]any:
			doc = d[p]
		case []any:
			var i int
			fmt.Sscan(p, &i)
			if i >= len(d) {
				return nil
			}
			doc = d[i]
		default:
			return nil
		}
	}
	return doc
}

// sameDecoded compares two decoded JSON values as JSON.
func sameDecoded(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	var u, v any
	json.Unmarshal(x, &u)
	json.Unmarshal(y, &v)
	return reflect.DeepEqual(u, v)
}

// A field avi-init stores without acting on it, set to another value than Avi's default, is
// logged once per kind and field; its default value is not logged.
func TestUnactedFieldLoggedOnce(t *testing.T) {
	e := newSetUpAPIEnv(t)
	var buf syncBuffer
	e.srv.log = slog.New(slog.NewTextHandler(&buf, nil))
	e.mustCreate(t, "pool", map[string]any{"name": "p1", "graceful_disable_timeout": 1})
	e.mustCreate(t, "pool", map[string]any{"name": "p2", "graceful_disable_timeout": 5})
	e.mustCreate(t, "pool", map[string]any{"name": "p3", "enabled": true, "description": "x"})
	logged := buf.String()
	if n := strings.Count(logged, "field=graceful_disable_timeout"); n != 1 {
		t.Errorf("graceful_disable_timeout logged %d times; want once:\n%s", n, logged)
	}
	if !strings.Contains(logged, "kind=pool field=description") {
		t.Errorf("description not logged:\n%s", logged)
	}
	if strings.Contains(logged, "field=enabled") {
		t.Errorf("enabled set to its default was logged:\n%s", logged)
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
