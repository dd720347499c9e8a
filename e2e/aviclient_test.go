package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// aviSession is a client on the wire conventions of Avi's SDKs (vmware/alb-sdk: the Go
// session and the Python avisdk that Ansible uses): a login that sets the session and CSRF
// cookies, then every request with X-Avi-Version, X-Avi-Tenant, X-CSRFToken from the cookie and
// a Referer, objects looked up by name, a 401 answered by logging in again once, and Avi's PATCH
// bodies.
type aviSession struct {
	t          testing.TB
	base       string
	client     *http.Client
	user, pass string
	logins     int
}

func newAviSession(t testing.TB, c *controllerProc) *aviSession {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := *c.client
	client.Jar = jar
	client.Timeout = 10 * time.Second
	s := &aviSession{t: t, base: "https://localhost:" + strconv.Itoa(c.https), client: &client, user: c.user, pass: c.pass}
	s.login()
	return s
}

func (s *aviSession) login() {
	s.t.Helper()
	body, _ := json.Marshal(map[string]string{"username": s.user, "password": s.pass})
	resp, err := s.client.Post(s.base+"/login", "application/json", bytes.NewReader(body))
	if err != nil {
		s.t.Fatalf("login: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || s.csrf() == "" {
		s.t.Fatalf("login: %d, csrftoken cookie %q", resp.StatusCode, s.csrf())
	}
	s.logins++
}

func (s *aviSession) csrf() string {
	u, _ := url.Parse(s.base)
	for _, c := range s.client.Jar.Cookies(u) {
		if c.Name == "csrftoken" {
			return c.Value
		}
	}
	return ""
}

// do sends one request as the SDKs do and decodes the answer; a 401 logs in again and retries
// once.
func (s *aviSession) do(method, path string, body any) (int, map[string]any) {
	s.t.Helper()
	for attempt := 0; ; attempt++ {
		var rd io.Reader
		if body != nil {
			data, _ := json.Marshal(body)
			rd = bytes.NewReader(data)
		}
		req, _ := http.NewRequest(method, s.base+"/api/"+path, rd)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("X-Avi-Version", "30.2.1")
		req.Header.Set("X-Avi-Tenant", "admin")
		req.Header.Set("X-CSRFToken", s.csrf())
		req.Header.Set("Referer", s.base+"/")
		resp, err := s.client.Do(req)
		if err != nil {
			s.t.Fatalf("%s %s: %v", method, path, err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			s.login()
			continue
		}
		if v := resp.Header.Get("X-Avi-Version"); v != "30.2.1" {
			s.t.Errorf("%s %s answered in version %q; want the 30.2.1 asked for", method, path, v)
		}
		var out map[string]any
		if len(raw) > 0 && json.Unmarshal(raw, &out) != nil {
			s.t.Fatalf("%s %s: %d, not a JSON object: %s", method, path, resp.StatusCode, raw)
		}
		return resp.StatusCode, out
	}
}

// must sends a request that must be answered with want.
func (s *aviSession) must(want int, method, path string, body any) map[string]any {
	s.t.Helper()
	code, out := s.do(method, path, body)
	if code != want {
		s.t.Fatalf("%s %s: %d %v; want %d", method, path, code, out, want)
	}
	return out
}

// byName is the SDKs' get_object_by_name: GET /api/<kind>?name=, the first result.
func (s *aviSession) byName(kind, name string) map[string]any {
	s.t.Helper()
	out := s.must(http.StatusOK, "GET", kind+"/?name="+url.QueryEscape(name)+"&include_name=true", nil)
	results, _ := out["results"].([]any)
	if len(results) != 1 {
		s.t.Fatalf("%s named %s: %v", kind, name, out)
	}
	return results[0].(map[string]any)
}

// TestAviSDKConventions drives an installed controller as Avi's own automation does: a client
// on the SDKs' wire conventions creates, reads, updates (PUT of what it read), patches (Avi's
// add, replace and delete) and deletes a health monitor, a pool, a vsvip and a virtual service
// with its VIP from the vsvip, and traffic flows through the SE to the backends on that VIP.
func TestAviSDKConventions(t *testing.T) {
	c, _, _ := installControllerAndSE(t)
	startBackend(t, "b1", "10.213.40.11")
	startBackend(t, "b2", "10.213.40.12")
	vipNet(t, "avie2e2", "10.213.42.1/24")
	s := newAviSession(t, c)

	// The lookups automation makes before it creates anything.
	for kind, name := range map[string]string{"cloud": "Default-Cloud", "serviceenginegroup": "Default-Group", "vrfcontext": "global",
		"applicationprofile": "System-HTTP", "networkprofile": "System-TCP-Proxy", "sslkeyandcertificate": "System-Default-Cert",
		"sslprofile": "System-Standard", "applicationpersistenceprofile": "System-Persistence-Client-IP", "tenant": "admin"} {
		s.byName(kind, name)
	}

	hm := s.must(http.StatusCreated, "POST", "healthmonitor", map[string]any{"name": "sdk-hm", "type": "HEALTH_MONITOR_HTTP",
		"send_interval": 5, "receive_timeout": 2, "description": "made by the SDK test", "markers": []any{map[string]any{"key": "app", "values": []any{"sdk"}}},
		"http_monitor": map[string]any{"http_request": "GET / HTTP/1.0", "http_response_code": []any{"HTTP_2XX"}}})
	server := func(ip string) map[string]any {
		return map[string]any{"ip": map[string]any{"addr": ip, "type": "V4"}, "port": 8080, "description": "backend " + ip}
	}
	pool := s.must(http.StatusCreated, "POST", "pool", map[string]any{"name": "sdk-pool", "lb_algorithm": "LB_ALGORITHM_ROUND_ROBIN",
		"servers": []any{server("10.213.40.11")}, "health_monitor_refs": []any{hm["url"]}})
	vsvip := s.must(http.StatusCreated, "POST", "vsvip", map[string]any{"name": "sdk-vsvip",
		"vip": []any{map[string]any{"vip_id": "0", "ip_address": map[string]any{"addr": "10.213.42.50", "type": "V4"}}}})
	port := freePorts(t, 1)[0]
	vs := s.must(http.StatusCreated, "POST", "virtualservice", map[string]any{"name": "sdk-vs", "vsvip_ref": "/api/vsvip?name=sdk-vsvip",
		"pool_ref": pool["uuid"], "services": []any{map[string]any{"port": port}}, "traffic_enabled": true})

	// Read: the references come back with their names; the schema's fields as written.
	got := s.byName("virtualservice", "sdk-vs")
	if ref, _ := got["vsvip_ref"].(string); !strings.HasSuffix(ref, "/api/vsvip/"+vsvip["uuid"].(string)+"#sdk-vsvip") {
		t.Errorf("vsvip_ref with include_name: %q", ref)
	}
	if got := s.byName("pool", "sdk-pool"); fmt.Sprint(got["servers"]) == "" || !strings.Contains(fmt.Sprint(got["servers"]), "backend 10.213.40.11") {
		t.Errorf("the pool's server description did not come back: %v", got["servers"])
	}
	vipURL := fmt.Sprintf("http://10.213.42.50:%d/", port)
	web := &http.Client{Timeout: 5 * time.Second}
	get := func() (string, error) { body, err := httpGet(web, vipURL); return strings.TrimSpace(body), err }
	waitFor(t, "the service to answer on its vsvip's address through the SE", 30*time.Second, func() bool {
		body, err := get()
		return err == nil && body == "from b1"
	})

	// Update: a typed SDK writes back what it read, with its change (a second server).
	p := s.must(http.StatusOK, "GET", "pool/"+pool["uuid"].(string), nil)
	p["servers"] = append(p["servers"].([]any), server("10.213.40.12"))
	s.must(http.StatusOK, "PUT", "pool/"+pool["uuid"].(string), p)
	waitFor(t, "both backends to serve after the PUT", 30*time.Second, func() bool {
		seen := servedBy(10, get)
		return seen["from b1"] > 0 && seen["from b2"] > 0
	})
	// The service read and written back whole keeps its VIP.
	v := s.must(http.StatusOK, "GET", "virtualservice/"+vs["uuid"].(string), nil)
	v["description"] = "updated"
	if out := s.must(http.StatusOK, "PUT", "virtualservice/"+vs["uuid"].(string), v); fmt.Sprint(out["vsvip_ref"]) != fmt.Sprint(vs["vsvip_ref"]) {
		t.Errorf("PUT of what was read changed vsvip_ref: %v", out["vsvip_ref"])
	}

	// Patch in Avi's format: delete a server, replace the algorithm, add a marker.
	s.must(http.StatusOK, "PATCH", "pool/"+pool["uuid"].(string), map[string]any{"delete": map[string]any{"servers": []any{server("10.213.40.11")}}})
	s.must(http.StatusOK, "PATCH", "pool/"+pool["uuid"].(string), map[string]any{"replace": map[string]any{"lb_algorithm": "LB_ALGORITHM_LEAST_CONNECTIONS"}})
	patched := s.must(http.StatusOK, "PATCH", "healthmonitor/"+hm["uuid"].(string), map[string]any{"add": map[string]any{"markers": []any{map[string]any{"key": "team", "values": []any{"lb"}}}}})
	if n := len(patched["markers"].([]any)); n != 2 {
		t.Errorf("add appended %d markers; want 2", n)
	}
	waitFor(t, "only b2 to serve after the patch", 30*time.Second, func() bool {
		seen := servedBy(10, get)
		return seen["from b2"] == 10
	})

	// A session that expires (the cookie is dropped here) is renewed by logging in again.
	before := s.logins
	s.client.Jar, _ = cookiejar.New(nil)
	s.must(http.StatusOK, "GET", "virtualservice/"+vs["uuid"].(string), nil)
	if s.logins != before+1 {
		t.Errorf("a request without a session logged in %d times; want once", s.logins-before)
	}

	// Delete, in the order automation does; a vsvip in use is refused first.
	s.must(http.StatusConflict, "DELETE", "vsvip/"+vsvip["uuid"].(string), nil)
	for _, o := range []struct{ kind, uuid string }{{"virtualservice", vs["uuid"].(string)}, {"vsvip", vsvip["uuid"].(string)},
		{"pool", pool["uuid"].(string)}, {"healthmonitor", hm["uuid"].(string)}} {
		s.must(http.StatusNoContent, "DELETE", o.kind+"/"+o.uuid, nil)
		s.must(http.StatusNotFound, "GET", o.kind+"/"+o.uuid, nil)
	}
	waitFor(t, "the VIP to stop answering", 30*time.Second, func() bool { _, err := get(); return err != nil })
}

// vipNet adds a veth pair with cidr on its first end, for VIPs of that network on this host;
// it goes when the test ends.
func vipNet(t testing.TB, name, cidr string) {
	t.Helper()
	execCommand("ip", "link", "del", name)
	for _, args := range [][]string{
		{"link", "add", name, "type", "veth", "peer", "name", name + "p"},
		{"addr", "add", cidr, "dev", name},
		{"link", "set", name, "up"},
		{"link", "set", name + "p", "up"},
	} {
		if out, err := execCommand("ip", args...); err != nil {
			t.Fatalf("ip %s: %v %s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() { execCommand("ip", "link", "del", name) })
}
