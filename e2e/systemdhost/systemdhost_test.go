package systemdhost

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMirrorFrom(t *testing.T) {
	dir := t.TempDir()
	oneLine := filepath.Join(dir, "sources.list")
	deb822 := filepath.Join(dir, "debian.sources")
	if err := os.WriteFile(oneLine, []byte("# c\ndeb [arch=amd64] http://ftp.example.org/debian/ bookworm main\ndeb http://security.debian.org/debian-security bookworm-security main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(deb822, []byte("Types: deb\nURIs: http://deb.debian.org/debian-security\n\nTypes: deb\nURIs: http://mirror.example.org/debian\nSuites: bookworm\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, want := mirrorFrom(oneLine), "http://ftp.example.org/debian/"; got != want {
		t.Errorf("one-line format: got %q, want %q", got, want)
	}
	if got, want := mirrorFrom(deb822), "http://mirror.example.org/debian"; got != want {
		t.Errorf("deb822 format: got %q, want %q", got, want)
	}
}

// TestRecipeTag: every part of a recipe goes into its image's tag, so that a changed recipe
// never reuses an image built from the old one.
func TestRecipeTag(t *testing.T) {
	base := func() Recipe {
		return Recipe{Repo: "avi-init-e2e/test", Packages: []string{"systemd"}, Masked: []string{"a.service"},
			Files: []File{{Path: "/etc/x", Mode: 0o644, Data: []byte("x")}}, Run: [][]string{{"true"}}}
	}
	tag := base().Tag()
	if !strings.HasPrefix(tag, "avi-init-e2e/test:") || base().Tag() != tag {
		t.Fatalf("Tag() = %q, then %q: want repo:hash, the same for the same recipe", tag, base().Tag())
	}
	changes := map[string]func(*Recipe){
		"packages":   func(r *Recipe) { r.Packages = append(r.Packages, "sudo") },
		"masked":     func(r *Recipe) { r.Masked = nil },
		"run":        func(r *Recipe) { r.Run = [][]string{{"false"}} },
		"file data":  func(r *Recipe) { r.Files[0].Data = []byte("y") },
		"file mode":  func(r *Recipe) { r.Files[0].Mode = 0o600 },
		"file owner": func(r *Recipe) { r.Files[0].UID = 1000 },
		"file path":  func(r *Recipe) { r.Files[0].Path = "/etc/y" },
		"run split":  func(r *Recipe) { r.Run = [][]string{{"tr", "ue"}} },
	}
	for name, change := range changes {
		r := base()
		change(&r)
		if got := r.Tag(); got == tag {
			t.Errorf("a recipe with other %s has the same tag %s", name, got)
		}
	}
}

func TestOwnerGone(t *testing.T) {
	self, err := processOwner(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if ownerGone(self) {
		t.Errorf("ownerGone(%q) for this very process", self)
	}
	pid, _, _ := strings.Cut(self, "-")
	for _, owner := range []string{pid + "-1", "999999999-1"} {
		if !ownerGone(owner) {
			t.Errorf("ownerGone(%q) = false: wrong start time or no such process", owner)
		}
	}
	if ownerGone("not-an-owner") {
		t.Error("an unreadable owner label counts as gone; it must be left alone")
	}
}

func TestHostBootsSystemd(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a container")
	}
	h := New(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	mustExec := func(args ...string) string {
		t.Helper()
		out, code, err := h.Exec(ctx, args...)
		if err != nil || code != 0 {
			t.Fatalf("%s: exit %d, err %v:\n%s", strings.Join(args, " "), code, err, out)
		}
		return strings.TrimSpace(out)
	}

	if state := mustExec("systemctl", "is-system-running"); state != "running" {
		failed, _, _ := h.Exec(ctx, "systemctl", "--failed", "--no-pager")
		t.Errorf("is-system-running = %q, want running; failed units:\n%s", state, failed)
	}
	if pid1 := mustExec("cat", "/proc/1/comm"); pid1 != "systemd" {
		t.Errorf("PID 1 is %q, want systemd", pid1)
	}

	// A Type=notify unit must stay "activating" until it reports READY=1:
	// this is what the installer relies on for its own units.
	unit := `[Unit]
Description=systemdhost notify probe

[Service]
Type=notify
NotifyAccess=all
ExecStart=/bin/sh -c 'sleep 2; systemd-notify --ready; exec sleep infinity'
`
	src := filepath.Join(t.TempDir(), "probe.service")
	if err := os.WriteFile(src, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.CopyIn(src, "/etc/systemd/system/probe.service"); err != nil {
		t.Fatal(err)
	}
	mustExec("systemctl", "daemon-reload")
	mustExec("systemctl", "start", "--no-block", "probe.service")
	if out, _, _ := h.Exec(ctx, "systemctl", "is-active", "probe.service"); strings.TrimSpace(out) != "activating" {
		t.Errorf("before READY=1: is-active = %q, want activating", strings.TrimSpace(out))
	}
	began := time.Now()
	// A blocking start returns once the job completes, i.e. on READY=1.
	mustExec("systemctl", "start", "probe.service")
	if state := mustExec("systemctl", "is-active", "probe.service"); state != "active" {
		t.Errorf("after READY=1: is-active = %q, want active", state)
	}
	t.Logf("probe.service ready after %s", time.Since(began).Round(100*time.Millisecond))

	// The host's engine socket is mounted; the docker CLI is not installed
	// inside, so check the socket itself.
	if typ := mustExec("stat", "-c", "%F", DockerSocket); typ != "socket" {
		t.Errorf("%s is a %q, want socket", DockerSocket, typ)
	}
}
