package controller

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// The Terraform provider's requests for its four main resources succeed as it sends them: it
// looks each name up (GET ?name=&skip_default=true), POSTs the body its schema defaults fill
// (testdata/terraform, from vmware/terraform-provider-avi), reads the object back by uuid, and
// updates with a whole PUT of what it read.
func TestTerraformCreatePayloads(t *testing.T) {
	e := newSetUpAPIEnv(t)
	for _, kind := range []string{"healthmonitor", "pool", "vsvip", "virtualservice"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "terraform", kind+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		if err := json.Unmarshal(data, &body); err != nil {
			t.Fatalf("%s.json: %v", kind, err)
		}
		name := body["name"].(string)
		found := e.admin(t, "GET", "/api/"+kind+"?name="+name+"&skip_default=true", nil).want(t, http.StatusOK)
		apiWantEq(t, kind+": found before create", found.obj["count"], float64(0))
		created := e.admin(t, "POST", "/api/"+kind, body).want(t, http.StatusCreated)
		path := created.obj["url"].(string) + "?skip_default=true"
		read := e.admin(t, "GET", path, nil).want(t, http.StatusOK).obj
		for field, sent := range body {
			if field == "vsvip_ref" || field == "pool_ref" || field == "application_profile_ref" || field == "health_monitor_refs" {
				continue // references come back as the uuid URL they resolved to
			}
			if !sameDecoded(sent, read[field]) {
				t.Errorf("%s.%s: sent %v, read back %v", kind, field, sent, read[field])
			}
		}
		read["markers"] = []any{map[string]any{"key": "owner", "values": []any{"terraform"}}}
		updated := e.admin(t, "PUT", path, read).want(t, http.StatusOK)
		apiWantEq(t, kind+": markers after update", apiGet(updated.obj, "markers", 0, "values", 0), "terraform")
	}
	vs := e.byName(t, "virtualservice", "tf-vs")
	apiWantEq(t, "the provider's service has its vsvip's VIP", apiGet(vs, "ip_address", "addr"), "127.0.0.10")
}
