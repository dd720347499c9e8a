package installer

import (
	"strings"
	"testing"
)

func TestControllerCores(t *testing.T) {
	tests := []struct {
		cpus    int
		want    Range
		wantErr string
	}{
		{cpus: 0, wantErr: "cores"},
		{cpus: 1, want: Range{1, 1}},
		{cpus: 2, want: Range{1, 2}},
		{cpus: 64, want: Range{1, 64}},
	}
	for _, tt := range tests {
		got, err := ControllerCores(&Host{CPUs: tt.cpus})
		checkRange(t, "ControllerCores", tt.cpus, got, err, tt.want, tt.wantErr)
	}
}

func TestControllerMemory(t *testing.T) {
	tests := []struct {
		name    string
		mem     uint64
		want    Range
		wantErr string
	}{
		// 512 MB stay with the host; whole GB only.
		{name: "0", mem: 0, wantErr: "at least 1 GB of memory"},
		{name: "256 MiB", mem: 256 * tMiB, wantErr: "at least 1 GB of memory"},
		{name: "1 GiB", mem: 1 * tGiB, wantErr: "at least 1 GB of memory"},
		{name: "1.4 GiB", mem: 14 * tGiB / 10, wantErr: "at least 1 GB of memory"},
		{name: "1.5 GiB", mem: 1536 * tMiB, want: Range{1, 1}},
		{name: "2 GiB", mem: 2 * tGiB, want: Range{1, 1}},
		{name: "2.5 GiB", mem: 2560 * tMiB, want: Range{1, 2}},
		{name: "8 GiB", mem: 8 * tGiB, want: Range{1, 7}},
		{name: "24 GiB", mem: 24 * tGiB, want: Range{1, 23}},
		{name: "256 GiB", mem: 256 * tGiB, want: Range{1, 255}},
	}
	for _, tt := range tests {
		got, err := ControllerMemory(&Host{MemoryBytes: tt.mem})
		checkRange(t, "ControllerMemory "+tt.name, tt.mem, got, err, tt.want, tt.wantErr)
	}
}

func TestControllerDisk(t *testing.T) {
	h := &Host{Mounts: []Mount{
		{Path: "/", FreeBytes: 500 * 1000 * 1000, TotalBytes: 8 * tGiB},
		{Path: "/data", FreeBytes: 500 * tGiB, TotalBytes: 1024 * tGiB},
		{Path: "/small", FreeBytes: tGiB + tGiB/2},
		{Path: "/exact", FreeBytes: tGiB},
	}}
	tests := []struct {
		dir     string
		want    Range
		wantErr string
	}{
		{dir: "/opt/avi/controller/data", wantErr: "at least 1 GB free at /"},
		{dir: "/data/opt/avi/controller/data", want: Range{1, 500}},
		{dir: "/data", want: Range{1, 500}},
		{dir: "/small/x", want: Range{1, 1}},
		{dir: "/exact", want: Range{1, 1}},
	}
	for _, tt := range tests {
		got, err := ControllerDisk(h, tt.dir)
		checkRange(t, "ControllerDisk", tt.dir, got, err, tt.want, tt.wantErr)
	}
	// Not on a local disk at all.
	if _, err := ControllerDisk(&Host{Mounts: []Mount{{Path: "/data", FreeBytes: 100 * tGiB}}}, "/opt/avi"); err == nil ||
		!strings.Contains(err.Error(), "/opt/avi") || !strings.Contains(err.Error(), "not on a local disk") {
		t.Errorf("ControllerDisk off any local mount: err = %v, want one naming the dir and saying it is not on a local disk", err)
	}
}

func TestSECores(t *testing.T) {
	tests := []struct {
		cpus, controller int
		want             Range
		wantErr          string
	}{
		{cpus: 1, controller: 0, want: Range{1, 1}},
		{cpus: 1, controller: 1, wantErr: "at least 1 cores"},
		{cpus: 2, controller: 1, want: Range{1, 1}},
		{cpus: 2, controller: 2, wantErr: "cores left by the controller"},
		{cpus: 64, controller: 4, want: Range{1, 60}},
	}
	for _, tt := range tests {
		got, err := SECores(&Host{CPUs: tt.cpus}, tt.controller)
		checkRange(t, "SECores", [2]int{tt.cpus, tt.controller}, got, err, tt.want, tt.wantErr)
	}
}

