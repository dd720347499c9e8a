package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSEServesBackendContainers is issue 4 as the operator lives it, on the real engine: the
// installed SE balances a virtual service over two backend containers; ab completes; a stopped
// backend is taken out within the monitor's interval times its failed checks and no request
// fails after that; started again it comes back; pools change and services are added under
// traffic without a failed request; a north-south VIP is added to the interface that reaches it
// and removed with its service, even when the service goes while the SE is killed; the SE's own
// /metrics count it all.
func TestSEServesBackendContainers(t *testing.T) {
	needTool(t, "ab")
	c, _, _ := installControllerAndSE(t)
	startBackend(t, "b1", "10.213.40.11")
	startBackend(t, "b2", "10.213.40.12")

	var out map[string]any
	const interval, failedChecks = 1, 2
	c.create(t, "healthmonitor", map[string]any{"name": "hm-fast", "type": "HEALTH_MONITOR_HTTP", "send_interval": interval,
		"receive_timeout": 1, "successful_checks": 1, "failed_checks": failedChecks,
		"http_monitor": map[string]any{"http_request": "GET / HTTP/1.0", "http_response_code": []string{"HTTP_2XX"}}})
	server := func(ip string) map[string]any {
		return map[string]any{"ip": map[string]string{"addr": ip, "type": "V4"}, "port": 8080}
	}
	poolUUID := c.create(t, "pool", map[string]any{"name": "backends", "lb_algorithm": "LB_ALGORITHM_ROUND_ROBIN",
		"servers": []any{server("10.213.40.11"), server("10.213.40.12")}, "health_monitor_refs": []string{"/api/healthmonitor?name=hm-fast"}})
	vsPort := freePorts(t, 1)[0]
	vsUUID := c.create(t, "virtualservice", map[string]any{"name": "backends-vs", "services": []any{map[string]int{"port": vsPort}}, "pool_ref": "/api/pool?name=backends"})
	url := fmt.Sprintf("http://127.0.0.1:%d/", vsPort)

	client := &http.Client{Timeout: 10 * time.Second}
	get := func(url string) (string, error) {
		body, err := httpGet(client, url)
		return strings.TrimSpace(body), err
	}
	getVS := func() (string, error) { return get(url) }
	waitFor(t, "both backend containers to serve through the SE", 20*time.Second, func() bool {
		seen := servedBy(10, getVS)
		return seen["from b1"] > 0 && seen["from b2"] > 0
	})

	if r := ab(t, 100, 10, url+"100kb.txt"); !r.servedAll(100) || r.length != 102400 {
		t.Errorf("ab through the SE to the backend containers: want 100 complete, none failed, 102400 bytes each:\n%s", r.out)
	}

	// Stop one backend under traffic: a bounded load loop keeps every answer and failure, with
	// its time.
	stopLoad := startLoad(getVS)
	time.Sleep(500 * time.Millisecond)
	stoppedAt := time.Now()
	docker(t, "stop", "-t", "1", "avie2e-b1")
	detected := stoppedAt.Add(time.Duration(interval*failedChecks)*time.Second + 2*time.Second) // + the stop's own second and a check in flight
	time.Sleep(time.Until(detected) + 3*time.Second)
	var before, failedBefore, after, failedAfter, fromB1After int
	for _, r := range stopLoad() {
		if r.at.Before(detected) {
			before++
			if r.err != nil {
				failedBefore++
			}
			continue
		}
		after++
		if r.err != nil {
			failedAfter++
			t.Errorf("request at +%v after the stop failed: %v", r.at.Sub(stoppedAt).Round(time.Millisecond), r.err)
		} else if r.body == "from b1" {
			fromB1After++
		}
	}
	t.Logf("one backend stopped: %d requests before detection (%d failed), %d after, %d of them failed, %d served by the stopped one",
		before, failedBefore, after, failedAfter, fromB1After)
	if after < 100 || fromB1After > 0 {
		t.Errorf("after detection: %d requests, %d served by the stopped backend; want >= 100 and 0", after, fromB1After)
	}

	// The SE's own metrics show the member down and count the traffic.
	metrics := func() string {
		body, err := get("http://127.0.0.1:9180/metrics")
		if err != nil {
			return err.Error()
		}
		return body
	}
	waitFor(t, "the SE's /metrics to show the stopped member down", 10*time.Second, func() bool {
		return strings.Contains(metrics(), `avi_se_pool_member_up{server="10.213.40.11:8080",uuid="`+vsUUID+`",virtualservice="backends-vs"} 0`)
	})
	requests := regexp.MustCompile(`avi_se_virtualservice_requests_total\{uuid="` + vsUUID + `",virtualservice="backends-vs"\} (\d+)`)
	if m := requests.FindStringSubmatch(metrics()); m == nil || must(strconv.Atoi(m[1])) < 100+after {
		t.Errorf("SE metrics requests for the VS: %v; want at least %d", m, 100+after)
	}

	// Started again, it comes back.
	docker(t, "start", "avie2e-b1")
	waitFor(t, "the restarted backend to take traffic again", 20*time.Second, func() bool { return servedBy(10, getVS)["from b1"] > 0 })

	// Change the pool and add a virtual service while traffic flows: nothing fails.
	stopLoad = startLoad(getVS)
	time.Sleep(300 * time.Millisecond)
	if code := c.call(t, "PATCH", "/api/pool/"+poolUUID, map[string]any{"servers": []any{server("10.213.40.12")}}, &out); code != 200 {
		t.Fatalf("change the pool: %d %v", code, out)
	}
	vsPort2 := freePorts(t, 1)[0]
	c.create(t, "virtualservice", map[string]any{"name": "backends-vs-2", "services": []any{map[string]int{"port": vsPort2}}, "pool_ref": "/api/pool?name=backends"})
	waitFor(t, "the added virtual service to serve", 15*time.Second, func() bool {
		body, err := get(fmt.Sprintf("http://127.0.0.1:%d/", vsPort2))
		return err == nil && body == "from b2"
	})
	if code := c.call(t, "PATCH", "/api/pool/"+poolUUID, map[string]any{"servers": []any{server("10.213.40.11"), server("10.213.40.12")}}, &out); code != 200 {
		t.Fatalf("change the pool back: %d %v", code, out)
	}
	time.Sleep(time.Second)
	var n, failed int
	for _, r := range stopLoad() {
		n++
		if r.err != nil {
			failed++
			t.Errorf("request failed during reconfiguration: %v", r.err)
		}
	}
	t.Logf("reconfiguration under traffic: %d requests, %d failed", n, failed)

	// North-south: a VIP no interface holds goes onto the interface that reaches it. The test
	// makes that interface: a veth pair of its own, on a subnet of its own.
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("the VIP check needs ip (apt-get install iproute2)")
	}
	execCommand("ip", "link", "del", "avie2e0")
	for _, args := range [][]string{
		{"link", "add", "avie2e0", "type", "veth", "peer", "name", "avie2e1"},
		{"addr", "add", "10.213.41.1/24", "dev", "avie2e0"},
		{"link", "set", "avie2e0", "up"},
		{"link", "set", "avie2e1", "up"},
	} {
		if out, err := execCommand("ip", args...); err != nil {
			t.Fatalf("ip %s: %v %s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() { execCommand("ip", "link", "del", "avie2e0") })
	vipPort := freePorts(t, 1)[0]
	nsUUID := c.create(t, "virtualservice", map[string]any{"name": "north-south", "ip_address": map[string]string{"addr": "10.213.41.50", "type": "V4"},
		"services": []any{map[string]int{"port": vipPort}}, "pool_ref": "/api/pool?name=backends"})
	vipURL := fmt.Sprintf("http://10.213.41.50:%d/", vipPort)
	waitFor(t, "the north-south service to answer on its VIP", 15*time.Second, func() bool {
		body, err := get(vipURL)
		return err == nil && strings.HasPrefix(body, "from b")
	})
	addrs := func() string { out, _ := execCommand("ip", "-o", "addr", "show", "dev", "avie2e0"); return out }
	if !strings.Contains(addrs(), "10.213.41.50/32") {
		t.Errorf("the VIP is not on avie2e0:\n%s", addrs())
	}
	// The SE dies without cleaning up (SIGKILL) while holding the VIP, and the service goes
	// while it is down: restarted, it serves its last configuration, learns of the deletion and
	// removes the VIP, which it recorded as its own before the crash.
	if out, err := execCommand("docker", "kill", "--signal", "KILL", "avise"); err != nil {
		t.Fatalf("docker kill avise: %v %s", err, out)
	}
	if !strings.Contains(addrs(), "10.213.41.50/32") {
		t.Errorf("the VIP left with the killed SE (nothing should have removed it):\n%s", addrs())
	}
	if code := c.call(t, "DELETE", "/api/virtualservice/"+nsUUID, nil, nil); code != 204 {
		t.Fatalf("delete the north-south service: %d", code)
	}
	if out, err := execCommand("docker", "start", "avise"); err != nil {
		t.Fatalf("docker start avise: %v %s", err, out)
	}
	waitFor(t, "the restarted SE to remove the VIP it added before the crash", 30*time.Second, func() bool {
		return !strings.Contains(addrs(), "10.213.41.50")
	})
	if !strings.Contains(addrs(), "10.213.41.1/24") {
		t.Errorf("the interface's own address went with the VIP:\n%s", addrs())
	}
}

// TestSEAloneJoinsWithToken: an SE installed on its own (`-s -m IP` with a join token made in
// the controller) joins and shows up; the token is on no command line, in no unit, env file,
// container definition or output.
func TestSEAloneJoinsWithToken(t *testing.T) {
	need(t)
	t.Cleanup(func() { run(t, "uninstall", "--purge", "--yes") })
	dir := t.TempDir()
	data, seData := filepath.Join(dir, "ctl"), filepath.Join(dir, "se")
	setup := filepath.Join(dir, "setup.json")
	os.WriteFile(setup, []byte(`{"admin": {"username": "admin", "password": "`+testAdminPassword+`"}}`), 0o600)
	p := freePorts(t, 3)
	ports := []string{"--https-port", strconv.Itoa(p[0]), "--http-port", strconv.Itoa(p[1]), "-sysint", strconv.Itoa(p[2])}
	mustRun(t, append([]string{"-c", "-cc", "1", "-cm", "1", "-cd", "1", "-i", "127.0.0.1", "-cdp", data, "-sj", setup}, ports...)...)
	c := &controllerProc{https: p[0], client: controllerClient(t, data), user: "admin", pass: testAdminPassword}
	token := c.token(t, 600)
	secret := token[strings.Index(token, ".")+1:]

	t.Setenv("AVI_JOIN_TOKEN", token)
	inst := mustRun(t, append([]string{"-s", "-m", "127.0.0.1", "-sc", "1", "-sm", "512", "-sdp", seData}, ports...)...)
	if !strings.Contains(inst.out, "Run SE           : Yes") {
		t.Errorf("summary lacks the SE:\n%s", inst)
	}
	var ses struct {
		Results []struct {
			Connected bool `json:"se_connected"`
		} `json:"results"`
	}
	waitFor(t, "the SE installed alone to join and connect", 30*time.Second, func() bool {
		c.call(t, "GET", "/api/serviceengine", nil, &ses)
		return len(ses.Results) == 1 && ses.Results[0].Connected
	})
	inspectOut, _ := execCommand("docker", "inspect", "avise")
	unit, err := os.ReadFile("/etc/avi-init/avise.env")
	if err != nil {
		t.Errorf("the SE's env file: %v", err)
	}
	for where, text := range map[string]string{"install output": inst.out + inst.err, "docker inspect avise": inspectOut, "the SE's env file": string(unit)} {
		if strings.Contains(text, secret) {
			t.Errorf("the join token's secret appears in %s", where)
		}
	}
	if _, err := os.Stat(filepath.Join(seData, "join-token")); !os.IsNotExist(err) {
		t.Errorf("the join token stayed in the SE's data directory after it joined: %v", err)
	}
}
