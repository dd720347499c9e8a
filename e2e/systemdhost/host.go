package systemdhost

import (
	"archive/tar"
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
	"strconv"
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
	// Network is the Docker network the host joins, which gives it a
	// network namespace and a host name of its own: a machine of its own,
	// which does not get the machine's engine socket either. Empty means
	// the machine's network namespace (--network host) with the machine's
	// engine socket mounted, so the installer inside drives that engine.
	Network string
	// IP is the host's address on Network; empty lets Docker choose.
	IP string
	// Volumes are directories inside backed by anonymous volumes, which
	// live on the machine's file system rather than the container's
	// copy-on-write one, survive Stop and Start, and go with the host.
	Volumes []string
	// Files are written into the container before it first boots.
	Files []File
	// Units must be active once systemd has booted; boot fails otherwise.
	Units []string
	// Kind names the kind of host in container names and labels, so that
	// those a crashed run left behind are found (see RemoveStale); default
	// "systemd".
	Kind string
	// BootTimeout bounds the wait for systemd to finish booting; default 90s.
	BootTimeout time.Duration
	// Log receives progress; nil discards it.
	Log io.Writer
}

// Host is a container whose PID 1 is systemd.
type Host struct {
	// ID is the container ID.
	ID string
	// Name is the container name, also the host name on its own network.
	Name string
	// Image is the image reference the container runs.
	Image string

	bootTimeout time.Duration
	units       []string
	log         io.Writer
}

// Available reports why the docker CLI or engine cannot be used, or nil.
func Available(ctx context.Context) error {
	if _, err := exec.LookPath("docker"); err != nil {
		return fmt.Errorf("docker CLI: %w: %w", ErrMissing, err)
	}
	out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker engine unreachable: %w: %w: %s", ErrMissing, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Missing ends a test that cannot run on this machine: it fails under
// CI=true, where a missing engine or tool is a broken runner, and skips
// elsewhere, where it is a developer's laptop.
func Missing(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("required under CI=true: %v", err)
	}
	t.Skipf("skipped, this machine lacks a prerequisite: %v", err)
}

// Image returns the reference of the recipe's image for a test, building
// it if needed; see Missing for what happens when the machine cannot.
func Image(t testing.TB, r Recipe, log io.Writer) string {
	t.Helper()
	ctx := context.Background()
	if err := Available(ctx); err != nil {
		Missing(t, err)
	}
	image, err := r.Ensure(ctx, log)
	if errors.Is(err, ErrMissing) {
		Missing(t, err)
	}
	if err != nil {
		t.Fatalf("systemdhost: %v", err)
	}
	return image
}

// New is the test entry point for the plain systemd host: it builds the
// image if needed, boots a host and removes it when the test ends.
func New(t testing.TB, opts Options) *Host {
	t.Helper()
	if opts.Log == nil {
		opts.Log = TestLog(t)
	}
	image := Image(t, Base, opts.Log)
	if err := RemoveStale(context.Background(), opts.kind()); err != nil {
		t.Fatalf("systemdhost: %v", err)
	}
	h, err := Start(context.Background(), image, opts)
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

// Start creates a container from image (see Recipe.Ensure), writes
// opts.Files into it, boots it and waits until systemd reports the system
// running or degraded and opts.Units are active.
func Start(ctx context.Context, image string, opts Options) (*Host, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.BootTimeout == 0 {
		opts.BootTimeout = 90 * time.Second
	}
	args, name, err := createArgs(ctx, image, opts)
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, "docker", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("docker create %s: %w", image, exitDetail(err))
	}
	h := &Host{ID: strings.TrimSpace(string(out)), Name: name, Image: image,
		bootTimeout: opts.BootTimeout, units: opts.Units, log: opts.Log}
	if err := h.writeFiles(ctx, opts.Files); err != nil {
		_ = h.Close()
		return nil, err
	}
	if err := h.Start(ctx); err != nil {
		_ = h.Close()
		return nil, err
	}
	return h, nil
}

// Start boots the (created or stopped) container and waits as the
// package's Start does.
func (h *Host) Start(ctx context.Context) error {
	began := time.Now()
	if out, err := exec.CommandContext(ctx, "docker", "start", h.ID).CombinedOutput(); err != nil {
		return fmt.Errorf("docker start %s: %w: %s", h.Name, err, strings.TrimSpace(string(out)))
	}
	if err := h.waitBooted(ctx); err != nil {
		return err
	}
	fmt.Fprintf(h.log, "systemdhost: %s booted in %s\n", h.Name, time.Since(began).Round(100*time.Millisecond))
	return nil
}

