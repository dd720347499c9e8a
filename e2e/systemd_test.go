package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/avi-init/avi-init/e2e/systemdhost"
	"github.com/avi-init/avi-init/templates"
)

// TestSystemdUnit installs under a real systemd (a container booting systemd from a Debian root
// file system, with the engine's socket mounted): the unit is installed, enabled and started over
// D-Bus, and turns active only once the controller answers.
func TestSystemdUnit(t *testing.T) {
	need(t)
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "controller-data")
	host := systemdhost.New(t, systemdhost.Options{Binds: []string{dir}})
	t.Cleanup(func() {
		// The supervisor stops its container when the unit stops; make sure nothing is left.
		host.Exec(ctx, "systemctl", "stop", "avise", "avicontroller")
		run(t, "uninstall")
	})
	if err := host.CopyIn(aviInit, "/root/avi-init"); err != nil {
		t.Fatal(err)
	}
	sh := func(args ...string) (string, int) {
		t.Helper()
		out, code, err := host.Exec(ctx, args...)
		if err != nil {
			t.Fatalf("exec %v: %v", args, err)
		}
		return strings.TrimSpace(out), code
	}
	p := freePorts(t, 3)
	// The controller and an SE beside it; the controller's address is loopback so the SE's
	// traffic stays on this machine.
	install := []string{"/root/avi-init", "-c", "-cc", "1", "-cm", "1", "-cd", "1", "-i", "127.0.0.1", "-cdp", data,
		"-s", "-sc", "1", "-sm", "512", "-sdp", filepath.Join(dir, "se-data"),
		"--https-port", strconv.Itoa(p[0]), "--http-port", strconv.Itoa(p[1]), "-sysint", strconv.Itoa(p[2])}

	start := time.Now()
	out, code := sh(install...)
	if code != 0 {
		t.Fatalf("install under systemd: exit %d\n%s", code, out)
	}
	t.Logf("install under systemd took %s", time.Since(start).Round(time.Millisecond))
	for _, want := range []string{"done daemon-reload systemd", "done enable avicontroller.service", "done start avicontroller.service", "done enable avise.service", "done start avise.service"} {
		if !strings.Contains(out, want) {
			t.Errorf("install output lacks %q:\n%s", want, out)
		}
	}
	if got, _ := sh("systemctl", "is-enabled", "avicontroller"); got != "enabled" {
		t.Errorf("is-enabled = %q", got)
	}
	for _, unit := range []string{"avicontroller", "avise"} {
		if got, _ := sh("systemctl", "is-active", unit); got != "active" {
			t.Errorf("%s is-active = %q", unit, got)
		}
		if out, code := sh("systemd-analyze", "verify", "/etc/systemd/system/"+unit+".service"); code != 0 {
			t.Errorf("systemd-analyze verify of the installed %s unit: exit %d\n%s", unit, code, out)
		}
	}
	client := controllerClient(t, data)
	initialData(t, client, p[0])
	if out, _ := sh("journalctl", "-u", "avicontroller", "--no-pager"); !strings.Contains(out, "controller ready") {
		t.Errorf("the journal lacks the container's log:\n%s", out)
	}
	c := inspect(t, "avicontroller")

	// Re-run: nothing changes, nothing restarts.
	if out, code := sh(install...); code != 0 || !strings.Contains(out, "Nothing to change") {
		t.Errorf("re-run under systemd: exit %d\n%s", code, out)
	}
	if inspect(t, "avicontroller")["Id"] != c["Id"] {
		t.Error("re-run under systemd replaced the container")
	}

	// Stop: the supervisor stops and removes the container.
	if out, code := sh("systemctl", "stop", "avicontroller"); code != 0 {
		t.Fatalf("systemctl stop: %s", out)
	}
	if inspect(t, "avicontroller") != nil {
		t.Error("systemctl stop left the container")
	}

	// Start without waiting, and watch: whenever systemd says active, the controller answers.
	// A controller not listening is refused at once; the client's timeout only allows for a
	// busy machine's slow handshake.
	sh("systemctl", "start", "--no-block", "avicontroller")
	states := map[string]int{}
	deadline := time.Now().Add(90 * time.Second)
	for {
		state, _ := sh("systemctl", "is-active", "avicontroller")
		states[state]++
		if state == "active" {
			resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/api/initial-data", p[0]))
			if err != nil {
				t.Fatalf("systemd says active but the controller does not answer: %v", err)
			}
			resp.Body.Close()
			break
		}
		if state == "failed" || time.Now().After(deadline) {
			out, _ := sh("journalctl", "-u", "avicontroller", "--no-pager")
			t.Fatalf("unit did not become active (states seen %v):\n%s", states, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if states["activating"] == 0 {
		t.Errorf("never saw the unit activating before active (states %v): readiness is not awaited", states)
	}
	t.Logf("unit states seen while starting: %v", states)

	// The container dies: systemd restarts the unit, which brings a new one.
	old := inspect(t, "avicontroller")["Id"]
	if out, err := execCommand("docker", "rm", "-f", "avicontroller"); err != nil {
		t.Fatalf("docker rm: %v %s", err, out)
	}
	waitFor(t, "systemd to restart the controller", 60*time.Second, func() bool {
		c := inspect(t, "avicontroller")
		return c != nil && c["Id"] != old && field(c, "State", "Running") == true
	})
	waitFor(t, "the restarted controller to answer", 30*time.Second, func() bool {
		return answers(client, fmt.Sprintf("https://127.0.0.1:%d/api/initial-data", p[0]))
	})

	// The unit is active once its supervisor has seen the controller answer, a moment after the
	// test does.
	waitFor(t, "avicontroller.service to be active again", 30*time.Second, func() bool {
		out, code := sh("systemctl", "is-active", "avicontroller")
		return code == 0 && strings.TrimSpace(out) == "active"
	})
	if out, code := sh("/usr/local/sbin/avi-init", "status"); code != 0 || !strings.Contains(out, "avicontroller.service active (enabled: true)") ||
		!strings.Contains(out, "avise.service active (enabled: true)") || strings.Count(out, "answering: yes") != 2 {
		t.Errorf("status under systemd: exit %d\n%s", code, out)
	}
	if out, code := sh("/usr/local/sbin/avi-init", "uninstall"); code != 0 {
		t.Fatalf("uninstall under systemd: exit %d\n%s", code, out)
	}
	if _, code := sh("test", "-e", "/etc/systemd/system/avicontroller.service"); code == 0 {
		t.Error("uninstall left the unit file")
	}
	if inspect(t, "avicontroller") != nil || inspect(t, "avise") != nil {
		t.Error("uninstall under systemd left a container")
	}
}

// TestRenderedUnitVerifies runs systemd's own checker on the unit the installer renders, with
// the binary and env file it names in place.
func TestRenderedUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		systemdhost.Missing(t, fmt.Errorf("systemd-analyze (apt-get install systemd): %w", err))
	}
	dir := t.TempDir()
	u := templates.Unit{
		Role:         "controller",
		Description:  "Avi Vantage Controller (avi-init)",
		Binary:       filepath.Join(dir, "avi-init"),
		EnvFile:      filepath.Join(dir, "avicontroller.env"),
		StartTimeout: 120,
	}
	if err := os.WriteFile(u.Binary, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(u.EnvFile, []byte("AVI_ROLE=controller\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	text, err := templates.RenderUnit(u)
	if err != nil {
		t.Fatal(err)
	}
	unitPath := filepath.Join(dir, "avicontroller.service")
	if err := os.WriteFile(unitPath, text, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unitPath).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