func TestSEMemory(t *testing.T) {
	tests := []struct {
		name       string
		mem        uint64
		controller int
		want       Range
		wantErr    string
	}{
		{name: "1 GiB alone", mem: 1 * tGiB, controller: 0, want: Range{512, 512}},
		{name: "1 GiB with controller", mem: 1 * tGiB, controller: 1, wantErr: "at least 512 MB"},
		{name: "1.4 GiB alone", mem: 14 * tGiB / 10, controller: 0, want: Range{512, 921}},
		{name: "2 GiB with 1 GB controller", mem: 2 * tGiB, controller: 1, want: Range{512, 512}},
		{name: "24 GiB with 8 GB controller", mem: 24 * tGiB, controller: 8, want: Range{512, 24*1024 - 512 - 8*1024}},
		{name: "24 GiB with 23 GB controller", mem: 24 * tGiB, controller: 23, want: Range{512, 512}},
		{name: "24 GiB less 100 MiB with 23 GB controller", mem: 24*tGiB - 100*tMiB, controller: 23, wantErr: "MB of memory left"},
	}
	for _, tt := range tests {
		got, err := SEMemory(&Host{MemoryBytes: tt.mem}, tt.controller)
		checkRange(t, "SEMemory "+tt.name, tt.mem, got, err, tt.want, tt.wantErr)
	}
}

// checkRange asserts a sizing rule's result: either the wanted range (with Min <= Max) or an
// error mentioning wantErr and "this host cannot run".
func checkRange(t *testing.T, fn string, in any, got Range, err error, want Range, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil {
			t.Errorf("%s(%v) = %v, want an error mentioning %q", fn, in, got, wantErr)
			return
		}
		if !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s(%v) error %q does not mention %q", fn, in, err, wantErr)
		}
		if !strings.Contains(err.Error(), "needs at least") {
			t.Errorf("%s(%v) error %q does not say what is needed", fn, in, err)
		}
		return
	}
	if err != nil {
		t.Errorf("%s(%v): unexpected error %v", fn, in, err)
		return
	}
	if got != want {
		t.Errorf("%s(%v) = %v, want %v", fn, in, got, want)
	}
	if got.Min > got.Max {
		t.Errorf("%s(%v) = %v: Min > Max", fn, in, got)
	}
}

// Whatever the host, a range the rules return has Min <= Max, and the minimums are the
// documented ones.
func TestRangesAlwaysOrdered(t *testing.T) {
	for cpus := 0; cpus <= 130; cpus++ {
		for _, mem := range []uint64{0, 100 * tMiB, 512 * tMiB, tGiB, 1536 * tMiB, 3 * tGiB, 17 * tGiB, 1 << 40} {
			h := &Host{CPUs: cpus, MemoryBytes: mem, Mounts: []Mount{{Path: "/", FreeBytes: mem}}}
			for name, fn := range map[string]func() (Range, error){
				"ControllerCores":  func() (Range, error) { return ControllerCores(h) },
				"ControllerMemory": func() (Range, error) { return ControllerMemory(h) },
				"ControllerDisk":   func() (Range, error) { return ControllerDisk(h, "/x") },
				"SECores":          func() (Range, error) { return SECores(h, cpus/2) },
				"SEMemory":         func() (Range, error) { return SEMemory(h, 1) },
			} {
				r, err := fn()
				if err == nil && (r.Min > r.Max || r.Min < 1) {
					t.Fatalf("%s on %d CPUs, %d bytes = %v", name, cpus, mem, r)
				}
				if err != nil && !strings.Contains(err.Error(), "this host cannot run") {
					t.Fatalf("%s: error %q does not say the host cannot run it", name, err)
				}
			}
		}
	}
}

