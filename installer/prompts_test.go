//go:build !windows

package installer_test

import (
	"strings"
	"testing"
	"time"

	expect "github.com/Netflix/go-expect"
	pseudotty "github.com/creack/pty"
	"github.com/hinshun/vt10x"

	"github.com/avi-init/avi-init/installer"
	"github.com/avi-init/avi-init/internal/syncbuf"
)

// promptHost is the host the prompt tests size against: 2 CPUs, 8 GiB of memory (so the
// controller may have (8192-512)/1024 = 7 GB, floored), one ext4 root with 50 GiB free.
func promptHost() *installer.Host {
	return &installer.Host{
		CPUs:        2,
		MemoryBytes: 8 << 30,
		Mounts: []installer.Mount{
			{Device: "/dev/sda1", Path: "/", FSType: "ext4", FreeBytes: 50 << 30, TotalBytes: 100 << 30},
		},
		SystemdRunning: true,
		DefaultIP:      "192.0.2.10",
	}
}

type resolveResult struct {
	req installer.Request
	err error
}

// promptDialogue runs Resolve on a pseudo-terminal, as survey's own tests drive their prompts:
// a go-expect console whose output also feeds a vt10x terminal emulator (which answers the
// cursor queries survey sends, through a second pty), while operator plays the person at the
// keyboard. It returns Resolve's result and everything written to the terminal.
func promptDialogue(t *testing.T, operator func(c *expect.Console)) (installer.Request, string, error) {
	t.Helper()
	opts, err := installer.ParseInstall(nil)
	if err != nil {
		t.Fatalf("ParseInstall(nil): %v", err)
	}
	if opts.Unattended() {
		t.Fatalf("ParseInstall(nil) is unattended; want interactive")
	}

	ptm, pts, err := pseudotty.Open()
	if err != nil {
		t.Fatalf("open pseudo-terminal: %v", err)
	}
	term := vt10x.New(vt10x.WithWriter(pts))
	screen := &syncbuf.Buffer{}
	c, err := expect.NewConsole(
		expect.WithStdin(ptm),
		expect.WithStdout(term, screen),
		expect.WithCloser(ptm, pts),
		expect.WithDefaultTimeout(10*time.Second),
	)
	if err != nil {
		t.Fatalf("new console: %v", err)
	}
	defer c.Close()

	done := make(chan resolveResult, 1)
	go func() {
		r, err := installer.Resolve(opts, promptHost(), installer.Terminal{In: c.Tty(), Out: c.Tty(), Err: c.Tty()})
		done <- resolveResult{r, err}
	}()

	operator(c)

	// Keep reading the terminal after the last answer: survey still asks the emulator where
	// the cursor is, and only output that is read reaches the emulator.
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		c.ExpectEOF()
	}()
	var res resolveResult
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		c.Close() // unblocks the prompt so the goroutine ends
		t.Fatalf("Resolve did not return after the last answer; terminal showed:\n%s", screen.String())
	}
	c.Tty().Close() // the reader sees EOF
	<-drained
	return res.req, screen.String(), res.err
}

// expectOn waits for s on the terminal and fails the test (with what was shown) when it does
// not come within the console's timeout.
func expectOn(t *testing.T, c *expect.Console, s string) {
	t.Helper()
	if out, err := c.ExpectString(s); err != nil {
		t.Fatalf("waiting for %q: %v; terminal showed:\n%s", s, err, out)
	}
}

func sendLine(t *testing.T, c *expect.Console, s string) {
	t.Helper()
	if _, err := c.SendLine(s); err != nil {
		t.Fatalf("send %q: %v", s, err)
	}
}

