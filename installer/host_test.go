package installer

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// fixtureRoot is the root of a fixture host under testdata/hosts.
func fixtureRoot(t testing.TB, name string) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "testdata", "hosts", name))
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		t.Fatalf("fixture host %s: %v", name, err)
	}
	return root
}

type statfsEntry struct {
	Free  uint64 `json:"free"`
	Total uint64 `json:"total"`
}

// fakeStatFS answers for the mount paths listed in the fixture's statfs.json (paths as seen on
// the fixture host, i.e. without the root prefix); any other path is an error, as a stale mount.
type fakeStatFS struct {
	root    string
	entries map[string]statfsEntry
	asked   []string
}

func newFakeStatFS(t testing.TB, root string) *fakeStatFS {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "statfs.json"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeStatFS{root: root, entries: map[string]statfsEntry{}}
	if err := json.Unmarshal(data, &f.entries); err != nil {
		t.Fatalf("%s/statfs.json: %v", root, err)
	}
	return f
}

func (f *fakeStatFS) StatFS(p string) (uint64, uint64, error) {
	rel, err := filepath.Rel(f.root, p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return 0, 0, errors.New("statfs outside the fixture root: " + p)
	}
	host := "/" + filepath.ToSlash(rel)
	if rel == "." {
		host = "/"
	}
	f.asked = append(f.asked, host)
	e, ok := f.entries[host]
	if !ok {
		return 0, 0, errors.New("statfs " + host + ": stale file handle")
	}
	return e.Free, e.Total, nil
}

// fakeInterfaces maps interface names to addresses and records which were asked for.
type fakeInterfaces struct {
	ips   map[string]string
	asked []string
}

func (f *fakeInterfaces) InterfaceIP(name string) (string, error) {
	f.asked = append(f.asked, name)
	if ip, ok := f.ips[name]; ok {
		return ip, nil
	}
	return "", errors.New("no such interface " + name)
}

// fixtureIfaces are the interfaces of every fixture host (each fixture uses a subset).
var fixtureIfaces = map[string]string{
	"eth0":    "192.0.2.10",
	"ens3":    "192.0.2.20",
	"enp1s0":  "198.51.100.7",
	"docker0": "172.17.0.1",
}

// readFixture reads a fixture host with the fake kernel facts.
func readFixture(t testing.TB, name string) *Host {
	t.Helper()
	root := fixtureRoot(t, name)
	fs := newFakeStatFS(t, root)
	ifc := &fakeInterfaces{ips: fixtureIfaces}
	h, err := HostReader{Root: root, StatFS: fs.StatFS, InterfaceIP: ifc.InterfaceIP}.Read()
	if err != nil {
		t.Fatalf("read fixture %s: %v", name, err)
	}
	return h
}

const (
	tGiB = uint64(1) << 30
	tMiB = uint64(1) << 20
)

func TestFixtureSystemdDirIsDirectory(t *testing.T) {
	// git does not keep empty directories: the fixtures carry a .keep file, and the directory
	// must still be a directory, not a file named like it.
	for _, name := range []string{"debian12-systemd", "rocky9", "centos7", "tiny"} {
		p := filepath.Join(fixtureRoot(t, name), "run", "systemd", "system")
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() {
			t.Errorf("%s: run/systemd/system must be a directory: %v", name, err)
		}
	}
	for _, name := range []string{"ubuntu2204-nosystemd", "alpine-no-osrelease"} {
		if _, err := os.Stat(filepath.Join(fixtureRoot(t, name), "run", "systemd", "system")); !os.IsNotExist(err) {
			t.Errorf("%s: run/systemd/system must not exist (err %v)", name, err)
		}
	}
}

