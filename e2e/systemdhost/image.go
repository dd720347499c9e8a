// Package systemdhost gives end-to-end tests a container that boots a real
// systemd (PID 1, D-Bus, systemctl). By default it shares the machine's
// network and has the machine's Docker engine socket mounted, so the
// installer can be exercised against real systemd while the containers it
// creates run on the machine's engine. Other recipes and options make other
// kinds of host from the same parts (see e2e/sehost).
//
// The image is built locally with debootstrap and imported with
// `docker import`, because no container registry is reachable from the
// machines that run these tests. The docker CLI is used throughout: this is
// test harness code and the CLI keeps it short.
package systemdhost

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// recipeVersion is bumped whenever the way a Recipe becomes an image
// changes in a way the recipe's own fields do not capture, so a stale image
// is never reused.
const recipeVersion = "4"

const suite = "bookworm"

// Recipe describes a Debian root file system image: debootstrap's minbase
// variant, packages on top, units masked, files written and commands run.
// All of it goes into the image's content-addressed tag.
type Recipe struct {
	// Repo is the repository the image is tagged in.
	Repo string
	// Packages are installed on top of minbase (Depends only, no Recommends).
	Packages []string
	// Masked are units linked to /dev/null.
	Masked []string
	// Files are written into the root file system after the packages.
	Files []File
	// Run are commands run chrooted in the root file system, in order,
	// after Files are written.
	Run [][]string
}

// File is a file written into a root file system or a container.
type File struct {
	// Path is absolute.
	Path     string
	Mode     os.FileMode
	UID, GID int
	Data     []byte
}

// Base is the recipe of the plain systemd host.
var Base = Recipe{
	Repo:     "avi-init-e2e/systemd",
	Packages: []string{"systemd", "systemd-sysv", "dbus", "ca-certificates"},
	Masked:   BaseMasked,
}

// BaseMasked are the units that do not work in a container or, worse,
// would act on the machine: a host on --network host shares the machine's
// network namespace, so e.g. systemd-networkd, systemd-resolved,
// systemd-sysctl, systemd-binfmt or fstrim would reconfigure the machine
// running the tests.
var BaseMasked = []string{
	// No consoles or terminals to log in on.
	"getty.target", "getty@.service", "serial-getty@.service",
	"console-getty.service", "container-getty@.service",
	// No udev: /dev is managed by Docker.
	"systemd-udevd.service", "systemd-udevd-control.socket",
	"systemd-udevd-kernel.socket", "systemd-udev-trigger.service",
	"systemd-udev-settle.service", "systemd-hwdb-update.service",
	// Host networking: never touch links, DNS or the clock of the host.
	"systemd-networkd.service", "systemd-networkd.socket",
	"systemd-networkd-wait-online.service", "systemd-resolved.service",
	"systemd-timesyncd.service", "systemd-time-wait-sync.service",
	"networking.service",
	// Privileged: /proc/sys, /sys and the kernel are the host's.
	"systemd-sysctl.service", "systemd-binfmt.service",
	"proc-sys-fs-binfmt_misc.automount", "proc-sys-fs-binfmt_misc.mount",
	"systemd-modules-load.service", "kmod-static-nodes.service", "modprobe@.service",
	"sys-kernel-config.mount", "sys-kernel-debug.mount",
	"sys-kernel-tracing.mount", "sys-fs-fuse-connections.mount",
	"dev-hugepages.mount", "dev-mqueue.mount", "systemd-pstore.service",
	"systemd-remount-fs.service", "systemd-random-seed.service",
	"fstrim.timer", "fstrim.service", "e2scrub_all.timer", "e2scrub_reap.service",
	// Seats and sessions are meaningless here and logind would see the
	// host's VTs through the privileged /dev.
	"systemd-logind.service",
	// Periodic jobs that only add noise and load during tests.
	"apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer",
	"systemd-tmpfiles-clean.timer",
	// First-boot prompts and machine-id handling: the machine-id is
	// transient (see prepareRootfs).
	"systemd-firstboot.service", "systemd-machine-id-commit.service",
	"systemd-journald-audit.socket",
}

// ErrMissing marks errors caused by something this machine lacks (root,
// debootstrap, a Docker engine) rather than by a bug: tests skip on them
// outside CI.
var ErrMissing = errors.New("prerequisite missing")

