package installer

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/avi-init/avi-init/templates"
)

// Host is what the installer knows of the machine. It is read below a root path, so that
// preflight and sizing can be tested against fixture hosts.
type Host struct {
	OSRelease      map[string]string
	CPUs           int
	MemoryBytes    uint64
	Mounts         []Mount // local disks
	NonLocal       []Mount // tmpfs, overlay, network and pseudo file systems: no place for data
	SystemdRunning bool
	DefaultIP      string // address of the interface holding the default route
}

// Mount is one mounted file system and its space.
type Mount struct {
	Device     string `json:"device"`
	Path       string `json:"path"`
	FSType     string `json:"fstype"`
	FreeBytes  uint64 `json:"free_bytes"`
	TotalBytes uint64 `json:"total_bytes"`
}

// HostReader reads host facts below Root; StatFS and InterfaceIP are the two facts that come
// from the kernel rather than a file.
type HostReader struct {
	Root        string
	StatFS      func(path string) (free, total uint64, err error)
	InterfaceIP func(name string) (string, error)
}

// LocalHost reads the machine avi-init runs on.
func LocalHost() HostReader {
	return HostReader{Root: "/", StatFS: statFS, InterfaceIP: interfaceIP}
}

func statFS(path string) (uint64, uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, 0, err
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}

// PortFree reports whether a TCP port of this host can be bound on every address.
func PortFree(port int) error {
	l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	return l.Close()
}

func interfaceIP(name string) (string, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return "", err
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String(), nil
		}
	}
	return "", fmt.Errorf("interface %s has no IPv4 address", name)
}

func (r HostReader) path(p string) string { return filepath.Join(r.Root, p) }

// Read gathers the facts. A fact that cannot be read is an error: sizing without it would be a
// guess.
func (r HostReader) Read() (*Host, error) {
	h := &Host{SystemdRunning: dirExists(r.path("run/systemd/system"))}
	var err error
	if h.OSRelease, err = readOSRelease(r.path("etc/os-release")); err != nil {
		// The spec's fallback location.
		if h.OSRelease, err = readOSRelease(r.path("usr/lib/os-release")); err != nil {
			h.OSRelease = map[string]string{}
		}
	}
	if h.CPUs, err = readCPUs(r.path("proc/cpuinfo")); err != nil {
		return nil, err
	}
	if h.MemoryBytes, err = readMemTotal(r.path("proc/meminfo")); err != nil {
		return nil, err
	}
	if h.Mounts, h.NonLocal, err = r.readMounts(); err != nil {
		return nil, err
	}
	if ifc, err := defaultRouteInterface(r.path("proc/net/route")); err == nil && r.InterfaceIP != nil {
		h.DefaultIP, _ = r.InterfaceIP(ifc)
	}
	return h, nil
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func readOSRelease(p string) (map[string]string, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read os-release: %w", err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		} else {
			v = strings.Trim(v, `'"`)
		}
		out[k] = v
	}
	return out, nil
}

func readCPUs(p string) (int, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return 0, fmt.Errorf("read CPU count: %w", err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if k, _, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "processor" {
			n++
		}
	}
	if n == 0 {
		// Some architectures do not list processors in cpuinfo.
		n = runtime.NumCPU()
	}
	return n, nil
}

func readMemTotal(p string) (uint64, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, fmt.Errorf("read memory size: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseUint(fields[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("read memory size: MemTotal %q: %w", fields[1], err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("read memory size: no MemTotal in %s", p)
}

// localFS are the file systems that hold data on a local disk; tmpfs, overlay and the kernel's
// pseudo file systems are not among them.
var localFS = map[string]bool{"ext2": true, "ext3": true, "ext4": true, "xfs": true, "btrfs": true, "zfs": true, "f2fs": true, "jfs": true, "reiserfs": true}

func (r HostReader) readMounts() (local, nonLocal []Mount, err error) {
	data, err := os.ReadFile(r.path("proc/mounts"))
	if err != nil {
		return nil, nil, fmt.Errorf("read mounts: %w", err)
	}
	// A later mount on the same path covers the earlier one (CentOS lists rootfs, then the
	// real root), so the last entry for a path wins.
	var order []string
	byPath := map[string]Mount{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		m := Mount{Device: f[0], Path: unescapeMount(f[1]), FSType: f[2]}
		if _, ok := byPath[m.Path]; !ok {
			order = append(order, m.Path)
		}
		byPath[m.Path] = m
	}
	for _, p := range order {
		m := byPath[p]
		// Containers bind single files (/etc/hosts, ...) from the host's disk: not a place for data.
		if fi, err := os.Stat(r.path(m.Path)); err == nil && !fi.IsDir() {
			continue
		}
		if !localFS[m.FSType] {
			nonLocal = append(nonLocal, m)
			continue
		}
		if r.StatFS != nil {
			if m.FreeBytes, m.TotalBytes, err = r.StatFS(r.path(m.Path)); err != nil {
				continue // unreadable (e.g. a stale mount): not a candidate
			}
		}
		local = append(local, m)
	}
	return local, nonLocal, nil
}

// unescapeMount undoes the octal escapes /proc/mounts uses for spaces and tabs.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func defaultRouteInterface(p string) (string, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) >= 8 && f[1] == "00000000" && f[7] == "00000000" {
			if _, err := hex.DecodeString(f[2]); err == nil {
				return f[0], nil
			}
		}
	}
	return "", fmt.Errorf("no default route in %s", p)
}

// LargestDisk is the local mount with the most free space, as Avi's installer picks it for data.
// Mounts whose path cannot be written into a unit are passed over.
func (h *Host) LargestDisk() (Mount, bool) {
	var best Mount
	found := false
	for _, m := range h.Mounts {
		if templates.ValidatePath("mount", m.Path) != nil {
			continue
		}
		if !found || m.FreeBytes > best.FreeBytes {
			best, found = m, true
		}
	}
	return best, found
}

// MountOf returns the local mount holding path: the mount with the longest path that prefixes
// it. It reports false when path is on no local disk, including when a tmpfs or overlay mounted
// closer to it holds it.
func (h *Host) MountOf(path string) (Mount, bool) {
	var best Mount
	found, local := false, false
	consider := func(ms []Mount, isLocal bool) {
		for _, m := range ms {
			if (path == m.Path || strings.HasPrefix(path, strings.TrimSuffix(m.Path, "/")+"/")) && (!found || len(m.Path) > len(best.Path)) {
				best, found, local = m, true, isLocal
			}
		}
	}
	consider(h.Mounts, true)
	consider(h.NonLocal, false)
	return best, found && local
}
