package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avi-init/avi-init/installer/containerspec"
	"github.com/avi-init/avi-init/internal/version"
	"github.com/avi-init/avi-init/model/contract"
)

// capture runs avi-init's main logic with args, returning its exit code and what it printed.
func capture(t *testing.T, args ...string) (int, string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = f, f
	code := run(context.Background(), args)
	os.Stdout, os.Stderr = stdout, stderr
	out, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

// The verbs that act on nothing: exit codes (0 done, 1 failed, 2 misused) and what they say.
// Verbs that would install or touch the engine are tested end to end (e2e/).
func TestRun(t *testing.T) {
	empty := t.TempDir()
	for _, tt := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"version"}, 0, version.Version},
		{[]string{"--help"}, 0, "--controller"},
		{[]string{"--help"}, 0, "--image-tar FILE "},
		{[]string{"status", "--help"}, 0, "--output"},
		{[]string{"status", "--output", "yaml"}, 2, "want text or json"},
		{[]string{"uninstall", "--help"}, 0, "--purge"},
		{[]string{"uninstall", "stray"}, 2, `unexpected argument "stray"`},
		{[]string{"image"}, 2, "usage: avi-init image save"},
		{[]string{"image", "save", "--help"}, 0, "--role"},
		{[]string{"image", "save", "--role", "nope", "-o", filepath.Join(empty, "x.tar")}, 2, "nope"},
		{[]string{"controller", "--help"}, 0, "--https-port"},
		{[]string{"controller", "--no-such-flag"}, 2, "no-such-flag"},
		{[]string{"se", "--help"}, 0, "--join-token-file"},
		{[]string{"se", "--no-such-flag"}, 2, "no-such-flag"},
		{[]string{"probe"}, 2, "usage: avi-init probe controller|se"},
		{[]string{"probe", "se", "--bogus"}, 2, "bogus"},
		{[]string{"probe", "se", "--data", empty}, 1, "probe SE"},
		{[]string{"probe", "controller", "--data", empty}, 1, "probe controller: read its certificate"},
		{[]string{"supervise"}, 2, "usage: avi-init supervise controller|se"},
		{[]string{"supervise", "both"}, 2, "usage: avi-init supervise controller|se"},
		{[]string{"-c", "-cc", "not-a-number"}, 2, "not-a-number"},
	} {
		code, out := capture(t, tt.args...)
		if code != tt.code || !strings.Contains(out, tt.says) {
			t.Errorf("avi-init %q: exit %d, want %d saying %q\n%s", tt.args, code, tt.code, tt.says, out)
		}
	}
}

// A verb's --help shows that verb's usage, not the installer's.
func TestVerbHelpIsItsOwn(t *testing.T) {
	installerUsage := "avi-init installs the Avi controller"
	for _, args := range [][]string{
		{"status", "--help"}, {"uninstall", "--help"}, {"image", "save", "--help"},
		{"controller", "--help"}, {"se", "--help"}, {"probe", "se", "--help"}, {"probe", "controller", "--help"},
	} {
		code, out := capture(t, args...)
		if code != 0 || strings.Contains(out, installerUsage) {
			t.Errorf("avi-init %q: exit %d, want 0 without the installer's usage\n%s", args, code, out)
		}
	}
	if code, out := capture(t, "--help"); code != 0 || !strings.Contains(out, installerUsage) {
		t.Errorf("avi-init --help: exit %d, want 0 with the installer's usage\n%s", code, out)
	}
}

// The supervisor takes its settings from the env file systemd loads; without them it says so.
func TestSuperviseNeedsItsSettings(t *testing.T) {
	for _, kv := range (containerspec.Settings{}).Env() {
		t.Setenv(kv.Key, "")
		os.Unsetenv(kv.Key)
	}
	code, out := capture(t, "supervise", "controller")
	if code != 1 || !strings.Contains(out, "read settings from the environment") {
		t.Errorf("supervise with no settings: exit %d\n%s", code, out)
	}
	s := containerspec.Settings{Role: "se", Image: "avi-init/se:1", Cores: 1, MemoryMB: 512, DataDir: "/opt/avi/se/data", ControllerIP: "192.0.2.1", SysintPort: 8443}
	for _, kv := range s.Env() {
		t.Setenv(kv.Key, kv.Value)
	}
	code, out = capture(t, "supervise", "controller")
	if code != 1 || !strings.Contains(out, "the environment holds se settings") {
		t.Errorf("supervise controller with SE settings: exit %d\n%s", code, out)
	}
}

// A runtime started by hand listens where an installed one would.
func TestRuntimeFlagDefaults(t *testing.T) {
	cfg, err := runtimeFlags("avi-init controller", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != containerspec.DataMount || cfg.HTTPSPort != contract.DefaultHTTPSPort || cfg.HTTPPort != contract.DefaultHTTPPort || cfg.SysintPort != contract.DefaultSysintPort || cfg.DiskGB != 10 {
		t.Errorf("defaults %+v", cfg)
	}
	cfg, err = runtimeFlags("avi-init controller", []string{"--https-port", "9443", "--ip", "192.0.2.10", "--dns-port", "5353"})
	if err != nil || cfg.HTTPSPort != 9443 || cfg.IP != "192.0.2.10" {
		t.Errorf("given flags: %+v, %v", cfg, err)
	}
}
