package controller

import (
	"net/http"
	"strings"
	"testing"
)

// The objects automation looks up exist from first boot as Avi names them; every cloud has its
// global and management VRFs, found by name within it and gone with it; the built-in
// certificate's key never leaves the controller.
func TestLookupBuiltIns(t *testing.T) {
	e := newSetUpAPIEnv(t)
	for _, b := range lookupBuiltIns {
		if b.kind == "controllerproperties" {
			e.admin(t, "GET", "/api/controllerproperties", nil).want(t, http.StatusOK)
			continue
		}
		name := b.doc[strings.Index(b.doc, `"name": "`)+9:]
		e.byName(t, string(b.kind), name[:strings.IndexByte(name, '"')])
	}
	cert := e.byName(t, "sslkeyandcertificate", systemDefaultCert)
	if cert["key"] != nil || !strings.Contains(apiGet(cert, "certificate", "certificate").(string), "BEGIN CERTIFICATE") {
		t.Errorf("System-Default-Cert: key %v, certificate %v; want the certificate and no key", cert["key"], cert["certificate"])
	}
	raw := e.admin(t, "GET", "/api/sslkeyandcertificate", nil).want(t, http.StatusOK).raw
	apiNoStrings(t, "certificate list", raw, "PRIVATE KEY")

	cloud := e.mustCreate(t, "cloud", map[string]any{"name": "second", "vtype": "CLOUD_NONE"})
	id := cloud["uuid"].(string)
	for _, vrf := range []string{"global", "management"} {
		list := e.admin(t, "GET", "/api/vrfcontext?name="+vrf+"&cloud_ref.uuid="+id, nil).want(t, http.StatusOK)
		apiWantEq(t, vrf+" VRF of the new cloud", list.obj["count"], float64(1))
	}
	// A vsvip names its VRF within its cloud.
	vsvip := e.mustCreate(t, "vsvip", map[string]any{"name": "in-second", "cloud_ref": cloud["url"], "vrf_context_ref": "/api/vrfcontext?name=global"})
	globalOfSecond := apiGet(e.admin(t, "GET", "/api/vrfcontext?name=global&cloud_ref.uuid="+id, nil).obj, "results", 0, "url")
	apiWantEq(t, "the vsvip's VRF is its cloud's", vsvip["vrf_context_ref"], globalOfSecond)
	e.admin(t, "DELETE", "/api/vsvip/"+vsvip["uuid"].(string), nil).want(t, http.StatusNoContent)
	e.admin(t, "DELETE", "/api/cloud/"+id, nil).want(t, http.StatusNoContent)
	apiWantEq(t, "VRFs after their cloud went", e.admin(t, "GET", "/api/vrfcontext?cloud_ref.uuid="+id, nil).obj["count"], float64(0))
}
