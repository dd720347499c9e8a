package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/sechannel"
)

// BenchmarkProxies runs the SE's data plane side by side with HAProxy 2.6, nginx 1.22 and
// Caddy 2.6 (Debian's), each pinned to CPU 0 with one worker, in front of the same nginx
// backend, under the same wrk load (wrk and the backend share CPU 1). It prints, per scenario,
// requests/s, p99, the proxy's CPU time per request and the ratio to HAProxy. Targets (issue 4):
// L7 small >= 0.9x HAProxy and >= 1.5x Caddy with p99 <= 1.2x HAProxy's; L7 100 KB and L4
// >= 1.0x HAProxy.
//
// The machine running it is often shared, so a peer measured while something else ran would
// lose by no fault of its own: every scenario runs in rounds, each round measuring every peer
// in turn (in a rotating order), and a peer's best round is reported. CPU time per request,
// read from the kernel's accounting of the proxy's processes, is the figure least moved by
// neighbours.
//
//	make bench   (or: go test -run '^$' -bench Proxies -benchtime 1x ./e2e/)
//
// AVI_BENCH_ONLY=<text> runs only the scenarios whose name holds the text ("L4", "100 KB").
func BenchmarkProxies(b *testing.B) {
	for _, tool := range []string{"haproxy", "nginx", "caddy", "wrk", "taskset"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Fatalf("the proxy benchmark needs %s (apt-get install haproxy nginx-light caddy wrk): %v", tool, err)
		}
	}
	dir := b.TempDir()
	// nginx workers run as nobody and serve files from here.
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	p := freePorts(b, 8)
	backend, seL7, seL4, haL7, haL4, ngL7, caL7 := p[0], p[1], p[2], p[3], p[4], p[5], p[6]

	// The backend: nginx, one worker, a small response and a 100 KB file.
	os.WriteFile(filepath.Join(dir, "100kb.txt"), bytes.Repeat([]byte("0123456789abcdef"), 100*1024/16), 0o644)
	startPinned(b, "1", "backend", nil, "nginx", "-p", dir, "-c", writeFile(b, dir, "backend.conf", fmt.Sprintf(`
daemon off; worker_processes 1; error_log %[1]s/backend.err; pid %[1]s/backend.pid;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 100000;
  server { listen 127.0.0.1:%[2]d; root %[1]s;
    location = /small { return 200 "hello\n"; } } }`, dir, backend)))

	// The SE, serving headless from a configuration on disk, as after a restart without its controller.
	seData := filepath.Join(dir, "se")
	os.MkdirAll(seData, 0o700)
	ident, _ := json.Marshal(map[string]string{"controller": "127.0.0.1:1", "cert_hash": strings.Repeat("0", 64), "se_uuid": "se-bench", "credential": "x"})
	os.WriteFile(filepath.Join(seData, "identity.json"), ident, 0o600)
	pool := &sechannel.Pool{UUID: "pool-b", Name: "b", Algorithm: avi.LBLeastConnections, Servers: []sechannel.Server{{IP: "127.0.0.1", Port: backend, Enabled: true, Ratio: 1}}}
	snap := sechannel.Snapshot{Version: 1, VirtualServices: []sechannel.VirtualService{
		{UUID: "vs-l7", Name: "l7", Enabled: true, VIP: "127.0.0.1", Services: []avi.Service{{Port: seL7}}, ProfileType: avi.ProfileHTTP, Pool: pool},
		{UUID: "vs-l4", Name: "l4", Enabled: true, VIP: "127.0.0.1", Services: []avi.Service{{Port: seL4}}, ProfileType: avi.ProfileL4, Pool: pool},
	}}
	cfg, _ := json.Marshal(snap)
	os.WriteFile(filepath.Join(seData, "config.json"), cfg, 0o600)
	pgids := map[int]int{} // port -> the proxy's process group
	pgids[seL7] = startPinned(b, "0", "avi-init se", []string{"GOMAXPROCS=1"}, aviInit, "se", "--data", seData)

	pgids[haL7] = startPinned(b, "0", "haproxy", nil, "haproxy", "-db", "-f", writeFile(b, dir, "haproxy.cfg", fmt.Sprintf(`
global
  nbthread 1
  maxconn 4000
defaults
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend l7
  mode http
  bind 127.0.0.1:%d
  option http-keep-alive
  default_backend web
backend web
  mode http
  http-reuse always
  server b1 127.0.0.1:%d
frontend l4
  mode tcp
  bind 127.0.0.1:%d
  default_backend tcp
backend tcp
  mode tcp
  server b1 127.0.0.1:%d
`, haL7, backend, haL4, backend)))
	pgids[seL4], pgids[haL4] = pgids[seL7], pgids[haL7]

	pgids[ngL7] = startPinned(b, "0", "nginx proxy", nil, "nginx", "-p", dir, "-c", writeFile(b, dir, "proxy.conf", fmt.Sprintf(`
daemon off; worker_processes 1; error_log %[1]s/proxy.err; pid %[1]s/proxy.pid;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 100000;
  upstream web { server 127.0.0.1:%[2]d; keepalive 128; }
  server { listen 127.0.0.1:%[3]d;
    location / { proxy_pass http://web; proxy_http_version 1.1; proxy_set_header Connection ""; } } }`, dir, backend, ngL7)))

	pgids[caL7] = startPinned(b, "0", "caddy", []string{"GOMAXPROCS=1", "HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir}, "caddy", "run", "--adapter", "caddyfile", "--config", writeFile(b, dir, "Caddyfile", fmt.Sprintf(`{
	admin off
	auto_https off
}
http://127.0.0.1:%d {
	reverse_proxy 127.0.0.1:%d
}
`, caL7, backend)))

	time.Sleep(2 * time.Second)
	// The SE's services have VIPs: started from disk with no controller, it serves them once
	// HeadlessAfter (10 s) has passed, as a restarted SE that cannot tell whether they moved.
	for _, port := range []int{seL7, seL4} {
		waitFor(b, fmt.Sprintf("the headless SE to listen on %d", port), 30*time.Second, func() bool {
			conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
			if err == nil {
				conn.Close()
			}
			return err == nil
		})
	}
	type peer struct {
		name string
		port int
	}
	scenarios := []struct {
		name, path string
		peers      []peer
	}{
		{"L7 keep-alive, small responses", "/small", []peer{{"HAProxy 2.6", haL7}, {"avi-init SE", seL7}, {"nginx 1.22", ngL7}, {"Caddy 2.6", caL7}}},
		{"L7 keep-alive, 100 KB responses", "/100kb.txt", []peer{{"HAProxy 2.6", haL7}, {"avi-init SE", seL7}, {"nginx 1.22", ngL7}, {"Caddy 2.6", caL7}}},
		{"L4 TCP (HTTP through it)", "/small", []peer{{"HAProxy 2.6", haL4}, {"avi-init SE", seL4}}},
	}
	const rounds = 3
	for _, sc := range scenarios {
		if only := os.Getenv("AVI_BENCH_ONLY"); !strings.Contains(sc.name, only) {
			continue
		}
		best := make([]wrkResult, len(sc.peers))
		for round := range rounds {
			for k := range sc.peers {
				i := (k + round) % len(sc.peers)
				pr := sc.peers[i]
				before := cpuTime(b, pgids[pr.port])
				r := runWrk(b, fmt.Sprintf("http://127.0.0.1:%d%s", pr.port, sc.path))
				r.cpuPerReq = (cpuTime(b, pgids[pr.port]) - before) / time.Duration(r.requests)
				if r.rps > best[i].rps {
					best[i] = r
				}
			}
		}
		fmt.Printf("\n%s (wrk -t1 -c64 -d%s, proxies pinned to CPU 0, best of %d rounds)\n", sc.name, wrkDuration, rounds)
		fmt.Printf("%-14s %12s %10s %10s %12s %10s\n", "peer", "requests/s", "p99", "MB/s", "CPU/request", "x HAProxy")
		for i, pr := range sc.peers {
			r := best[i]
			fmt.Printf("%-14s %12.0f %10s %10.1f %12s %9.2fx\n", pr.name, r.rps, r.p99, r.mbps, r.cpuPerReq.Round(100*time.Nanosecond), r.rps/best[0].rps)
			if pr.name == "avi-init SE" {
				b.ReportMetric(r.rps/best[0].rps, strings.NewReplacer(" ", "-", ",", "").Replace(sc.name)+"-x-haproxy")
			}
		}
	}
}

// cpuTime is the user and system time the processes of a process group have used so far.
func cpuTime(b *testing.B, pgid int) time.Duration {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatal(err)
	}
	var ticks int64
	for _, d := range dirs {
		stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue // not a process, or one that has just ended
		}
		// Fields after the command name, which is in parentheses and may hold spaces:
		// state ppid pgrp ... utime (14th field overall) stime (15th).
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 13 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on Linux everywhere.
const clockTicks = 100

type wrkResult struct {
	rps, mbps float64
	p99       string
	requests  int64
	cpuPerReq time.Duration
}

// wrkDuration is one wrk run.
const wrkDuration = "4s"

var (
	rpsRE = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	reqRE = regexp.MustCompile(`(\d+) requests in`)
	p99RE = regexp.MustCompile(`\s99%\s+(\S+)`)
	tpsRE = regexp.MustCompile(`Transfer/sec:\s+([\d.]+)(\w+)`)
	errRE = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)|Socket errors: .*`)
)