// Tag returns the content-addressed image reference of the recipe.
func (r Recipe) Tag() string {
	h := sha256.New()
	fmt.Fprintf(h, "recipe %s\nsuite %s\npackages %q\nmasked %q\nrun %q\n",
		recipeVersion, suite, r.Packages, r.Masked, r.Run)
	for _, f := range r.Files {
		fmt.Fprintf(h, "file %q %o %d:%d %x\n", f.Path, f.Mode, f.UID, f.GID, sha256.Sum256(f.Data))
	}
	return r.Repo + ":" + hex.EncodeToString(h.Sum(nil))[:12]
}

// Ensure returns the reference of the recipe's image, building and
// importing it first if the engine does not have it yet. Build progress is
// written to log. Building needs root (debootstrap) and the network access
// to the Debian mirror that apt on this machine uses.
func (r Recipe) Ensure(ctx context.Context, log io.Writer) (string, error) {
	if log == nil {
		log = io.Discard
	}
	tag := r.Tag()
	if imageExists(ctx, tag) {
		return tag, nil
	}

	// Serialise builds between test binaries started in parallel by
	// `go test ./...`: the loser of the race then finds the image ready.
	unlock, err := lockFile(filepath.Join(os.TempDir(), "avi-init-e2e-"+path.Base(r.Repo)+".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if imageExists(ctx, tag) {
		return tag, nil
	}

	if os.Geteuid() != 0 {
		return "", fmt.Errorf("build image %s: debootstrap needs root: %w", tag, ErrMissing)
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return "", fmt.Errorf("build image %s: %w: %w (apt-get install -y debootstrap)", tag, ErrMissing, err)
	}
	mirror, err := debianMirror()
	if err != nil {
		return "", fmt.Errorf("build image %s: %w", tag, err)
	}

	dir, err := os.MkdirTemp("", "avi-init-e2e-rootfs-")
	if err != nil {
		return "", fmt.Errorf("build image %s: %w", tag, err)
	}
	defer os.RemoveAll(dir)
	rootfs := filepath.Join(dir, "rootfs")

	fmt.Fprintf(log, "systemdhost: building %s with debootstrap from %s\n", tag, mirror)
	ds := exec.CommandContext(ctx, "debootstrap", "--variant=minbase",
		"--include="+strings.Join(r.Packages, ","), suite, rootfs, mirror)
	ds.Stdout, ds.Stderr = log, log
	if err := ds.Run(); err != nil {
		return "", fmt.Errorf("build image %s: debootstrap: %w", tag, err)
	}
	if err := r.prepareRootfs(ctx, rootfs); err != nil {
		return "", fmt.Errorf("build image %s: %w", tag, err)
	}
	if err := importRootfs(ctx, rootfs, tag, log); err != nil {
		return "", fmt.Errorf("build image %s: %w", tag, err)
	}
	fmt.Fprintf(log, "systemdhost: imported %s\n", tag)
	return tag, nil
}

// prepareRootfs adapts the freshly bootstrapped tree to life in a container.
func (r Recipe) prepareRootfs(ctx context.Context, rootfs string) error {
	unitDir := filepath.Join(rootfs, "etc/systemd/system")
	for _, u := range r.Masked {
		p := filepath.Join(unitDir, u)
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("mask %s: %w", u, err)
		}
		if err := os.Symlink("/dev/null", p); err != nil {
			return fmt.Errorf("mask %s: %w", u, err)
		}
	}
	// An empty machine-id makes systemd mount a transient one at boot, so
	// each container gets its own id and the image holds none.
	// D-Bus keeps its own copy, which systemd would otherwise adopt, giving
	// every container the build's id; Debian links the two when it can.
	if err := os.WriteFile(filepath.Join(rootfs, "etc/machine-id"), nil, 0o444); err != nil {
		return fmt.Errorf("machine-id: %w", err)
	}
	dbusID := filepath.Join(rootfs, "var/lib/dbus/machine-id")
	if err := os.RemoveAll(dbusID); err != nil {
		return fmt.Errorf("machine-id: %w", err)
	}
	if err := os.Symlink("/etc/machine-id", dbusID); err != nil {
		return fmt.Errorf("machine-id: %w", err)
	}
	// Debian's tmp.conf empties /tmp at boot ("D /tmp"), and tests bind
	// host directories that live under /tmp: systemd-tmpfiles stops at
	// mount points, but nothing should be deleted there in the first place.
	tmpConf := filepath.Join(rootfs, "etc/tmpfiles.d/tmp.conf")
	if err := os.MkdirAll(filepath.Dir(tmpConf), 0o755); err != nil {
		return fmt.Errorf("tmpfiles: %w", err)
	}
	if err := os.WriteFile(tmpConf, []byte("d /tmp 1777 root root -\n"), 0o644); err != nil {
		return fmt.Errorf("tmpfiles: %w", err)
	}
	// Docker bind-mounts its own hostname, hosts and resolv.conf over these;
	// leaving the build host's copies in the image would only mislead.
	for _, f := range []string{"etc/hostname", "etc/resolv.conf"} {
		if err := os.RemoveAll(filepath.Join(rootfs, f)); err != nil {
			return fmt.Errorf("remove %s: %w", f, err)
		}
	}
	// The downloaded packages are only dead weight in the image.
	debs, _ := filepath.Glob(filepath.Join(rootfs, "var/cache/apt/archives/*.deb"))
	for _, d := range debs {
		if err := os.Remove(d); err != nil {
			return fmt.Errorf("clean apt cache: %w", err)
		}
	}
	for _, f := range r.Files {
		if err := writeFile(rootfs, f); err != nil {
			return err
		}
	}
	for _, args := range r.Run {
		out, err := exec.CommandContext(ctx, "chroot", append([]string{rootfs}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("chroot %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// writeFile writes f below rootfs with exactly its mode and owner.
func writeFile(rootfs string, f File) error {
	p := filepath.Join(rootfs, f.Path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", f.Path, err)
	}
	if err := os.WriteFile(p, f.Data, f.Mode); err != nil {
		return fmt.Errorf("write %s: %w", f.Path, err)
	}
	// WriteFile leaves the mode of an existing file alone and applies the umask.
	if err := os.Chmod(p, f.Mode); err != nil {
		return fmt.Errorf("write %s: %w", f.Path, err)
	}
	if err := os.Lchown(p, f.UID, f.GID); err != nil {
		return fmt.Errorf("write %s: %w", f.Path, err)
	}
	return nil
}

// importRootfs streams rootfs as a tar archive into `docker import`. GNU tar
// is used rather than archive/tar because it already handles device nodes,
// hard links and numeric ownership correctly.
func importRootfs(ctx context.Context, rootfs, tag string, log io.Writer) error {
	tarCmd := exec.CommandContext(ctx, "tar", "--numeric-owner", "--xattrs", "-C", rootfs, "-cf", "-", ".")
	var tarErr strings.Builder
	tarCmd.Stderr = &tarErr
	out, err := tarCmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("tar: %w", err)
	}
	imp := exec.CommandContext(ctx, "docker", "import",
		// systemd only behaves as a container init when it is told so.
		"--change", "ENV container=docker",
		// STOPSIGNAL is not accepted by `docker import` on Engine 20.10;
		// Start passes --stop-signal instead.
		"--change", `CMD ["/lib/systemd/systemd"]`,
		"--message", "avi-init e2e systemd host, recipe "+recipeVersion,
		"-", tag)
	imp.Stdin = out
	imp.Stdout, imp.Stderr = log, log
	if err := tarCmd.Start(); err != nil {
		return fmt.Errorf("tar: %w", err)
	}
	impErr := imp.Run()
	if err := tarCmd.Wait(); err != nil {
		return fmt.Errorf("tar: %w: %s", err, tarErr.String())
	}
	if impErr != nil {
		return fmt.Errorf("docker import: %w", impErr)
	}
	return nil
}

func imageExists(ctx context.Context, ref string) bool {
	return exec.CommandContext(ctx, "docker", "image", "inspect", ref).Run() == nil
}

// debianMirror returns the first Debian archive URI that apt on this
// machine is configured with, so the build uses the same (possibly local or
// proxied) mirror as the machine itself. Both the one-line and the deb822
// source formats are understood.
func debianMirror() (string, error) {
	files := []string{"/etc/apt/sources.list"}
	more, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	files = append(files, more...)
	for _, f := range files {
		if uri := mirrorFrom(f); uri != "" {
			return uri, nil
		}
	}
	return "", errors.New("no Debian mirror found in /etc/apt/sources.list{,.d/*}")
}

func mirrorFrom(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var uris []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		switch {
		case len(fields) >= 3 && fields[0] == "deb":
			// deb [opts] URI suite ...: the URI is the first field with a scheme.
			for _, fl := range fields[1:] {
				if strings.Contains(fl, "://") {
					uris = append(uris, fl)
					break
				}
			}
		case len(fields) >= 2 && fields[0] == "URIs:":
			uris = append(uris, fields[1:]...)
		}
	}
	for _, u := range uris {
		// Skip the security archive and third-party repositories.
		if strings.HasSuffix(strings.TrimSuffix(u, "/"), "/debian") {
			return u
		}
	}
	return ""
}

// lockFile takes an exclusive advisory lock on path, waiting for it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
