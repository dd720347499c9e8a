package systemdhost

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// DockerSocket is the engine socket, mounted at the same path inside.
const DockerSocket = "/var/run/docker.sock"

// Options tune a systemd host container.
type Options struct {
	// Binds are host paths mounted read-write at the same path inside the
	// container, so that bind mounts the installer asks the host engine
	// for (data directories, images) name the same files on both sides.
	Binds []string
	// Env is extra environment for PID 1 (KEY=VALUE), inherited by nothing
	// else; pass environment to commands through Exec instead.
	Env []string
	// BootTimeout bounds the wait for systemd to finish booting; default 90s.
	BootTimeout time.Duration
	// Log receives progress; nil discards it.
	Log io.Writer
}

// Host is a running container whose PID 1 is systemd.
type Host struct {
	// ID is the container ID.
	ID string
	// Image is the image reference the container runs.
	Image string
}

// Available reports why the docker CLI or engine cannot be used, or nil.
func Available(ctx context.Context) error {
	if _, err := exec.LookPath("docker"); err != nil {
		return fmt.Errorf("docker CLI: %w", err)
	}
	out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker engine unreachable: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// New is the test entry point: it skips the test when Docker is missing
// (and fails it instead under CI=true, where a missing engine is a broken
// runner, not a developer laptop), builds the image if needed, boots a
// host and removes it when the test ends.
func New(t testing.TB, opts Options) *Host {
	t.Helper()
	ctx := context.Background()
	if err := Available(ctx); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("systemdhost: Docker is required under CI=true: %v", err)
		}
		t.Skipf("systemdhost: Docker not available: %v", err)
	}
	if opts.Log == nil {
		opts.Log = tWriter{t}
	}
	image, err := EnsureImage(ctx, opts.Log)
	if err != nil {
		t.Fatalf("systemdhost: %v", err)
	}
	h, err := Start(ctx, image, opts)
	if err != nil {
		t.Fatalf("systemdhost: %v", err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("systemdhost: %v", err)
		}
	})
	return h
}

// Start boots a container from image (see EnsureImage) and waits until
// systemd reports the system running or degraded.
func Start(ctx context.Context, image string, opts Options) (*Host, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.BootTimeout == 0 {
		opts.BootTimeout = 90 * time.Second
	}
	args, err := runArgs(ctx, image, opts)
	if err != nil {
		return nil, err
	}
	began := time.Now()
	out, err := exec.CommandContext(ctx, "docker", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("docker run %s: %w", image, exitDetail(err))
	}
	h := &Host{ID: strings.TrimSpace(string(out)), Image: image}
	if err := h.waitBooted(ctx, opts.BootTimeout); err != nil {
		_ = h.Close()
		return nil, err
	}
	fmt.Fprintf(opts.Log, "systemdhost: %.12s booted in %s\n", h.ID, time.Since(began).Round(100*time.Millisecond))
	return h, nil
}

// runArgs returns the `docker run` arguments. The choices, each tested on a
// cgroup v1 (hybrid) engine:
//
//   - No --privileged on cgroup v1: an engine that runs inside a sandbox may
//     lack some capabilities in its own bounding set (CAP_SYS_RESOURCE on our
//     build machine), and --privileged then fails with "unable to apply caps:
//     operation not permitted". All capabilities but that one (and those
//     that act on the whole kernel: modules, clock), seccomp and AppArmor
//     off, is what systemd needs; it also keeps /proc/sys and /sys
//     read-only, so nothing inside can retune the host's kernel.
//   - A private cgroup namespace with an empty tmpfs on /sys/fs/cgroup:
//     systemd mounts the hierarchies itself, rooted at the container's own
//     cgroups. Bind-mounting the host's /sys/fs/cgroup instead lets systemd
//     add directories to the host's cgroup tmpfs and remount its superblock
//     read-only for the whole machine.
//   - --network host: the controller the installer starts uses host
//     networking and tests reach it on 127.0.0.1. Docker still gives the
//     container its own UTS namespace, so hostname changes stay inside;
//     the hostname defaults to the host's, which keeps it resolvable.
//   - /run and /run/lock on tmpfs, as systemd expects; /tmp stays on the
//     container's file system because `docker cp` cannot write into tmpfs.
//
// On a cgroup v2 engine systemd needs a writable cgroup2 mount of its own
// namespace, which Docker only gives privileged containers.
func runArgs(ctx context.Context, image string, opts Options) ([]string, error) {
	cgv, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.CgroupVersion}}").Output()
	if err != nil {
		return nil, fmt.Errorf("docker info: %w", exitDetail(err))
	}
	name, err := containerName()
	if err != nil {
		return nil, err
	}
	args := []string{"run", "--detach",
		// A terminal gives systemd a /dev/console, so its boot messages
		// reach `docker logs` and boot failures can be diagnosed.
		"--tty",
		"--name", name,
		"--label", "avi-init-e2e=systemdhost",
		"--network", "host",
		"--cgroupns", "private",
		"--security-opt", "seccomp=unconfined",
		"--security-opt", "apparmor=unconfined",
		"--tmpfs", "/run:exec,mode=755",
		"--tmpfs", "/run/lock",
		"--env", "container=docker",
		// SIGRTMIN+3 asks systemd for an orderly shutdown on `docker stop`.
		"--stop-signal", "SIGRTMIN+3",
		"--volume", DockerSocket + ":" + DockerSocket,
	}
	if strings.TrimSpace(string(cgv)) == "2" {
		args = append(args, "--privileged")
	} else {
		args = append(args, "--cap-add", "ALL",
			// Missing from some sandboxed engines' bounding set; systemd
			// copes without it (D-Bus logs that it cannot raise its fd limit).
			"--cap-drop", "SYS_RESOURCE",
			// Nothing inside may load modules into or set the clock of the
			// host kernel.
			"--cap-drop", "SYS_MODULE", "--cap-drop", "SYS_TIME",
			"--tmpfs", "/sys/fs/cgroup")
	}
	for _, b := range opts.Binds {
		if !filepath.IsAbs(b) {
			return nil, fmt.Errorf("bind %q: path must be absolute", b)
		}
		args = append(args, "--volume", b+":"+b)
	}
	for _, e := range opts.Env {
		args = append(args, "--env", e)
	}
	return append(args, image, "/lib/systemd/systemd"), nil
}

