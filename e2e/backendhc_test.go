package e2e

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avi-init/avi-init/installer/containerspec"
)

var backendHealthImage struct {
	once sync.Once
	ref  string
	err  error
}

// backendHealthcheck is the health image's HEALTHCHECK: the backend binary checks itself (the
// image has no shell), every second, so that a test sees a state change within about 2 s. The
// binary sits where image.Binary puts avi-init. The start period is left at its default, none:
// Docker 20.10 refuses --start-period=0s.
var backendHealthcheck = fmt.Sprintf(`HEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD ["%s","--check","http://127.0.0.1:8080/healthz"]`,
	containerspec.BinaryInImage)

// ensureBackendHealthImage returns the backend image with a Docker HEALTHCHECK on /healthz
// (see e2e/backend), built once per run and cached in the engine under the backend image's
// hash. The image is tagged by the binary's hash alone: after changing backendHealthcheck,
// remove the old avie2e/backend-hc images.
func ensureBackendHealthImage(t *testing.T) string {
	t.Helper()
	base := ensureBackendImage(t)
	backendHealthImage.once.Do(func() { backendHealthImage.ref, backendHealthImage.err = buildBackendHealthImage(base) })
	if backendHealthImage.err != nil {
		t.Fatalf("backend health image: %v", backendHealthImage.err)
	}
	return backendHealthImage.ref
}

func buildBackendHealthImage(base string) (string, error) {
	_, hash, _ := strings.Cut(base, ":")
	ref := "avie2e/backend-hc:" + hash
	if _, err := execCommand("docker", "image", "inspect", ref); err == nil {
		return ref, nil
	}
	// The classic builder: it takes a Dockerfile on stdin with no context and uses the local
	// base image without asking a registry.
	cmd := exec.Command("docker", "build", "-q", "-t", ref, "-")
	cmd.Env = append(cmd.Environ(), "DOCKER_BUILDKIT=0")
	cmd.Stdin = strings.NewReader("FROM " + base + "\n" + backendHealthcheck + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("docker build %s: %v\n%s", ref, err, out)
	}
	return ref, nil
}

// TestBackendHealthImage runs the health image as startBackend runs the backend (no
// capabilities, read-only root, unprivileged user) and follows its health through
// POST /healthz/down and /healthz/up.
func TestBackendHealthImage(t *testing.T) {
	need(t)
	ref := ensureBackendHealthImage(t)
	port := freePorts(t, 1)[0]
	container := "avie2e-backend-hc-check"
	execCommand("docker", "rm", "-f", container)
	docker(t, "run", "-d", "--name", container, "-p", fmt.Sprintf("127.0.0.1:%d:8080", port),
		"--cap-drop", "ALL", "--read-only", "--user", "65534:65534", ref)
	t.Cleanup(func() { execCommand("docker", "rm", "-f", container) })

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	client := &http.Client{Timeout: 2 * time.Second}
	var status string
	waitHealth := func(want string) {
		t.Helper()
		waitFor(t, "container health "+want, 15*time.Second, func() bool {
			out, _ := execCommand("docker", "inspect", "--format", "{{.State.Health.Status}}", container)
			if s := strings.TrimSpace(out); s != status {
				status = s
				t.Logf("health: %s", status)
			}
			return status == want
		})
	}
	post := func(path string) {
		t.Helper()
		resp, err := client.Post(base+path, "", nil)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %s", path, resp.Status)
		}
	}

	waitHealth("healthy")
	if body, err := httpGet(client, base+"/healthz"); err != nil || body != "ok" {
		t.Fatalf("GET /healthz while healthy: %q, %v; want ok", body, err)
	}
	post("/healthz/down")
	if _, err := httpGet(client, base+"/healthz"); err == nil || !strings.Contains(err.Error(), "status 503") {
		t.Fatalf("GET /healthz after /healthz/down: %v; want status 503", err)
	}
	waitHealth("unhealthy")
	post("/healthz/up")
	waitHealth("healthy")
}
