package installer

import (
	"os/exec"
	"strings"
	"testing"
)

// The installer never imports a runtime: it would link their store, metrics and netlink code
// (and their bugs) into every install. What it shares with them is model/contract.
func TestInstallerDoesNotLinkTheRuntimes(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list -deps ./...: %v", err)
	}
	forbidden := []string{
		"github.com/avi-init/avi-init/runtime/",
		"go.etcd.io/bbolt",
		"github.com/vishvananda/netlink",
		"github.com/prometheus/client_golang",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("the installer links %s", dep)
			}
		}
	}
}
