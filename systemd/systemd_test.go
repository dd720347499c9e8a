package systemd

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Running is sd_booted(3): /run/systemd/system is a directory.
func TestRunning(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(root string) error
		want  bool
	}{
		{"no /run/systemd", func(string) error { return nil }, false},
		{"directory", func(root string) error { return os.MkdirAll(filepath.Join(root, "run/systemd/system"), 0o755) }, true},
		{"a file of that name", func(root string) error {
			if err := os.MkdirAll(filepath.Join(root, "run/systemd"), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(root, "run/systemd/system"), nil, 0o644)
		}, false},
		{"a symlink to a directory", func(root string) error {
			if err := os.MkdirAll(filepath.Join(root, "elsewhere"), 0o755); err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Join(root, "run/systemd"), 0o755); err != nil {
				return err
			}
			return os.Symlink(filepath.Join(root, "elsewhere"), filepath.Join(root, "run/systemd/system"))
		}, false},
	} {
		root := t.TempDir()
		if err := tt.setup(root); err != nil {
			t.Fatal(err)
		}
		if got := Running(root); got != tt.want {
			t.Errorf("%s: Running = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// NotifyReady sends READY=1 to the socket systemd names, and reports false without one.
func TestNotifyReady(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if sent, err := NotifyReady(); sent || err != nil {
		t.Errorf("without NOTIFY_SOCKET: %v, %v; want false, nil", sent, err)
	}
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	if sent, err := NotifyReady(); !sent || err != nil {
		t.Fatalf("with NOTIFY_SOCKET: %v, %v; want true, nil", sent, err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Errorf("systemd received %q, %v; want READY=1", buf[:n], err)
	}
}

// A unit job succeeds only when systemd reports it done, as systemctl without --no-block.
func TestJob(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tt := range []struct {
		name   string
		ctx    context.Context
		result string // what systemd reports; empty: nothing
		err    error  // the call's own error
		want   string // in the error; empty: success
	}{
		{"done", context.Background(), "done", nil, ""},
		{"failed", context.Background(), "failed", nil, "start avicontroller.service: job failed"},
		{"refused", context.Background(), "", errors.New("unit not found"), "start avicontroller.service: unit not found"},
		{"gave up waiting", canceled, "", nil, "context canceled"},
	} {
		call := func(_ context.Context, unit, mode string, done chan<- string) (int, error) {
			if unit != "avicontroller.service" || mode != "replace" {
				t.Errorf("%s: call(%q, %q)", tt.name, unit, mode)
			}
			if tt.result != "" {
				done <- tt.result
			}
			return 1, tt.err
		}
		err := (&Bus{}).job(tt.ctx, "start", "avicontroller.service", call)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: err %v, want one saying %q", tt.name, err, tt.want)
		}
	}
}