// The prompt script of DESIGN.md, in order, as an operator answers it: Enter for defaults, a
// bad answer that is refused and asked again, then a good one.
func TestPromptScript(t *testing.T) {
	const (
		qController = "Do you want to run Avi Controller on this Host [y/n]"
		qSE         = "Do you want to run Avi SE on this Host [y/n]"
		qCores      = "Enter The Number Of Cores For Avi Controller. Range [1, 2]"
		qMemory     = "Please Enter Memory (in GB) for Avi Controller. Range [1, 7]"
		qDir        = "Please enter directory path for Avi Controller Config (Default [/opt/avi/controller/data])"
		qDisk       = "Please enter disk size (in GB) for Avi Controller Config (Default [10])"
		qMetrics    = "Do you have a separate partition for Avi Controller Metrics?"
		qLogs       = "Do you have a separate partition for Avi Controller Client Logs?"
		qIP         = "Please enter Controller IP (Default [192.0.2.10])"

		errYesNo = "answer y or n"
		errCores = "99 is out of range: this host allows [1, 2]"
		errDir   = `"srv/avi" is not an absolute path`
		errIP    = `"not-an-ip" is not an IP address`
	)
	var gotErrs []string
	req, screen, err := promptDialogue(t, func(c *expect.Console) {
		expectOn(t, c, qController)
		expectOn(t, c, "(Default [y])")
		sendLine(t, c, "maybe")
		expectOn(t, c, errYesNo)
		gotErrs = append(gotErrs, errYesNo)
		expectOn(t, c, qController) // asked again
		sendLine(t, c, "")          // Enter: the default, y

		expectOn(t, c, qSE)
		expectOn(t, c, "(Default [n])")
		sendLine(t, c, "n")

		expectOn(t, c, qCores)
		expectOn(t, c, "(Default [2])") // 4 clamped to the host's 2
		sendLine(t, c, "99")
		expectOn(t, c, errCores)
		gotErrs = append(gotErrs, errCores)
		expectOn(t, c, qCores)
		sendLine(t, c, "1")

		expectOn(t, c, qMemory)
		expectOn(t, c, "(Default [7])") // 8 clamped to the host's 7
		sendLine(t, c, "")

		expectOn(t, c, qDir)
		sendLine(t, c, "srv/avi")
		expectOn(t, c, errDir)
		gotErrs = append(gotErrs, errDir)
		expectOn(t, c, qDir)
		sendLine(t, c, "/srv/avi/data/")

		expectOn(t, c, qDisk)
		sendLine(t, c, "")

		expectOn(t, c, qMetrics)
		sendLine(t, c, "")
		expectOn(t, c, qLogs)
		sendLine(t, c, "")

		expectOn(t, c, qIP)
		sendLine(t, c, "not-an-ip")
		expectOn(t, c, errIP)
		gotErrs = append(gotErrs, errIP)
		expectOn(t, c, qIP)
		sendLine(t, c, "")
	})
	if err != nil {
		t.Fatalf("Resolve: %v; terminal showed:\n%s", err, screen)
	}

	want := installer.Request{
		Controller:         true,
		SE:                 false,
		ControllerCores:    1,
		ControllerMemoryGB: 7,
		ControllerDiskGB:   10,
		DataDir:            "/srv/avi/data", // cleaned: no trailing slash
		ControllerIP:       "192.0.2.10",
		HTTPSPort:          443,
		HTTPPort:           80,
		DNSPort:            53,
		SysintPort:         8443,
	}
	if req != want {
		t.Errorf("Resolve = %+v\nwant      %+v", req, want)
	}
	for _, e := range gotErrs {
		if !strings.Contains(screen, "Sorry, your reply was invalid: "+e) {
			t.Errorf("terminal does not show the refusal %q", e)
		}
	}
	// The questions come in DESIGN.md's order.
	last := -1
	for _, q := range []string{qController, qSE, qCores, qMemory, qDir, qDisk, qMetrics, qLogs, qIP} {
		i := strings.Index(screen, q)
		if i < last {
			t.Errorf("%q asked out of order", q)
		}
		last = i
	}
}

// An operator who runs the controller and an SE here is asked the SE's questions too, with
// ranges made of what the controller leaves.
func TestPromptControllerAndSE(t *testing.T) {
	req, screen, err := promptDialogue(t, func(c *expect.Console) {
		expectOn(t, c, "Do you want to run Avi Controller on this Host [y/n]")
		sendLine(t, c, "yes")
		expectOn(t, c, "Do you want to run Avi SE on this Host [y/n]")
		sendLine(t, c, "y")
		for _, q := range []string{
			"Enter The Number Of Cores For Avi Controller. Range [1, 1]", // one of the two cores is the SE's
			"Please Enter Memory (in GB) for Avi Controller. Range [1, 6]",
			"Please enter directory path for Avi Controller Config (Default [/opt/avi/controller/data])",
			"Please enter disk size (in GB) for Avi Controller Config (Default [10])",
			"Do you have a separate partition for Avi Controller Metrics?",
			"Do you have a separate partition for Avi Controller Client Logs?",
			"Please enter Controller IP (Default [192.0.2.10])",
			"Enter The Number Of Cores For Avi SE. Range [1, 1]",
		} {
			expectOn(t, c, q)
			sendLine(t, c, "")
		}
		// 8 GiB - 512 MB for the host - 6 GB for the controller.
		expectOn(t, c, "Please Enter Memory (in MB) for Avi SE. Range [512, 1536]")
		sendLine(t, c, "4096")
		expectOn(t, c, "4096 is out of range")
		sendLine(t, c, "1024")
		expectOn(t, c, "Please enter directory path for Avi SE data (Default [/opt/avi/se/data])")
		sendLine(t, c, "")
	})
	if err != nil {
		t.Fatalf("Resolve: %v; terminal showed:\n%s", err, screen)
	}
	if !req.Controller || !req.SE || req.ControllerCores != 1 || req.ControllerMemoryGB != 6 || req.SECores != 1 || req.SEMemoryMB != 1024 ||
		req.SEDataDir != "/opt/avi/se/data" || req.MgmtIP != "192.0.2.10" {
		t.Errorf("Resolve = %+v; want the controller and an SE sharing the host", req)
	}
}
