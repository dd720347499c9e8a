package installer

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/avi-init/avi-init/installer/containerspec"
	"github.com/avi-init/avi-init/model/contract"
)

func TestParseStatus(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "text"},
		{[]string{"--output", "json"}, "json"},
		{[]string{"--output=text"}, "text"},
	} {
		if got, err := ParseStatus(tt.args); err != nil || got != tt.want {
			t.Errorf("ParseStatus(%q) = %q, %v; want %q", tt.args, got, err, tt.want)
		}
	}
	var usage *UsageError
	if _, err := ParseStatus([]string{"--output", "yaml"}); !errors.As(err, &usage) || !strings.Contains(err.Error(), "status: --output \"yaml\"") {
		t.Errorf("ParseStatus(--output yaml) = %v, want a usage error naming the format", err)
	}
	if _, err := ParseStatus([]string{"--verbose"}); !errors.As(err, &usage) {
		t.Errorf("ParseStatus(--verbose) = %v, want a usage error", err)
	}
	if _, err := ParseStatus([]string{"--help"}); !errors.Is(err, pflag.ErrHelp) {
		t.Errorf("ParseStatus(--help) = %v, want pflag.ErrHelp", err)
	}
}

func TestStatus(t *testing.T) {
	h := newHarness(t, false)
	status := func(format string) (string, bool) {
		t.Helper()
		h.out.Reset()
		healthy, err := Status(context.Background(), h.env, format)
		if err != nil {
			t.Fatalf("Status(%s): %v", format, err)
		}
		return h.out.String(), healthy
	}

	// Nothing installed is not healthy.
	out, healthy := status("text")
	if healthy || out != "controller: not installed\nse: not installed\n" {
		t.Errorf("before install: healthy %v, output:\n%s", healthy, out)
	}

	if out, err := h.install(t, "-c", "-cc", "1", "-cm", "1", "-i"); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	// The controller answers; the SE, not installed, does not count against health.
	out, healthy = status("text")
	for _, want := range []string{"controller: installed (avi-init/controller:", "  container: avicontroller running", "  answering: yes, https://192.0.2.10/\n", "se: not installed\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	if !healthy {
		t.Errorf("installed and answering: healthy false\n%s", out)
	}
	// A controller of a cluster: its state and this node's role.
	h.env.Cluster = func(context.Context, containerspec.Settings) (contract.ClusterPing, error) {
		return contract.ClusterPing{Name: "192.0.2.10", Role: "CLUSTER_FOLLOWER", ClusterState: "CLUSTER_UP_HA_ACTIVE"}, nil
	}
	if out, _ = status("text"); !strings.Contains(out, "  cluster:   CLUSTER_UP_HA_ACTIVE, this node (192.0.2.10) CLUSTER_FOLLOWER\n") {
		t.Errorf("status output lacks the cluster line:\n%s", out)
	}

	out, healthy = status("json")
	var doc struct {
		Roles   []RoleStatus `json:"roles"`
		Healthy bool         `json:"healthy"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("status --output json is not JSON: %v\n%s", err, out)
	}
	if !doc.Healthy || !healthy || len(doc.Roles) != 2 || doc.Roles[0].Role != "controller" || !doc.Roles[0].Answering ||
		doc.Roles[1].Role != "se" || doc.Roles[1].Installed || doc.Roles[1].State != "absent" {
		t.Errorf("status json: %+v", doc)
	}

	// A stopped controller is installed but not answering: not healthy.
	h.engine.containers["avicontroller"].Running, h.engine.containers["avicontroller"].Status = false, "exited"
	out, healthy = status("text")
	if healthy || !strings.Contains(out, "  answering: no\n") {
		t.Errorf("stopped controller: healthy %v, output:\n%s", healthy, out)
	}
}

func TestControllerURL(t *testing.T) {
	for _, tt := range []struct {
		ip   string
		port int
		want string
	}{
		{"192.0.2.10", 443, "https://192.0.2.10/"},
		{"192.0.2.10", 8443, "https://192.0.2.10:8443/"},
		{"2001:db8::1", 443, "https://[2001:db8::1]/"},
		{"2001:db8::1", 9443, "https://[2001:db8::1]:9443/"},
	} {
		if got := controllerURL(tt.ip, tt.port); got != tt.want {
			t.Errorf("controllerURL(%s, %d) = %q, want %q", tt.ip, tt.port, got, tt.want)
		}
	}
}
