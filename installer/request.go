package installer

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/avi-init/avi-init/installer/containerspec"
	"github.com/avi-init/avi-init/model/contract"
	"github.com/avi-init/avi-init/model/sechannel"
	"github.com/avi-init/avi-init/templates"
)

// Request is what to install, every value decided: from flags and defaults when unattended,
// from answers when interactive.
type Request struct {
	Controller         bool   `json:"run_controller"`
	SE                 bool   `json:"run_se"`
	ControllerCores    int    `json:"controller_cores"`
	ControllerMemoryGB int    `json:"controller_memory_gb"`
	ControllerDiskGB   int    `json:"controller_disk_gb"`
	DataDir            string `json:"controller_data_dir"`
	MetricsDir         string `json:"controller_metrics_dir,omitempty"`
	MetricsDiskGB      int    `json:"controller_metrics_disk_gb,omitempty"`
	LogsDir            string `json:"controller_logs_dir,omitempty"`
	LogsDiskGB         int    `json:"controller_logs_disk_gb,omitempty"`
	ControllerIP       string `json:"controller_ip"` // for an SE alone: the controller it joins
	SECores            int    `json:"se_cores,omitempty"`
	SEMemoryMB         int    `json:"se_memory_mb,omitempty"`
	SEDataDir          string `json:"se_data_dir,omitempty"`
	MgmtIP             string `json:"mgmt_ip,omitempty"`  // this host's address
	SEGroup            string `json:"se_group,omitempty"` // the group the SE joins; empty: Default-Group
	// JoinToken lets an SE alone join its controller, or a controller its cluster; it is a secret
	// and never shown.
	JoinToken string `json:"-"`
	// ClusterJoin is the node (ip or ip:port) of the cluster the controller joins.
	ClusterJoin string `json:"cluster_join,omitempty"`
	// SetupJSON is the first-boot configuration file; its content is never shown.
	SetupJSON  string `json:"setup_json,omitempty"`
	HTTPSPort  int    `json:"https_port"`
	HTTPPort   int    `json:"http_port"`
	DNSPort    int    `json:"dns_port"`
	SysintPort int    `json:"sysint_port"`
}

// Asker asks the operator. The survey prompts implement it on a terminal.
type Asker interface {
	// Ask shows msg and returns the answer; an empty answer means def. validate is called on
	// every answer and a non-nil error asks again.
	Ask(msg, def string, validate func(string) error) (string, error)
}

// Resolve decides the request. With ask nil (unattended), values come from flags and defaults and
// any bad value is a usage error; otherwise the prompt script asks for each.
func Resolve(o *Options, h *Host, ask Asker) (Request, error) {
	for _, f := range notYet {
		if o.Set(f.flag) {
			return Request{}, usagef("--%s: %s is not available in this version of avi-init yet", f.flag, f.feature)
		}
	}
	r := Request{HTTPSPort: o.HTTPSPort, HTTPPort: o.HTTPPort, DNSPort: o.DNSPort, SysintPort: o.SysintPort}
	if err := checkPorts(r); err != nil {
		return Request{}, err
	}
	p := prompter{ask: ask, o: o}
	r.Controller, r.SE = o.Controller || !o.SE, o.SE

	// A host that cannot meet a minimum is an error before any question.
	var cores, memory Range
	var err error
	if ask != nil || r.Controller {
		if cores, err = ControllerCores(h); err != nil {
			return Request{}, err
		}
		if memory, err = ControllerMemory(h); err != nil {
			return Request{}, err
		}
		// The largest disk is the best any data directory can do.
		if _, err := ControllerDisk(h, DefaultDataDir(h, containerspec.RoleController)); err != nil {
			return Request{}, err
		}
	}
	if ask != nil {
		if r.Controller, err = p.yesNo("Do you want to run Avi Controller on this Host [y/n]", true); err != nil {
			return Request{}, err
		}
		if r.SE, err = p.yesNo("Do you want to run Avi SE on this Host [y/n]", false); err != nil {
			return Request{}, err
		}
	}
	if !r.Controller && !r.SE {
		return Request{}, usagef("nothing to install: run the controller (-c) or an SE (-s)")
	}
	if r.Controller {
		if err := p.controller(&r, h, cores, memory); err != nil {
			return Request{}, err
		}
	}
	if o.SEGroup != "" && !r.SE {
		return Request{}, usagef("--se-group: only for an SE (-s)")
	}
	if r.SE {
		if err := p.serviceEngine(&r, h); err != nil {
			return Request{}, err
		}
		if err := containerspec.ValidateSEGroup(o.SEGroup); err != nil {
			return Request{}, usagef("--se-group: %v", err)
		}
		r.SEGroup = o.SEGroup
		if r.Controller {
			r.MgmtIP = r.ControllerIP
		}
	}
	if o.ClusterJoin != "" {
		if err := clusterJoin(o, &r); err != nil {
			return Request{}, err
		}
	}
	if o.SetupJSON != "" {
		if err := checkSetupFile(o.SetupJSON); err != nil {
			return Request{}, usagef("--setup-json %s: %v", o.SetupJSON, err)
		}
		r.SetupJSON = o.SetupJSON
	}
	return r, nil
}

