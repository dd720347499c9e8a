package e2e

import (
	"strings"
	"sync"
	"testing"

	"github.com/avi-init/avi-init/e2e/internal/testimage"
)

// backendNet is the private network the tests' backend containers live on, with fixed
// addresses so that a stopped and restarted backend comes back where the pool expects it.
const (
	backendNet    = "avie2e-backends"
	backendSubnet = "10.213.40.0/24"
)

var backendImage struct {
	once sync.Once
	ref  string
	err  error
}

// ensureBackendImage builds e2e/backend statically and loads it as an image, once per run and
// cached in the engine by the binary's hash: nothing is pulled.
func ensureBackendImage(t *testing.T) string {
	t.Helper()
	backendImage.once.Do(func() { backendImage.ref, backendImage.err = buildBackendImage() })
	if backendImage.err != nil {
		t.Fatalf("backend image: %v", backendImage.err)
	}
	return backendImage.ref
}

func buildBackendImage() (string, error) { return testimage.Build("./backend", "avie2e/backend") }

// ensureBackendNet creates the backends' network once; it stays for later runs.
func ensureBackendNet(t *testing.T) {
	t.Helper()
	if _, err := execCommand("docker", "network", "inspect", backendNet); err == nil {
		return
	}
	if out, err := execCommand("docker", "network", "create", "--subnet", backendSubnet, backendNet); err != nil {
		t.Fatalf("create the backends' network %s (%s): %v %s", backendNet, backendSubnet, err, out)
	}
}

// startBackend runs a backend container named avie2e-<name> at ip on the backends' network,
// with no capabilities, a read-only root and an unprivileged user; it is removed when the test
// ends. It answers on port 8080.
func startBackend(t *testing.T, name, ip string) {
	t.Helper()
	ref := ensureBackendImage(t)
	ensureBackendNet(t)
	container := "avie2e-" + name
	execCommand("docker", "rm", "-f", container)
	out, err := execCommand("docker", "run", "-d", "--name", container, "--hostname", name, "--network", backendNet, "--ip", ip,
		"--cap-drop", "ALL", "--read-only", "--user", "65534:65534", ref)
	if err != nil {
		t.Fatalf("start backend %s: %v %s", name, err, out)
	}
	t.Cleanup(func() { execCommand("docker", "rm", "-f", container) })
}

// docker runs a docker command the test needs to succeed.
func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := execCommand("docker", args...)
	if err != nil {
		t.Fatalf("docker %s: %v %s", strings.Join(args, " "), err, out)
	}
	return out
}
