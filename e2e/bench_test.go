package e2e

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkInstall measures, from command start to the controller answering over HTTPS, a first
// install on an engine that does not have the image yet, and a re-run of the same command.
// Targets (issue 2): first install under 5 s, re-run under 1 s. Avi's own documentation puts the
// controller's initial start-up at about 5 minutes.
//
//	make bench   (or: go test -run '^$' -bench Install -benchtime 1x ./e2e/)
func BenchmarkInstall(b *testing.B) {
	if err := prereqs(); err != nil {
		b.Fatalf("bench needs: %v", err)
	}
	var first, rerun time.Duration
	for i := 0; i < b.N; i++ {
		data := filepath.Join(b.TempDir(), "data")
		p := freePorts(b, 3)
		args := []string{"-c", "-cc", "1", "-cm", "1", "-cd", "1", "-i", "-cdp", data,
			"--https-port", strconv.Itoa(p[0]), "--http-port", strconv.Itoa(p[1]), "-sysint", strconv.Itoa(p[2])}
		exec.Command(aviInit, "uninstall").Run()
		removeControllerImages(b)

		first += timeToAnswer(b, args, p[0])
		rerun += timeToAnswer(b, args, p[0])
		exec.Command(aviInit, "uninstall", "--purge", "--yes").Run()
	}
	n := time.Duration(b.N)
	b.ReportMetric((first / n).Seconds(), "first-install-s")
	b.ReportMetric((rerun / n).Seconds(), "rerun-s")
	fmt.Printf("\n%-34s %10s %10s\n", "install (command start to answer)", "seconds", "target")
	fmt.Printf("%-34s %10.3f %10s\n", "first install, image not loaded", (first / n).Seconds(), "< 5")
	fmt.Printf("%-34s %10.3f %10s\n", "re-run of the same command", (rerun / n).Seconds(), "< 1")
}

func timeToAnswer(b *testing.B, args []string, port int) time.Duration {
	b.Helper()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		// Only timing here; the tests verify the certificate.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	start := time.Now()
	if out, err := exec.Command(aviInit, args...).CombinedOutput(); err != nil {
		b.Fatalf("install: %v\n%s", err, out)
	}
	for {
		resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/api/initial-data", port))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start)
			}
		}
		if time.Since(start) > time.Minute {
			b.Fatalf("controller did not answer within a minute: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func removeControllerImages(b *testing.B) {
	out, err := exec.Command("docker", "images", "--format", "{{.Repository}}:{{.Tag}}", "avi-init/controller").Output()
	if err != nil {
		b.Fatalf("docker images: %v", err)
	}
	for _, ref := range strings.Fields(string(out)) {
		if out, err := exec.Command("docker", "rmi", "-f", ref).CombinedOutput(); err != nil {
			b.Fatalf("docker rmi %s: %v %s", ref, err, out)
		}
	}
}