func runWrk(b *testing.B, url string) wrkResult {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "taskset", "-c", "1", "wrk", "-t1", "-c64", "-d"+wrkDuration, "--latency", url).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk %s: %v\n%s", url, err, out)
	}
	s := string(out)
	if m := errRE.FindString(s); m != "" {
		b.Fatalf("wrk %s reported errors: %s\n%s", url, m, s)
	}
	var r wrkResult
	if m := rpsRE.FindStringSubmatch(s); m != nil {
		r.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := reqRE.FindStringSubmatch(s); m != nil {
		r.requests, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := p99RE.FindStringSubmatch(s); m != nil {
		r.p99 = m[1]
	}
	if m := tpsRE.FindStringSubmatch(s); m != nil {
		v, _ := strconv.ParseFloat(m[1], 64)
		switch m[2] {
		case "GB":
			v *= 1024
		case "KB":
			v /= 1024
		}
		r.mbps = v
	}
	if r.rps == 0 || r.requests == 0 {
		b.Fatalf("wrk %s: no figures\n%s", url, s)
	}
	return r
}

func writeFile(b *testing.B, dir, name, content string) string {
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// startPinned runs a server on one CPU until the benchmark ends; it returns the server's
// process group.
func startPinned(b *testing.B, cpu, name string, env []string, cmd string, args ...string) int {
	c := exec.Command("taskset", append([]string{"-c", cpu, cmd}, args...)...)
	c.Env = append(os.Environ(), env...)
	// Its own process group, so that killing it takes its workers (nginx) too.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		b.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	b.Cleanup(func() {
		syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	select {
	case err := <-exited:
		exited <- err
		b.Fatalf("%s exited at once (%v): %s", name, err, out.String())
	case <-time.After(300 * time.Millisecond):
	}
	return c.Process.Pid
}
