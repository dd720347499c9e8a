package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/avi-init/avi-init/installer/containerspec"
	"github.com/avi-init/avi-init/integrations/docker"
)

// Check is one named preflight check. Adding a check never touches the runner.
type Check interface {
	Name() string
	Check(ctx context.Context) (warnings, errs []error)
}

// CheckResult is a check's outcome, as reported.
type CheckResult struct {
	Name     string   `json:"name"`
	Warnings []string `json:"warnings,omitempty"`
	Errors   []string `json:"errors,omitempty"`
	// Ignored lists errors turned into warnings by --ignore-preflight-errors.
	Ignored []string `json:"ignored,omitempty"`
}

// ErrPreflight is returned when a check fails and its errors are not ignored.
var ErrPreflight = errors.New("preflight checks failed")

// RunChecks runs every check, prints [WARNING Name] and [ERROR Name] lines, turns the errors of
// checks named in ignore (or of all, for "all") into warnings, and fails if any error is left.
func RunChecks(ctx context.Context, checks []Check, ignore []string, w io.Writer) ([]CheckResult, error) {
	ignored := map[string]bool{}
	for _, n := range ignore {
		ignored[strings.ToLower(strings.TrimSpace(n))] = true
	}
	var results []CheckResult
	failed := 0
	for _, c := range checks {
		warns, errs := c.Check(ctx)
		res := CheckResult{Name: c.Name()}
		for _, e := range warns {
			res.Warnings = append(res.Warnings, e.Error())
			fmt.Fprintf(w, "\t[WARNING %s]: %v\n", c.Name(), e)
		}
		skip := ignored["all"] || ignored[strings.ToLower(c.Name())]
		for _, e := range errs {
			if skip {
				res.Ignored = append(res.Ignored, e.Error())
				fmt.Fprintf(w, "\t[WARNING %s]: %v (error ignored)\n", c.Name(), e)
				continue
			}
			res.Errors = append(res.Errors, e.Error())
			fmt.Fprintf(w, "\t[ERROR %s]: %v\n", c.Name(), e)
			failed++
		}
		results = append(results, res)
	}
	if failed > 0 {
		fmt.Fprintf(w, "Fix the errors above, or go on anyway with --ignore-preflight-errors=NAME,... (or all)\n")
		return results, fmt.Errorf("%w: %d error(s)", ErrPreflight, failed)
	}
	return results, nil
}

// checkFunc makes a Check of a name and a function.
type checkFunc struct {
	name string
	fn   func(ctx context.Context) (warnings, errs []error)
}

func (c checkFunc) Name() string { return c.name }
func (c checkFunc) Check(ctx context.Context) ([]error, []error) {
	return c.fn(ctx)
}

func one(err error) []error {
	if err == nil {
		return nil
	}
	return []error{err}
}

// RootCheck: the installer writes units and talks to the engine as root.
func RootCheck(euid int) Check {
	return checkFunc{"Root", func(context.Context) ([]error, []error) {
		if euid != 0 {
			return nil, one(fmt.Errorf("avi-init must run as root (run it with sudo)"))
		}
		return nil, nil
	}}
}

// supportedOS holds, per os-release ID, whether a VERSION_ID is supported.
var supportedOS = map[string]func(version string) bool{
	"debian":    func(v string) bool { return major(v) >= 12 },
	"ubuntu":    ubuntuLTS,
	"rhel":      func(v string) bool { return major(v) >= 8 },
	"rocky":     func(v string) bool { return major(v) >= 8 },
	"almalinux": func(v string) bool { return major(v) >= 8 },
	"ol":        func(v string) bool { return major(v) >= 8 },
}

func major(v string) int {
	m, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(m)
	if err != nil {
		return -1
	}
	return n
}

// ubuntuLTS: LTS releases are the April releases of even years, from 20.04 on.
func ubuntuLTS(v string) bool {
	y, m, ok := strings.Cut(v, ".")
	year, err := strconv.Atoi(y)
	return ok && err == nil && m == "04" && year%2 == 0 && year >= 20
}

// OSReleaseCheck warns on an OS avi-init is not tested on.
func OSReleaseCheck(h *Host) Check {
	return checkFunc{"OSRelease", func(context.Context) ([]error, []error) {
		id, ver := h.OSRelease["ID"], h.OSRelease["VERSION_ID"]
		if id == "" {
			return one(fmt.Errorf("no /etc/os-release: cannot tell which OS this is")), nil
		}
		ok, known := supportedOS[id]
		if !known || !ok(ver) {
			return one(fmt.Errorf("%s %s is not a supported OS (current Debian, Ubuntu LTS, RHEL/Rocky/Alma/Oracle Linux 8 and later)", id, ver)), nil
		}
		return nil, nil
	}}
}

// SystemdCheck warns that without systemd the containers run under a Docker restart policy.
func SystemdCheck(h *Host) Check {
	return checkFunc{"Systemd", func(context.Context) ([]error, []error) {
		if !h.SystemdRunning {
			return one(fmt.Errorf("systemd is not running on this host: the containers will be started with a Docker restart policy instead of systemd units")), nil
		}
		return nil, nil
	}}
}

// EngineFacts is what preflight learned of the Docker engine.
type EngineFacts struct {
	Info docker.Info
	Err  error
	// StorageFree is the free space at the engine's root directory; -1 when unknown.
	StorageFree int64
}