// controller asks (or checks) the controller's sizes, directories and address. Beside an SE, it
// leaves the SE its minimum.
func (p prompter) controller(r *Request, h *Host, cores, memory Range) error {
	o := p.o
	if r.SE {
		cores.Max -= MinSECores
		memory.Max -= (MinSEMemoryMB + 1023) / 1024
		if cores.Max < cores.Min || memory.Max < memory.Min {
			return fmt.Errorf("this host cannot run the controller and an SE: together they need at least %d cores and %d GB of memory after the host's own", MinControllerCores+MinSECores, MinControllerMemoryGB+1)
		}
	}
	var err error
	if r.ControllerCores, err = p.size("controller-cores", fmt.Sprintf("Enter The Number Of Cores For Avi Controller. Range %s", cores), o.ControllerCores, cores, defaultControllerCores); err != nil {
		return err
	}
	if r.ControllerMemoryGB, err = p.size("controller-memory", fmt.Sprintf("Please Enter Memory (in GB) for Avi Controller. Range %s", memory), o.ControllerMemoryGB, memory, defaultControllerMemoryGB); err != nil {
		return err
	}
	dataDefault := DefaultDataDir(h, containerspec.RoleController)
	if r.DataDir, err = p.dir("controller-data-dir", fmt.Sprintf("Please enter directory path for Avi Controller Config (Default [%s])", dataDefault), o.ControllerDataDir, dataDefault, h, true); err != nil {
		return err
	}
	disk, err := ControllerDisk(h, r.DataDir)
	if err != nil {
		return err
	}
	if r.ControllerDiskGB, err = p.size("controller-disk", fmt.Sprintf("Please enter disk size (in GB) for Avi Controller Config (Default [%d])", disk.Clamp(defaultControllerDiskGB)), o.ControllerDiskGB, disk, defaultControllerDiskGB); err != nil {
		return err
	}

	partitions := []struct {
		what, dirFlag, diskFlag string
		dirOpt                  string
		diskOpt                 int
		dir                     *string
		disk                    *int
	}{
		{"Metrics", "controller-metrics-dir", "controller-metrics-disk", o.MetricsDir, o.MetricsDiskGB, &r.MetricsDir, &r.MetricsDiskGB},
		{"Client Logs", "controller-logs-dir", "controller-logs-disk", o.LogsDir, o.LogsDiskGB, &r.LogsDir, &r.LogsDiskGB},
	}
	for _, part := range partitions {
		msg := fmt.Sprintf("Do you have a separate partition for Avi Controller %s? If yes, enter its directory path, else leave it blank", part.what)
		if *part.dir, err = p.dir(part.dirFlag, msg, part.dirOpt, "", h, false); err != nil {
			return err
		}
		if *part.dir == "" {
			if o.Set(part.diskFlag) {
				return usagef("--%s needs --%s", part.diskFlag, part.dirFlag)
			}
			continue
		}
		rng, err := ControllerDisk(h, *part.dir)
		if err != nil {
			return p.fail(err)
		}
		msg = fmt.Sprintf("Please enter disk size (in GB) for Avi Controller %s. Range %s", part.what, rng)
		if *part.disk, err = p.size(part.diskFlag, msg, part.diskOpt, rng, defaultControllerDiskGB); err != nil {
			return err
		}
	}
	if o.Set("master-controller-ip") || (o.Set("join-token") && o.ClusterJoin == "") {
		return usagef("-m and --join-token name another controller for an SE alone; with -c the SE joins this controller")
	}
	r.ControllerIP, err = p.ip(o.ControllerIP, h.DefaultIP)
	return err
}