// Stop shuts the host down the way systemd shuts a machine down (its stop
// signal is SIGRTMIN+3); its file system and volumes stay for Start.
func (h *Host) Stop(ctx context.Context) error {
	if out, err := exec.CommandContext(ctx, "docker", "stop", h.ID).CombinedOutput(); err != nil {
		return fmt.Errorf("docker stop %s: %w: %s", h.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// createArgs returns the `docker create` arguments and the container name.
// The choices, each tested on a cgroup v1 (hybrid) engine:
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
//   - --network host unless opts.Network: the controller the installer
//     starts uses host networking and tests reach it on 127.0.0.1. Docker
//     still gives the container its own UTS namespace, so hostname changes
//     stay inside; the hostname defaults to the host's, which keeps it
//     resolvable.
//   - /run and /run/lock on tmpfs, as systemd expects; /tmp stays on the
//     container's file system because `docker cp` cannot write into tmpfs.
//
// On a cgroup v2 engine systemd needs a writable cgroup2 mount of its own
// namespace, which Docker only gives privileged containers.
func createArgs(ctx context.Context, image string, opts Options) ([]string, string, error) {
	cgv, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.CgroupVersion}}").Output()
	if err != nil {
		return nil, "", fmt.Errorf("docker info: %w", exitDetail(err))
	}
	kind := opts.kind()
	name, err := Name(kind)
	if err != nil {
		return nil, "", err
	}
	labels, err := LabelArgs(kind)
	if err != nil {
		return nil, "", err
	}
	args := append([]string{"create",
		// A terminal gives systemd a /dev/console, so its boot messages
		// reach `docker logs` and boot failures can be diagnosed.
		"--tty",
		"--name", name,
		"--cgroupns", "private",
		"--security-opt", "seccomp=unconfined",
		"--security-opt", "apparmor=unconfined",
		"--tmpfs", "/run:exec,mode=755",
		"--tmpfs", "/run/lock",
		"--env", "container=docker",
		// SIGRTMIN+3 asks systemd for an orderly shutdown on `docker stop`.
		"--stop-signal", "SIGRTMIN+3",
	}, labels...)
	if opts.Network == "" {
		args = append(args, "--network", "host", "--volume", DockerSocket+":"+DockerSocket)
	} else {
		args = append(args, "--network", opts.Network, "--hostname", name)
		if opts.IP != "" {
			args = append(args, "--ip", opts.IP)
		}
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
			return nil, "", fmt.Errorf("bind %q: path must be absolute", b)
		}
		args = append(args, "--volume", b+":"+b)
	}
	for _, v := range opts.Volumes {
		if !filepath.IsAbs(v) {
			return nil, "", fmt.Errorf("volume %q: path must be absolute", v)
		}
		args = append(args, "--mount", "type=volume,dst="+v)
	}
	for _, e := range opts.Env {
		args = append(args, "--env", e)
	}
	return append(args, image, "/lib/systemd/systemd"), name, nil
}

func (o Options) kind() string {
	if o.Kind == "" {
		return "systemd"
	}
	return o.Kind
}

// Name is a new random name for a Docker object of the given kind that the harness creates.
func Name(kind string) (string, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("%s name: %w", kind, err)
	}
	return "avi-init-e2e-" + kind + "-" + hex.EncodeToString(b), nil
}