func TestHostReaderRead(t *testing.T) {
	type mountWant struct {
		path, device, fstype string
		free, total          uint64
	}
	tests := []struct {
		name        string
		osID, osVer string
		cpus        int
		memKB       uint64
		systemd     bool
		defaultIP   string
		mounts      []mountWant
		largest     string
		askedIfaces []string
	}{
		{
			name: "debian12-systemd", osID: "debian", osVer: "12", cpus: 4, memKB: 16315464,
			systemd: true, defaultIP: "192.0.2.10", askedIfaces: []string{"eth0"},
			mounts: []mountWant{
				{"/", "/dev/sda1", "ext4", 20 * tGiB, 30 * tGiB},
				{"/data", "/dev/sdb1", "xfs", 500 * tGiB, 1024 * tGiB},
				{"/mnt/my disk", "/dev/sdc1", "ext4", 5 * tGiB, 10 * tGiB},
			},
			largest: "/data",
		},
		{
			name: "ubuntu2204-nosystemd", osID: "ubuntu", osVer: "22.04", cpus: 2, memKB: 8145060,
			systemd: false, defaultIP: "192.0.2.20", askedIfaces: []string{"ens3"},
			mounts: []mountWant{
				{"/var/lib/avi", "/dev/vda1", "ext4", 40 * tGiB, 50 * tGiB},
			},
			largest: "/var/lib/avi",
		},
		{
			name: "rocky9", osID: "rocky", osVer: "9.3", cpus: 8, memKB: 32594148,
			systemd: true, defaultIP: "198.51.100.7", askedIfaces: []string{"enp1s0"},
			mounts: []mountWant{
				{"/", "/dev/mapper/rl-root", "xfs", 70 * tGiB, 80 * tGiB},
				{"/boot", "/dev/sda1", "xfs", 768 * tMiB, 1 * tGiB},
			},
			largest: "/",
		},
		{
			name: "centos7", osID: "centos", osVer: "7", cpus: 2, memKB: 3880412,
			systemd: true, defaultIP: "192.0.2.10", askedIfaces: []string{"eth0"},
			mounts: []mountWant{
				{"/", "/dev/mapper/centos-root", "xfs", 15 * tGiB, 18 * tGiB},
			},
			largest: "/",
		},
		{
			name: "tiny", osID: "debian", osVer: "12", cpus: 1, memKB: 1014660,
			systemd: true, defaultIP: "192.0.2.10", askedIfaces: []string{"eth0"},
			mounts: []mountWant{
				{"/", "/dev/vda1", "ext4", 500 * tMiB, 4 * tGiB},
			},
			largest: "/",
		},
		{
			name: "alpine-no-osrelease", osID: "", osVer: "", cpus: 2, memKB: 2041232,
			systemd: false, defaultIP: "", askedIfaces: nil, // no default route
			mounts: []mountWant{
				{"/", "/dev/sda3", "ext4", 8 * tGiB, 10 * tGiB},
			},
			largest: "/",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fixtureRoot(t, tt.name)
			fs := newFakeStatFS(t, root)
			ifc := &fakeInterfaces{ips: fixtureIfaces}
			h, err := HostReader{Root: root, StatFS: fs.StatFS, InterfaceIP: ifc.InterfaceIP}.Read()
			if err != nil {
				t.Fatal(err)
			}
			if h.OSRelease == nil {
				t.Fatal("OSRelease is nil; want an empty map at least")
			}
			if got := h.OSRelease["ID"]; got != tt.osID {
				t.Errorf("ID = %q, want %q", got, tt.osID)
			}
			if got := h.OSRelease["VERSION_ID"]; got != tt.osVer {
				t.Errorf("VERSION_ID = %q, want %q", got, tt.osVer)
			}
			if h.CPUs != tt.cpus {
				t.Errorf("CPUs = %d, want %d", h.CPUs, tt.cpus)
			}
			if want := tt.memKB * 1024; h.MemoryBytes != want {
				t.Errorf("MemoryBytes = %d, want %d", h.MemoryBytes, want)
			}
			if h.SystemdRunning != tt.systemd {
				t.Errorf("SystemdRunning = %v, want %v", h.SystemdRunning, tt.systemd)
			}
			if h.DefaultIP != tt.defaultIP {
				t.Errorf("DefaultIP = %q, want %q", h.DefaultIP, tt.defaultIP)
			}
			if strings.Join(ifc.asked, ",") != strings.Join(tt.askedIfaces, ",") {
				t.Errorf("InterfaceIP asked for %q, want %q", ifc.asked, tt.askedIfaces)
			}
			if len(h.Mounts) != len(tt.mounts) {
				t.Fatalf("Mounts = %+v, want %d mounts %+v", h.Mounts, len(tt.mounts), tt.mounts)
			}
			for i, w := range tt.mounts {
				m := h.Mounts[i]
				if m.Path != w.path || m.Device != w.device || m.FSType != w.fstype || m.FreeBytes != w.free || m.TotalBytes != w.total {
					t.Errorf("mount %d = %+v, want %+v", i, m, w)
				}
			}
			for _, m := range h.Mounts {
				switch m.FSType {
				case "tmpfs", "overlay", "proc", "sysfs", "devtmpfs", "rootfs":
					t.Errorf("mount %s of type %s must be excluded", m.Path, m.FSType)
				}
			}
			l, ok := h.LargestDisk()
			if !ok || l.Path != tt.largest {
				t.Errorf("LargestDisk = %q, %v; want %q", l.Path, ok, tt.largest)
			}
		})
	}
}

