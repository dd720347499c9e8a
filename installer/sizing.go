package installer

import "fmt"

// The smallest sizes our runtimes work in, and why:
//   - controller, 1 core: one Go process whose work (API, TLS handshakes, pushing snapshots to SEs)
//     is light; more cores only help large fleets.
//   - controller, 1 GB: the runtime idles under 50 MB and is held to 300 MB with 10,000 virtual
//     services; the rest is headroom for analytics kept in memory.
//   - controller, 1 GB of disk: the configuration store, certificates and bounded analytics.
//   - SE, 1 core and 512 MB: one proxy process with its connection buffers.
//   - the host keeps 512 MB for its own OS and the Docker engine.
const (
	MinControllerCores    = 1
	MinControllerMemoryGB = 1
	MinControllerDiskGB   = 1
	MinSECores            = 1
	MinSEMemoryMB         = 512
	HostReserveMB         = 512

	defaultControllerCores    = 4
	defaultControllerMemoryGB = 8
	defaultControllerDiskGB   = 10
	defaultSEMemoryMB         = 2048

	mib = 1 << 20
	gib = 1 << 30
)

// Range is an inclusive range of sizes. Min <= Max always holds for a Range the sizing rules
// return; a host that cannot give the minimum is an error instead.
type Range struct {
	Min, Max int
}

func (r Range) String() string { return fmt.Sprintf("[%d, %d]", r.Min, r.Max) }

// Contains reports whether v is in the range.
func (r Range) Contains(v int) bool { return v >= r.Min && v <= r.Max }

// Clamp returns the value of the range closest to v.
func (r Range) Clamp(v int) int { return max(r.Min, min(r.Max, v)) }

func newRange(what string, lo, hi int, unit string) (Range, error) {
	if hi < lo {
		return Range{}, fmt.Errorf("this host cannot run the %s: it needs at least %d %s, and the host has %d", what, lo, unit, max(hi, 0))
	}
	return Range{lo, hi}, nil
}

// ControllerCores is the range of controller cores this host allows.
func ControllerCores(h *Host) (Range, error) {
	return newRange("controller", MinControllerCores, h.CPUs, "cores")
}

// ControllerMemory is the range of controller memory (GB) this host allows.
func ControllerMemory(h *Host) (Range, error) {
	avail := (int64(h.MemoryBytes) - HostReserveMB*mib) / gib
	return newRange("controller", MinControllerMemoryGB, int(avail), "GB of memory (after 512 MB kept for the host)")
}

// ControllerDisk is the range of controller disk (GB) the free space at dir allows.
func ControllerDisk(h *Host, dir string) (Range, error) {
	m, ok := h.MountOf(dir)
	if !ok {
		return Range{}, fmt.Errorf("controller data directory %s is not on a local disk (tmpfs and overlay do not keep data)", dir)
	}
	return newRange("controller", MinControllerDiskGB, int(m.FreeBytes/gib), fmt.Sprintf("GB free at %s", m.Path))
}

// SECores is the range of SE cores: what the controller leaves when it runs here too.
func SECores(h *Host, controllerCores int) (Range, error) {
	return newRange("SE", MinSECores, h.CPUs-controllerCores, "cores left by the controller")
}

// SEMemory is the range of SE memory (MB): what the host and the controller leave.
func SEMemory(h *Host, controllerMemoryGB int) (Range, error) {
	avail := int64(h.MemoryBytes)/mib - HostReserveMB - int64(controllerMemoryGB)*1024
	return newRange("SE", MinSEMemoryMB, int(avail), "MB of memory left by the host and the controller")
}

// DefaultDataDir is where a role keeps its data unless told otherwise: on the local disk with
// the most free space, as Avi's installer chooses.
func DefaultDataDir(h *Host, role string) string {
	dir := "/opt/avi/" + role + "/data"
	m, ok := h.LargestDisk() // only mounts whose path a unit can carry
	if !ok || m.Path == "/" {
		return dir
	}
	return m.Path + dir
}
