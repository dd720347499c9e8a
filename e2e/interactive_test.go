package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	expect "github.com/Netflix/go-expect"
	"github.com/creack/pty"
	"github.com/hinshun/vt10x"

	"github.com/avi-init/avi-init/internal/syncbuf"
)

// TestInteractiveInstall runs `avi-init` bare on a terminal and answers the Avi script's
// questions as an operator would: a bad answer is asked again, Enter takes a default; then the
// summary is printed and the controller installed. Interactive mode uses the standard ports, so
// 443, 80 and 8443 must be free.
func TestInteractiveInstall(t *testing.T) {
	need(t)
	data := filepath.Join(t.TempDir(), "ctl")
	t.Cleanup(func() { run(t, "uninstall", "--purge", "--yes") })

	ptm, pts, err := pty.Open()
	if err != nil {
		t.Fatalf("open pseudo-terminal: %v", err)
	}
	screen := &syncbuf.Buffer{}
	c, err := expect.NewConsole(
		expect.WithStdin(ptm),
		expect.WithStdout(vt10x.New(vt10x.WithWriter(pts)), screen),
		expect.WithCloser(ptm, pts),
		expect.WithDefaultTimeout(20*time.Second),
	)
	if err != nil {
		t.Fatalf("console: %v", err)
	}
	defer c.Close()
	cmd := exec.Command(aviInit)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Tty(), c.Tty(), c.Tty()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	expectOn := func(s string) {
		t.Helper()
		if out, err := c.ExpectString(s); err != nil {
			t.Fatalf("waiting for %q: %v\nscreen:\n%s", s, err, out)
		}
	}
	answer := func(question, reply string) {
		t.Helper()
		expectOn(question)
		if _, err := c.SendLine(reply); err != nil {
			t.Fatal(err)
		}
	}
	cpus := strings.Count(string(must(os.ReadFile("/proc/cpuinfo"))), "processor\t:")
	answer("Do you want to run Avi Controller on this Host [y/n]", "")
	answer("Do you want to run Avi SE on this Host [y/n]", "n")
	answer("Enter The Number Of Cores For Avi Controller. Range [1, ", "99")
	expectOn("out of range")
	if _, err := c.SendLine("1"); err != nil {
		t.Fatal(err)
	}
	answer("Please Enter Memory (in GB) for Avi Controller. Range [1, ", "1")
	answer("Please enter directory path for Avi Controller Config (Default [", data)
	answer("Please enter disk size (in GB) for Avi Controller Config (Default [", "1")
	answer("separate partition for Avi Controller Metrics", "")
	answer("separate partition for Avi Controller Client Logs", "")
	answer("Please enter Controller IP (Default [", "")
	expectOn("Controller Cores : 1")
	expectOn("The controller is ready")

	go c.ExpectEOF()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("interactive install: %v\nscreen:\n%s", err, screen)
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("interactive install did not finish\nscreen:\n%s", screen)
	}
	if !strings.Contains(screen.String(), "[1, "+strconv.Itoa(cpus)+"]") {
		t.Errorf("the cores range is not computed from this host's %d CPUs:\n%s", cpus, screen)
	}
	initialData(t, controllerClient(t, data), 443)
	if got := field(inspect(t, "avicontroller"), "HostConfig", "NanoCpus"); got != float64(1e9) {
		t.Errorf("container NanoCpus %v, want 1e9 as answered", got)
	}
}