func containerName() (string, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("container name: %w", err)
	}
	return "avi-init-e2e-systemd-" + hex.EncodeToString(b), nil
}

// waitBooted polls `systemctl is-system-running` until systemd has finished
// starting up. "degraded" counts as booted: a unit failing is for the test
// to judge, and the failed units are part of the answer it can inspect.
func (h *Host) waitBooted(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var state string
	for {
		out, _, err := h.Exec(ctx, "systemctl", "is-system-running")
		state = strings.TrimSpace(out)
		if err == nil && (state == "running" || state == "degraded") {
			return nil
		}
		if !h.running() {
			return fmt.Errorf("container %.12s exited during boot:\n%s", h.ID, h.diagnostics())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("systemd in %.12s not booted after %s (last state %q):\n%s",
				h.ID, timeout, state, h.diagnostics())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (h *Host) running() bool {
	out, err := exec.Command("docker", "inspect", "--format", "{{.State.Running}}", h.ID).Output()
	return err == nil && strings.TrimSpace(string(out)) == "true"
}

// diagnostics gathers the container's console output and, if it still
// runs, the failed units and the journal's warnings, for boot errors.
func (h *Host) diagnostics() string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var b strings.Builder
	logs, _ := exec.CommandContext(ctx, "docker", "logs", "--tail", "200", h.ID).CombinedOutput()
	fmt.Fprintf(&b, "--- docker logs ---\n%s", logs)
	if h.running() {
		out, _, _ := h.Exec(ctx, "systemctl", "--failed", "--no-pager")
		fmt.Fprintf(&b, "--- systemctl --failed ---\n%s", out)
		out, _, _ = h.Exec(ctx, "journalctl", "-b", "-p", "warning", "--no-pager", "-n", "100")
		fmt.Fprintf(&b, "--- journalctl -b -p warning ---\n%s", out)
	}
	return b.String()
}

// Exec runs a command inside the host and returns its combined output and
// exit code. err is only set when the command could not be run at all
// (docker missing, context done); a non-zero exit is not an error.
func (h *Host) Exec(ctx context.Context, args ...string) (string, int, error) {
	cmd := exec.CommandContext(ctx, "docker", append([]string{"exec", h.ID}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		return out.String(), ee.ExitCode(), nil
	}
	if err != nil {
		return out.String(), -1, fmt.Errorf("docker exec %s: %w", strings.Join(args, " "), err)
	}
	return out.String(), 0, nil
}

// CopyIn copies a host file or directory to dstPath inside the host,
// keeping its mode.
func (h *Host) CopyIn(srcPath, dstPath string) error {
	out, err := exec.Command("docker", "cp", srcPath, h.ID+":"+dstPath).CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker cp %s %.12s:%s: %w: %s", srcPath, h.ID, dstPath, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Close removes the container. SIGKILL is fine: nothing inside needs an
// orderly shutdown, and the engine removes the cgroups with it.
func (h *Host) Close() error {
	out, err := exec.Command("docker", "rm", "--force", "--volumes", h.ID).CombinedOutput()
	if err != nil {
		return fmt.Errorf("remove %.12s: %w: %s", h.ID, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// exitDetail adds a failed command's stderr to its error.
func exitDetail(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return err
}

// tWriter sends build and boot progress to the test log.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