func TestRange(t *testing.T) {
	r := Range{2, 8}
	tests := []struct {
		v, clamp int
		contains bool
	}{
		{-5, 2, false}, {0, 2, false}, {1, 2, false}, {2, 2, true}, {5, 5, true}, {8, 8, true}, {9, 8, false}, {99, 8, false},
	}
	for _, tt := range tests {
		if got := r.Clamp(tt.v); got != tt.clamp {
			t.Errorf("%v.Clamp(%d) = %d, want %d", r, tt.v, got, tt.clamp)
		}
		if got := r.Contains(tt.v); got != tt.contains {
			t.Errorf("%v.Contains(%d) = %v, want %v", r, tt.v, got, tt.contains)
		}
	}
	if got := (Range{1, 1}).Clamp(4); got != 1 {
		t.Errorf("[1, 1].Clamp(4) = %d", got)
	}
	if got := (Range{1, 2}).String(); got != "[1, 2]" {
		t.Errorf("String = %q, want the prompt script's [MIN, MAX] form", got)
	}
}

func TestDefaultDataDir(t *testing.T) {
	tests := []struct {
		name   string
		mounts []Mount
		want   string
	}{
		{"no mounts", nil, "/opt/avi/controller/data"},
		{"root largest", []Mount{{Path: "/", FreeBytes: 100 * tGiB}, {Path: "/data", FreeBytes: 10 * tGiB}}, "/opt/avi/controller/data"},
		{"data largest", []Mount{{Path: "/", FreeBytes: 10 * tGiB}, {Path: "/data", FreeBytes: 100 * tGiB}}, "/data/opt/avi/controller/data"},
		{"nested largest", []Mount{{Path: "/", FreeBytes: 10 * tGiB}, {Path: "/srv/disk1", FreeBytes: 11 * tGiB}}, "/srv/disk1/opt/avi/controller/data"},
	}
	for _, tt := range tests {
		if got := DefaultDataDir(&Host{Mounts: tt.mounts}, "controller"); got != tt.want {
			t.Errorf("%s: DefaultDataDir = %q, want %q", tt.name, got, tt.want)
		}
	}
	// On the fixtures.
	for name, want := range map[string]string{
		"debian12-systemd":     "/data/opt/avi/controller/data",
		"rocky9":               "/opt/avi/controller/data",
		"ubuntu2204-nosystemd": "/var/lib/avi/opt/avi/controller/data",
	} {
		if got := DefaultDataDir(readFixture(t, name), "controller"); got != want {
			t.Errorf("%s: DefaultDataDir = %q, want %q", name, got, want)
		}
	}
}

// Sizing on the fixture hosts, from the numbers in their /proc files.
func TestSizingOnFixtures(t *testing.T) {
	tests := []struct {
		name          string
		cores, memory Range
		memErr        string
	}{
		{name: "debian12-systemd", cores: Range{1, 4}, memory: Range{1, 15}},    // 16315464 kB
		{name: "ubuntu2204-nosystemd", cores: Range{1, 2}, memory: Range{1, 7}}, // 8145060 kB
		{name: "rocky9", cores: Range{1, 8}, memory: Range{1, 30}},              // 32594148 kB
		{name: "centos7", cores: Range{1, 2}, memory: Range{1, 3}},              // 3880412 kB
		{name: "alpine-no-osrelease", cores: Range{1, 2}, memory: Range{1, 1}},  // 2041232 kB
		{name: "tiny", cores: Range{1, 1}, memErr: "needs at least 1 GB"},       // 1014660 kB
	}
	for _, tt := range tests {
		h := readFixture(t, tt.name)
		c, err := ControllerCores(h)
		if err != nil || c != tt.cores {
			t.Errorf("%s: ControllerCores = %v, %v; want %v", tt.name, c, err, tt.cores)
		}
		m, err := ControllerMemory(h)
		if tt.memErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.memErr) {
				t.Errorf("%s: ControllerMemory = %v, %v; want an error mentioning %q", tt.name, m, err, tt.memErr)
			}
			continue
		}
		if err != nil || m != tt.memory {
			t.Errorf("%s: ControllerMemory = %v, %v; want %v", tt.name, m, err, tt.memory)
		}
	}
	// tiny's / has 500 MB free: not enough for the controller's disk.
	if _, err := ControllerDisk(readFixture(t, "tiny"), "/opt/avi/controller/data"); err == nil || !strings.Contains(err.Error(), "1 GB free at /") {
		t.Errorf("tiny: ControllerDisk err = %v, want one saying 1 GB free at / is needed", err)
	}
}