func TestHostReaderReadDebianDetails(t *testing.T) {
	root := fixtureRoot(t, "debian12-systemd")
	fs := newFakeStatFS(t, root)
	h, err := HostReader{Root: root, StatFS: fs.StatFS}.Read()
	if err != nil {
		t.Fatal(err)
	}
	// Quoted and unquoted values both come out bare.
	for k, want := range map[string]string{
		"PRETTY_NAME":      "Debian GNU/Linux 12 (bookworm)",
		"VERSION_CODENAME": "bookworm",
		"HOME_URL":         "https://www.debian.org/",
	} {
		if got := h.OSRelease[k]; got != want {
			t.Errorf("OSRelease[%s] = %q, want %q", k, got, want)
		}
	}
	// Without InterfaceIP, no default IP (and no panic).
	if h.DefaultIP != "" {
		t.Errorf("DefaultIP = %q without an InterfaceIP func", h.DefaultIP)
	}
	// The escaped mount path is unescaped before statfs is asked.
	asked := append([]string(nil), fs.asked...)
	sort.Strings(asked)
	for _, p := range asked {
		if strings.Contains(p, `\`) {
			t.Errorf("statfs asked for escaped path %q", p)
		}
		switch p {
		case "/run", "/dev/shm", "/sys", "/proc", "/dev":
			t.Errorf("statfs asked for pseudo/tmp file system %q", p)
		}
		if strings.HasPrefix(p, "/var/lib/docker/overlay2") {
			t.Errorf("statfs asked for overlay %q", p)
		}
	}
	// The stale mount (statfs fails) is not a candidate.
	if _, ok := findMount(h, "/mnt/stale"); ok {
		t.Error("/mnt/stale (statfs fails) must not be among the mounts")
	}
	// "/" is listed twice in the fixture; it must appear once.
	n := 0
	for _, m := range h.Mounts {
		if m.Path == "/" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("/ appears %d times in Mounts", n)
	}
}

func findMount(h *Host, p string) (Mount, bool) {
	for _, m := range h.Mounts {
		if m.Path == p {
			return m, true
		}
	}
	return Mount{}, false
}

func TestHostReaderSkipsFileBindMounts(t *testing.T) {
	// The container-like fixture binds /etc/hosts and /etc/hostname from an ext4 disk whose
	// statfs shows more free space than anything else: single files are not places for data.
	h := readFixture(t, "ubuntu2204-nosystemd")
	for _, p := range []string{"/etc/hosts", "/etc/hostname"} {
		if _, ok := findMount(h, p); ok {
			t.Errorf("file bind mount %s listed among the mounts", p)
		}
	}
	if l, _ := h.LargestDisk(); l.Path != "/var/lib/avi" {
		t.Errorf("LargestDisk = %q, want /var/lib/avi", l.Path)
	}
}

func TestHostReaderReadErrors(t *testing.T) {
	// Copy a fixture to a temp dir and remove one file at a time.
	for _, missing := range []string{"proc/cpuinfo", "proc/meminfo", "proc/mounts"} {
		t.Run(missing, func(t *testing.T) {
			root := copyFixture(t, "debian12-systemd")
			if err := os.Remove(filepath.Join(root, missing)); err != nil {
				t.Fatal(err)
			}
			fs := newFakeStatFS(t, root)
			if _, err := (HostReader{Root: root, StatFS: fs.StatFS}).Read(); err == nil {
				t.Errorf("Read without %s: want an error", missing)
			}
		})
	}
	t.Run("bad MemTotal", func(t *testing.T) {
		root := copyFixture(t, "debian12-systemd")
		writeTestFile(t, filepath.Join(root, "proc/meminfo"), "MemTotal:  lots kB\n")
		if _, err := (HostReader{Root: root}).Read(); err == nil || !strings.Contains(err.Error(), "MemTotal") {
			t.Errorf("Read with a bad MemTotal: err = %v, want one naming MemTotal", err)
		}
	})
	t.Run("no MemTotal", func(t *testing.T) {
		root := copyFixture(t, "debian12-systemd")
		writeTestFile(t, filepath.Join(root, "proc/meminfo"), "MemFree: 1 kB\n")
		if _, err := (HostReader{Root: root}).Read(); err == nil {
			t.Error("Read without MemTotal: want an error")
		}
	})
	t.Run("os-release fallback", func(t *testing.T) {
		root := copyFixture(t, "alpine-no-osrelease")
		writeTestFile(t, filepath.Join(root, "usr/lib/os-release"), "ID=alpine\nVERSION_ID=3.19.1\n")
		h, err := HostReader{Root: root}.Read()
		if err != nil {
			t.Fatal(err)
		}
		if h.OSRelease["ID"] != "alpine" || h.OSRelease["VERSION_ID"] != "3.19.1" {
			t.Errorf("OSRelease = %v, want usr/lib/os-release's values", h.OSRelease)
		}
	})
	t.Run("no route file", func(t *testing.T) {
		root := copyFixture(t, "debian12-systemd")
		if err := os.Remove(filepath.Join(root, "proc/net/route")); err != nil {
			t.Fatal(err)
		}
		ifc := &fakeInterfaces{ips: fixtureIfaces}
		h, err := HostReader{Root: root, InterfaceIP: ifc.InterfaceIP}.Read()
		if err != nil {
			t.Fatalf("a missing route file is not fatal: %v", err)
		}
		if h.DefaultIP != "" || len(ifc.asked) != 0 {
			t.Errorf("DefaultIP = %q, asked %v; want none", h.DefaultIP, ifc.asked)
		}
	})
	t.Run("interface without address", func(t *testing.T) {
		root := fixtureRoot(t, "debian12-systemd")
		ifc := &fakeInterfaces{ips: map[string]string{}}
		h, err := HostReader{Root: root, InterfaceIP: ifc.InterfaceIP}.Read()
		if err != nil {
			t.Fatal(err)
		}
		if h.DefaultIP != "" {
			t.Errorf("DefaultIP = %q, want empty when the interface has no address", h.DefaultIP)
		}
	})
}

func copyFixture(t *testing.T, name string) string {
	t.Helper()
	src := fixtureRoot(t, name)
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func writeTestFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestUnescapeMount(t *testing.T) {
	tests := []struct{ in, want string }{
		{`/data`, `/data`},
		{`/mnt/my\040disk`, `/mnt/my disk`},
		{`/mnt/tab\011here`, "/mnt/tab\there"},
		{`/mnt/back\134slash`, `/mnt/back\slash`},
		{`/mnt/nl\012`, "/mnt/nl\n"},
		{`/mnt/a\040b\040c`, `/mnt/a b c`},
		{`/mnt/trailing\`, `/mnt/trailing\`},
		{`/mnt/short\04`, `/mnt/short\04`},
		{`/mnt/notoctal\999`, `/mnt/notoctal\999`},
	}
	for _, tt := range tests {
		if got := unescapeMount(tt.in); got != tt.want {
			t.Errorf("unescapeMount(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMountOf(t *testing.T) {
	h := readFixture(t, "debian12-systemd")
	tests := []struct {
		path string
		want string
		ok   bool
	}{
		{"/", "/", true},
		{"/opt/avi/controller/data", "/", true},
		{"/data", "/data", true},
		{"/data/opt/avi/controller/data", "/data", true},
		{"/database", "/", true}, // a name prefix is not a path prefix
		{"/mnt/my disk/avi", "/mnt/my disk", true},
		{"/mnt/my diskette", "/", true},
	}
	for _, tt := range tests {
		m, ok := h.MountOf(tt.path)
		if ok != tt.ok || m.Path != tt.want {
			t.Errorf("MountOf(%q) = %q, %v; want %q, %v", tt.path, m.Path, ok, tt.want, tt.ok)
		}
	}
	// A host without / among its local mounts (the container-like ubuntu fixture).
	u := readFixture(t, "ubuntu2204-nosystemd")
	if m, ok := u.MountOf("/opt/avi"); ok {
		t.Errorf("MountOf(/opt/avi) on a host whose / is overlay = %q, want not found", m.Path)
	}
	if m, ok := u.MountOf("/var/lib/avi/x"); !ok || m.Path != "/var/lib/avi" {
		t.Errorf("MountOf(/var/lib/avi/x) = %q, %v", m.Path, ok)
	}
	// Order of mounts does not matter: the longest prefix wins.
	rev := &Host{Mounts: []Mount{{Path: "/data/deep"}, {Path: "/data"}, {Path: "/"}}}
	if m, _ := rev.MountOf("/data/deep/x"); m.Path != "/data/deep" {
		t.Errorf("MountOf with reversed mounts = %q, want /data/deep", m.Path)
	}
	if _, ok := (&Host{}).MountOf("/"); ok {
		t.Error("MountOf on a host with no mounts must not find one")
	}
}

func TestLargestDisk(t *testing.T) {
	if _, ok := (&Host{}).LargestDisk(); ok {
		t.Error("LargestDisk on a host without mounts: want false")
	}
	h := &Host{Mounts: []Mount{
		{Path: "/", FreeBytes: 10 * tGiB},
		{Path: "/a", FreeBytes: 30 * tGiB},
		{Path: "/b", FreeBytes: 30 * tGiB},
		{Path: "/c", FreeBytes: 20 * tGiB},
	}}
	m, ok := h.LargestDisk()
	if !ok || m.Path != "/a" {
		t.Errorf("LargestDisk = %q, want /a (first of the equal largest)", m.Path)
	}
	if h.Mounts[0].Path != "/" || h.Mounts[1].Path != "/a" {
		t.Errorf("LargestDisk reordered the host's mounts: %+v", h.Mounts)
	}
}

func TestDefaultRouteInterface(t *testing.T) {
	dir := t.TempDir()
	hdr := "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
	tests := []struct {
		name, body, want string
		wantErr          bool
	}{
		{"default second", "lo\t0000007F\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\nwlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n", "wlan0", false},
		{"none", "eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n", "", true},
		{"header only", "", "", true},
	}
	for _, tt := range tests {
		p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
		writeTestFile(t, p, hdr+tt.body)
		got, err := defaultRouteInterface(p)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: defaultRouteInterface = %q, %v; want %q, err %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
	writeTestFile(t, filepath.Join(dir, "empty"), "")
	if _, err := defaultRouteInterface(filepath.Join(dir, "empty")); err == nil {
		t.Error("empty route file: want an error")
	}
}