// clusterJoin checks --cluster-join: a controller alone, no first-boot configuration of its own,
// a node address and a cluster join token.
func clusterJoin(o *Options, r *Request) error {
	switch {
	case !r.Controller:
		return usagef("--cluster-join: only a controller (-c) joins a controller cluster")
	case r.SE:
		return usagef("--cluster-join with -s: install the controller first; once it has joined, install the SE with the join command the cluster's UI shows")
	case o.SetupJSON != "":
		return usagef("--cluster-join with --setup-json: a joining controller takes the cluster's configuration; leave --setup-json out")
	}
	host, port, err := net.SplitHostPort(o.ClusterJoin)
	if err != nil {
		host, port = o.ClusterJoin, ""
	}
	if err := checkIP(host); err != nil {
		return usagef("--cluster-join %q: %v; want the IP[:PORT] of a node of the cluster", o.ClusterJoin, err)
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return usagef("--cluster-join %q: port %q: want 1 to 65535", o.ClusterJoin, port)
		}
	}
	if o.JoinToken == "" {
		return usagef("--cluster-join needs the cluster's join token (POST /api/cluster/jointoken on the cluster makes one): set AVI_JOIN_TOKEN or use --join-token-file, which keep it off the command line")
	}
	if _, err := sechannel.ParseToken(o.JoinToken); err != nil {
		return usagef("--cluster-join: the join token: %v", err)
	}
	r.ClusterJoin, r.JoinToken = o.ClusterJoin, o.JoinToken
	return nil
}

// serviceEngine asks (or checks) the SE's sizes and directory, and, for an SE alone, the
// controller it joins and its join token. Beside a controller, the SE gets what it leaves.
func (p prompter) serviceEngine(r *Request, h *Host) error {
	o := p.o
	cores, err := SECores(h, r.ControllerCores)
	if err != nil {
		return err
	}
	memory, err := SEMemory(h, r.ControllerMemoryGB)
	if err != nil {
		return err
	}
	if !r.Controller {
		if r.ControllerIP, err = p.master(o.MasterIP); err != nil {
			return err
		}
		if r.JoinToken, err = p.token(o.JoinToken); err != nil {
			return err
		}
		if r.MgmtIP, err = p.seMgmtIP(o.ControllerIP, h.DefaultIP, r.ControllerIP); err != nil {
			return err
		}
	}
	if r.SECores, err = p.size("se-cores", fmt.Sprintf("Enter The Number Of Cores For Avi SE. Range %s", cores), o.SECores, cores, 1); err != nil {
		return err
	}
	if r.SEMemoryMB, err = p.size("se-memory-mb", fmt.Sprintf("Please Enter Memory (in MB) for Avi SE. Range %s", memory), o.SEMemoryMB, memory, defaultSEMemoryMB); err != nil {
		return err
	}
	def := DefaultDataDir(h, containerspec.RoleSE)
	r.SEDataDir, err = p.dir("se-data-dir", fmt.Sprintf("Please enter directory path for Avi SE data (Default [%s])", def), o.SEDataDir, def, h, true)
	return err
}

// master is the controller an SE alone joins (-m).
func (p prompter) master(given string) (string, error) {
	if p.ask == nil {
		if given == "" {
			return "", usagef("an SE alone joins a controller: give its address with -m IP and a token with --join-token, --join-token-file or AVI_JOIN_TOKEN")
		}
		if err := checkIP(given); err != nil {
			return "", usagef("-m: %v", err)
		}
		return given, nil
	}
	return p.ask.Ask("Please enter the IP of the Avi Controller this SE joins", given, checkIP)
}

// seMgmtIP is the address an SE alone reports to its controller: -i IP when given (the address
// the controller reached the host at, when it deploys over SSH), else the default route's,
// else the controller's own as a last resort.
func (p prompter) seMgmtIP(given, detected, controllerIP string) (string, error) {
	if given != "" && given != detectIP {
		if err := checkIP(given); err != nil {
			return "", usagef("--controller-ip: %v", err)
		}
		return given, nil
	}
	if detected == "" {
		return controllerIP, nil
	}
	return detected, nil
}

// token is the join token of an SE alone: from --join-token, --join-token-file, AVI_JOIN_TOKEN, or asked.
func (p prompter) token(given string) (string, error) {
	check := func(s string) error {
		_, err := sechannel.ParseToken(s)
		return err
	}
	if p.ask == nil {
		if given == "" {
			return "", usagef("an SE alone needs a join token: --join-token TOKEN, --join-token-file FILE (- for standard input) or AVI_JOIN_TOKEN (create one on the controller's Service Engines page)")
		}
		if err := check(given); err != nil {
			return "", usagef("--join-token: %v", err)
		}
		return given, nil
	}
	return p.ask.Ask("Please enter the join token (from the controller's Service Engines page)", given, check)
}

// checkSetupFile reads the first-boot configuration as the controller will, so that a mistake
// is reported now rather than at first boot.
func checkSetupFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	_, err = contract.ParseSetup(data)
	return err
}

func checkPorts(r Request) error {
	seen := map[int]string{}
	for _, p := range []struct {
		flag string
		port int
	}{{"https-port", r.HTTPSPort}, {"http-port", r.HTTPPort}, {"dns-port", r.DNSPort}, {"sysint-port", r.SysintPort}} {
		if p.port < 1 || p.port > 65535 {
			return usagef("--%s %d: a port is 1-65535", p.flag, p.port)
		}
		if other, ok := seen[p.port]; ok {
			return usagef("--%s and --%s are both %d: each controller port must differ", other, p.flag, p.port)
		}
		seen[p.port] = p.flag
	}
	return nil
}