// writeFiles copies files into the container as one tar stream; --archive
// keeps the owners the tar headers give.
func (h *Host) writeFiles(ctx context.Context, files []File) error {
	if len(files) == 0 {
		return nil
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(f.Path, "/"),
			Mode: int64(f.Mode.Perm()), Uid: f.UID, Gid: f.GID, Size: int64(len(f.Data)), ModTime: time.Now()}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write %s into %s: %w", f.Path, h.Name, err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			return fmt.Errorf("write %s into %s: %w", f.Path, h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write files into %s: %w", h.Name, err)
	}
	cmd := exec.CommandContext(ctx, "docker", "cp", "--archive", "-", h.ID+":/")
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("write files into %s: %w: %s", h.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// waitBooted waits until systemd has finished starting up, then checks
// h.units. "degraded" counts as booted: a unit failing is for the test to
// judge, and the failed units are part of the answer it can inspect.
// `is-system-running --wait` blocks until boot ends, so one exec per host
// does, rather than polling many (which on 2 cores slows ten booting hosts).
func (h *Host) waitBooted(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, h.bootTimeout)
	defer cancel()
	var state string
	for {
		out, _, err := h.Exec(ctx, "systemctl", "is-system-running", "--wait")
		state = strings.TrimSpace(out)
		if err == nil && (state == "running" || state == "degraded") {
			break
		}
		if !h.running() {
			return fmt.Errorf("container %s exited during boot:\n%s", h.Name, h.diagnostics())
		}
		// Before systemd listens, systemctl fails at once.
		select {
		case <-ctx.Done():
			return fmt.Errorf("systemd in %s not booted after %s (last state %q):\n%s",
				h.Name, h.bootTimeout, state, h.diagnostics())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if len(h.units) == 0 {
		return nil
	}
	out, code, err := h.Exec(ctx, append([]string{"systemctl", "is-active"}, h.units...)...)
	if err != nil || code != 0 {
		return fmt.Errorf("%s booted, but not all of %s are active (%s):\n%s",
			h.Name, strings.Join(h.units, ", "), strings.Join(strings.Fields(out), ", "), h.diagnostics())
	}
	return nil
}

func (h *Host) running() bool {
	out, err := exec.Command("docker", "inspect", "--format", "{{.State.Running}}", h.ID).Output()
	return err == nil && strings.TrimSpace(string(out)) == "true"
}

// diagnostics gathers the container's console output and, if it still
// runs, the failed units, the journal's warnings and the journal of the
// units that must be active, for boot errors.
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
		for _, u := range h.units {
			out, _, _ = h.Exec(ctx, "journalctl", "-b", "-u", u, "--no-pager", "-n", "30")
			fmt.Fprintf(&b, "--- journalctl -u %s ---\n%s", u, out)
		}
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

// Close removes the container and its volumes. SIGKILL is fine: nothing
// inside needs an orderly shutdown, and the engine removes the cgroups with
// it. A host already removed is no error, so a test may remove a host
// itself and still leave the removal to its cleanup.
func (h *Host) Close() error {
	out, err := exec.Command("docker", "rm", "--force", "--volumes", h.ID).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "No such container") {
		return fmt.Errorf("remove %s: %w: %s", h.Name, err, strings.TrimSpace(string(out)))
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

// Labels on everything the harness creates: labelKind says what it is,
// labelOwner which process created it.
const (
	labelKind  = "avi-init-e2e"
	labelOwner = "avi-init-e2e.owner"
)

// LabelArgs returns the `docker create` / `docker network create` label
// flags for an object of the given kind created by this process.
func LabelArgs(kind string) ([]string, error) {
	owner, err := processOwner(os.Getpid())
	if err != nil {
		return nil, err
	}
	return []string{"--label", labelKind + "=" + kind, "--label", labelOwner + "=" + owner}, nil
}

// processOwner identifies a process by its PID and start time, so a PID
// that the kernel reused for another process does not pass for the old one.
func processOwner(pid int) (string, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", fmt.Errorf("process %d: %w", pid, err)
	}
	// The command name (field 2) may hold spaces and parentheses: count
	// fields after its closing parenthesis; the start time is field 22.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 20 {
		return "", fmt.Errorf("process %d: short /proc stat", pid)
	}
	return fmt.Sprintf("%d-%s", pid, fields[19]), nil
}

// RemoveStale removes the containers, then the networks, of the given kind
// whose creating process has ended: what a crashed or killed test run left
// behind. Those of live processes (tests running in parallel) are kept.
func RemoveStale(ctx context.Context, kind string) error {
	for _, obj := range [][]string{{"container", "ls", "--all"}, {"network", "ls"}} {
		args := append(obj, "--filter", "label="+labelKind+"="+kind,
			"--format", `{{.ID}} {{.Label "`+labelOwner+`"}}`)
		out, err := exec.CommandContext(ctx, "docker", args...).Output()
		if err != nil {
			return fmt.Errorf("list stale %ss: %w", obj[0], exitDetail(err))
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			id, owner, _ := strings.Cut(line, " ")
			if id == "" || !ownerGone(owner) {
				continue
			}
			rm := []string{obj[0], "rm", id}
			if obj[0] == "container" {
				rm = []string{"container", "rm", "--force", "--volumes", id}
			}
			if out, err := exec.CommandContext(ctx, "docker", rm...).CombinedOutput(); err != nil {
				return fmt.Errorf("remove stale %s %s: %w: %s", obj[0], id, err, strings.TrimSpace(string(out)))
			}
		}
	}
	return nil
}

// ownerGone tells whether the process an owner label names has ended. A
// label it cannot read is not its to judge.
func ownerGone(owner string) bool {
	pidText, _, ok := strings.Cut(owner, "-")
	pid, err := strconv.Atoi(pidText)
	if !ok || err != nil {
		return false
	}
	now, err := processOwner(pid)
	return err != nil || now != owner
}

// tWriter sends build and boot progress to the test log.
type tWriter struct{ t testing.TB }

// TestLog returns a writer that sends progress to the test log.
func TestLog(t testing.TB) io.Writer { return tWriter{t} }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