// DockerEngineCheck: the engine is reachable and speaks a recent enough API.
func DockerEngineCheck(f EngineFacts) Check {
	return checkFunc{"DockerEngine", func(context.Context) ([]error, []error) {
		// An engine too old for the client answers with its version and an error: it is
		// reachable, and the remedy is an upgrade, not a start.
		tooOld := apiOlder(f.Info.APIVersion, docker.MinAPIVersion)
		if f.Err != nil && (f.Info.APIVersion == "" || !tooOld) {
			return nil, one(fmt.Errorf("the Docker engine is not reachable (%v): install and start Docker", f.Err))
		}
		if tooOld {
			return nil, one(fmt.Errorf("the Docker engine API %s is older than %s: upgrade Docker", f.Info.APIVersion, docker.MinAPIVersion))
		}
		return nil, nil
	}}
}

func apiOlder(v, than string) bool {
	vm, vn, _ := strings.Cut(v, ".")
	tm, tn, _ := strings.Cut(than, ".")
	a, _ := strconv.Atoi(vm)
	b, _ := strconv.Atoi(vn)
	c, _ := strconv.Atoi(tm)
	d, _ := strconv.Atoi(tn)
	return a < c || (a == c && b < d)
}

// Docker storage needs room for the images (one binary each, sharing their layer) and the
// containers' logs.
const (
	minStorageFree  = 512 << 20
	warnStorageFree = 2 << 30
)

// DockerStorageCheck: the engine's root directory has room for the images.
func DockerStorageCheck(f EngineFacts) Check {
	return checkFunc{"DockerStorage", func(context.Context) ([]error, []error) {
		switch {
		case f.Err != nil:
			return nil, nil // DockerEngine reports it
		case f.StorageFree < 0:
			return one(fmt.Errorf("cannot see the free space at the Docker root %s from here", f.Info.RootDir)), nil
		case f.StorageFree < minStorageFree:
			return nil, one(fmt.Errorf("the Docker root %s has %d MB free; the images need at least %d MB", f.Info.RootDir, f.StorageFree>>20, minStorageFree>>20))
		case f.StorageFree < warnStorageFree:
			return one(fmt.Errorf("the Docker root %s has only %d MB free", f.Info.RootDir, f.StorageFree>>20)), nil
		}
		return nil, nil
	}}
}

// CPUCheck: the host has the cores asked for.
func CPUCheck(h *Host, r Request) Check {
	return checkFunc{"CPU", func(context.Context) ([]error, []error) {
		if r.Controller && h.CPUs < r.ControllerCores {
			return nil, one(fmt.Errorf("the controller is given %d cores; this host has %d", r.ControllerCores, h.CPUs))
		}
		return nil, nil
	}}
}

// MemoryCheck: the host has the memory asked for, beside what it keeps for itself.
func MemoryCheck(h *Host, r Request) Check {
	return checkFunc{"Memory", func(context.Context) ([]error, []error) {
		rng, err := ControllerMemory(h)
		if err != nil {
			return nil, one(err)
		}
		if r.Controller && r.ControllerMemoryGB > rng.Max {
			return nil, one(fmt.Errorf("the controller is given %d GB; this host can give at most %d GB", r.ControllerMemoryGB, rng.Max))
		}
		return nil, nil
	}}
}

// DiskFreeCheck: each data path has the space asked for. A path that already holds an
// installation only warns: its data is part of what it was given.
func DiskFreeCheck(h *Host, r Request, installed bool) Check {
	return checkFunc{"DiskFree", func(context.Context) (warns, errs []error) {
		for _, p := range []struct {
			dir string
			gb  int
		}{{r.DataDir, r.ControllerDiskGB}, {r.MetricsDir, r.MetricsDiskGB}, {r.LogsDir, r.LogsDiskGB}} {
			if p.dir == "" {
				continue
			}
			m, ok := h.MountOf(p.dir)
			if !ok {
				errs = append(errs, fmt.Errorf("%s is not on a local disk", p.dir))
				continue
			}
			if free := int(m.FreeBytes / gib); free < p.gb {
				err := fmt.Errorf("%s (on %s) has %d GB free; %d GB were asked for", p.dir, m.Path, free, p.gb)
				if installed {
					warns = append(warns, err)
				} else {
					errs = append(errs, err)
				}
			}
		}
		return warns, errs
	}}
}

// PortCheck: a port a runtime listens on is free, or held by the installation being updated.
// remedy says what the operator can do when it is not.
func PortCheck(port int, remedy string, free func(int) error, ours bool) Check {
	return checkFunc{"Port-" + strconv.Itoa(port), func(context.Context) ([]error, []error) {
		if ours {
			return nil, nil
		}
		if err := free(port); err != nil {
			return nil, one(fmt.Errorf("port %d is in use (%v): %s", port, err, remedy))
		}
		return nil, nil
	}}
}

// movableBy is the remedy for a busy port a flag can move.
func movableBy(flag string) string { return "free it or move the controller with --" + flag }

// ExistingInstallationCheck: an earlier installation is updated in place; a container of the
// same name that avi-init did not create is only replaced with -rmc.
func ExistingInstallationCheck(role string, installed bool, c *docker.Container, rmContainers bool) Check {
	name := "ExistingInstallation"
	if role == containerspec.RoleSE {
		name = "ExistingSE"
	}
	return checkFunc{name, func(context.Context) (warns, errs []error) {
		if installed {
			warns = append(warns, fmt.Errorf("the %s is already installed here: it will be updated in place, data kept", role))
		}
		if c != nil && c.Labels[containerspec.Label] == "" {
			err := fmt.Errorf("a container named %s exists that avi-init did not create: remove it, or pass -rmc to replace it", containerspec.ContainerName(role))
			if rmContainers {
				warns = append(warns, err)
			} else {
				errs = append(errs, err)
			}
		}
		return warns, errs
	}}
}