// prompter asks when interactive and otherwise checks the flag's value, so that both modes apply
// the same rules.
type prompter struct {
	ask Asker
	o   *Options
}

// fail turns a rule's error into a usage error when unattended (the flags were wrong).
func (p prompter) fail(err error) error {
	if p.ask == nil {
		return &UsageError{Err: err}
	}
	return err
}

func (p prompter) yesNo(msg string, def bool) (bool, error) {
	d := "n"
	if def {
		d = "y"
	}
	ans, err := p.ask.Ask(msg, d, func(s string) error {
		switch strings.ToLower(s) {
		case "y", "yes", "n", "no":
			return nil
		}
		return fmt.Errorf("answer y or n")
	})
	if err != nil {
		return false, err
	}
	return strings.HasPrefix(strings.ToLower(ans), "y"), nil
}

func (p prompter) size(flag, msg string, given int, r Range, def int) (int, error) {
	check := func(v int) error {
		if !r.Contains(v) {
			return fmt.Errorf("%d is out of range: this host allows %s", v, r)
		}
		return nil
	}
	if p.ask == nil {
		if !p.o.Set(flag) {
			return r.Clamp(def), nil
		}
		if err := check(given); err != nil {
			return 0, usagef("--%s: %v", flag, err)
		}
		return given, nil
	}
	ans, err := p.ask.Ask(msg, fmt.Sprint(r.Clamp(def)), func(s string) error {
		var v int
		if _, err := fmt.Sscanf(s, "%d", &v); err != nil || fmt.Sprint(v) != s {
			return fmt.Errorf("%q is not a whole number", s)
		}
		return check(v)
	})
	if err != nil {
		return 0, err
	}
	var v int
	fmt.Sscanf(ans, "%d", &v)
	return v, nil
}

// checkDir accepts a data directory: an absolute, clean path that a unit can carry, on a local
// disk with at least the minimum free.
func checkDir(h *Host, dir string) error {
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("%q is not an absolute path", dir)
	}
	dir = filepath.Clean(dir)
	if err := templates.ValidatePath("directory", dir); err != nil {
		return err
	}
	_, err := ControllerDisk(h, dir)
	return err
}

func (p prompter) dir(flag, msg, given, def string, h *Host, required bool) (string, error) {
	if p.ask == nil {
		if !p.o.Set(flag) {
			return def, nil
		}
		if err := checkDir(h, given); err != nil {
			return "", usagef("--%s: %v", flag, err)
		}
		return filepath.Clean(given), nil
	}
	ans, err := p.ask.Ask(msg, def, func(s string) error {
		if s == "" && !required {
			return nil
		}
		return checkDir(h, s)
	})
	if err != nil || ans == "" {
		return "", err
	}
	return filepath.Clean(ans), nil
}

func checkIP(s string) error {
	if net.ParseIP(s) == nil {
		return fmt.Errorf("%q is not an IP address", s)
	}
	return nil
}

func (p prompter) ip(given, detected string) (string, error) {
	if p.ask == nil {
		if given == "" || given == detectIP {
			if detected == "" {
				return "", usagef("cannot detect the controller IP: this host has no default route; give it with -i IP")
			}
			return detected, nil
		}
		if err := checkIP(given); err != nil {
			return "", usagef("--controller-ip: %v", err)
		}
		return given, nil
	}
	return p.ask.Ask(fmt.Sprintf("Please enter Controller IP (Default [%s])", detected), detected, checkIP)
}

// PrintSummary writes the summary block shown before anything is changed.
func PrintSummary(w io.Writer, r Request) {
	yes := map[bool]string{true: "Yes", false: "No"}
	fmt.Fprintf(w, "Run SE           : %s\n", yes[r.SE])
	fmt.Fprintf(w, "Run Controller   : %s\n", yes[r.Controller])
	if r.Controller {
		fmt.Fprintf(w, "Controller Cores : %d\n", r.ControllerCores)
		fmt.Fprintf(w, "Memory(GB)       : %d\n", r.ControllerMemoryGB)
		fmt.Fprintf(w, "Disk(GB)         : %d\n", r.ControllerDiskGB)
	}
	fmt.Fprintf(w, "Controller IP    : %s\n", r.ControllerIP)
	if r.ClusterJoin != "" {
		fmt.Fprintf(w, "Cluster Join     : %s\n", r.ClusterJoin)
	}
	if r.SE {
		fmt.Fprintf(w, "SE Cores         : %d\n", r.SECores)
		fmt.Fprintf(w, "SE Memory(MB)    : %d\n", r.SEMemoryMB)
	}
}
