// Package containerspec turns a role's settings into the container the supervisor or the
// installer creates. The settings travel in the role's env file, so the installer (which writes
// it) and the supervisor (which systemd starts with it) derive the same container from one
// source.
package containerspec

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/avi-init/avi-init/integrations/docker"
	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/contract"
	"github.com/avi-init/avi-init/templates"
)

// Roles and the fixed names Avi uses for them.
const (
	RoleController = "controller"
	RoleSE         = "se"

	// DataMount is where a role's data directory appears inside its container.
	DataMount = "/vol"
	// BinaryInImage is where the avi-init executable sits in the images it builds.
	BinaryInImage = "/avi-init"
	// Label marks containers avi-init owns; LabelConfig carries the hash of their settings.
	Label       = "io.avi-init.role"
	LabelConfig = "io.avi-init.config"
)

// ContainerName returns Avi's container name for a role.
func ContainerName(role string) string {
	if role == RoleSE {
		return "avise"
	}
	return "avicontroller"
}

// UnitName returns the systemd unit of a role.
func UnitName(role string) string { return ContainerName(role) + ".service" }

// Settings are everything that decides a role's container.
type Settings struct {
	Role         string
	Image        string
	Cores        int
	MemoryMB     int
	DataDir      string
	DiskGB       int
	MetricsDir   string
	LogsDir      string
	ControllerIP string // the controller's management IP (for an SE: the controller it joins)
	MgmtIP       string // this host's management IP
	HTTPSPort    int
	HTTPPort     int
	DNSPort      int
	SysintPort   int
	SEGroup      string // the group an SE joins; empty: Default-Group
}

// field binds one env variable to one Settings field, so that writing and reading the env
// file are the same table read in two directions.
type field struct {
	key string
	str *string
	num *int
	// optional: an env file written before the setting existed may lack it (empty).
	optional bool
}

func (s *Settings) fields() []field {
	return []field{
		{key: "AVI_ROLE", str: &s.Role},
		{key: "AVI_IMAGE", str: &s.Image},
		{key: "AVI_CORES", num: &s.Cores},
		{key: "AVI_MEMORY_MB", num: &s.MemoryMB},
		{key: "AVI_DATA_DIR", str: &s.DataDir},
		{key: "AVI_DISK_GB", num: &s.DiskGB},
		{key: "AVI_METRICS_DIR", str: &s.MetricsDir},
		{key: "AVI_LOGS_DIR", str: &s.LogsDir},
		{key: "AVI_CONTROLLER_IP", str: &s.ControllerIP},
		{key: "AVI_MGMT_IP", str: &s.MgmtIP},
		{key: "AVI_HTTPS_PORT", num: &s.HTTPSPort},
		{key: "AVI_HTTP_PORT", num: &s.HTTPPort},
		{key: "AVI_DNS_PORT", num: &s.DNSPort},
		{key: "AVI_SYSINT_PORT", num: &s.SysintPort},
		{key: "AVI_SE_GROUP", str: &s.SEGroup, optional: true},
	}
}

// Env returns the settings as env file lines, in a fixed order.
func (s Settings) Env() []templates.KV {
	var kvs []templates.KV
	for _, f := range s.fields() {
		v := ""
		if f.str != nil {
			v = *f.str
		} else {
			v = strconv.Itoa(*f.num)
		}
		kvs = append(kvs, templates.KV{Key: f.key, Value: v})
	}
	return kvs
}

// FromEnv reads settings back with lookup (os.LookupEnv for the supervisor, a parsed env file
// for the installer) and checks them.
func FromEnv(lookup func(string) (string, bool)) (Settings, error) {
	var s Settings
	for _, f := range s.fields() {
		v, ok := lookup(f.key)
		if !ok && f.optional {
			continue
		}
		if !ok {
			return Settings{}, fmt.Errorf("setting %s is missing", f.key)
		}
		if f.str != nil {
			*f.str = v
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return Settings{}, fmt.Errorf("setting %s=%q: not a number", f.key, v)
		}
		*f.num = n
	}
	return s, s.Validate()
}

// Validate checks the settings make a container.
func (s Settings) Validate() error {
	if s.Role != RoleController && s.Role != RoleSE {
		return fmt.Errorf("role %q: want %s or %s", s.Role, RoleController, RoleSE)
	}
	if s.Image == "" {
		return fmt.Errorf("%s image is not set", s.Role)
	}
	if s.Cores < 1 || s.MemoryMB < 1 {
		return fmt.Errorf("%s size %d cores, %d MB: both must be positive", s.Role, s.Cores, s.MemoryMB)
	}
	for _, p := range []struct {
		name string
		dir  string
		need bool
	}{{"data", s.DataDir, true}, {"metrics", s.MetricsDir, false}, {"logs", s.LogsDir, false}} {
		if p.dir == "" && !p.need {
			continue
		}
		if err := templates.ValidatePath(s.Role+" "+p.name+" directory", p.dir); err != nil {
			return err
		}
	}
	ports := map[string]int{"sysint": s.SysintPort}
	if s.Role == RoleController {
		ports["https"], ports["http"], ports["dns"] = s.HTTPSPort, s.HTTPPort, s.DNSPort
	}
	for name, port := range ports {
		if port < 1 || port > 65535 {
			return fmt.Errorf("%s port %d: want 1-65535", name, port)
		}
	}
	if net.ParseIP(s.ControllerIP) == nil {
		return fmt.Errorf("controller IP %q is not an IP address", s.ControllerIP)
	}
	return ValidateSEGroup(s.SEGroup)
}

// ValidateSEGroup checks a service engine group name as the SE's env file and command line
// carry it to its join: a value an env file keeps as is, of a name's length, and not read as a
// flag. Empty is Default-Group.
func ValidateSEGroup(name string) error {
	if name == "" {
		return nil
	}
	if utf8.RuneCountInString(name) > avi.MaxNameLength || strings.HasPrefix(name, "-") {
		return fmt.Errorf("service engine group %q: want a group name of at most %d characters, not starting with '-'", name, avi.MaxNameLength)
	}
	return templates.ValidateValue("service engine group", name)
}

// Spec returns the container for these settings. hash identifies the settings and is kept as a
// label, so a re-run can tell whether the running container is current.
func (s Settings) Spec(hash string) docker.ContainerSpec {
	if s.Role == RoleSE {
		return s.seSpec(hash)
	}
	ports := []string{
		"--https-port", strconv.Itoa(s.HTTPSPort),
		"--http-port", strconv.Itoa(s.HTTPPort),
		"--sysint-port", strconv.Itoa(s.SysintPort),
		"--dns-port", strconv.Itoa(s.DNSPort),
		"--disk-gb", strconv.Itoa(s.DiskGB),
	}
	cmd := append([]string{s.Role, "--data", DataMount, "--ip", s.ControllerIP}, ports...)
	health := []string{BinaryInImage, "probe", s.Role, "--data", DataMount, "--https-port", strconv.Itoa(s.HTTPSPort)}
	// The cluster's leader holds the cluster's virtual IP, as SEs hold theirs: adding it
	// needs NET_ADMIN, announcing it (gratuitous ARP) NET_RAW. It may be set at any time
	// through the API, so the controller always has them.
	return s.spec(hash, cmd, health, []string{"NET_ADMIN", "NET_RAW"})
}

// spec is the container every role gets: its sizes as limits, its directories, its labels, and,
// of the capabilities, NET_BIND_SERVICE (both roles bind ports, possibly below 1024) and the
// role's own.
func (s Settings) spec(hash string, cmd, health, caps []string) docker.ContainerSpec {
	return docker.ContainerSpec{
		Name:        ContainerName(s.Role),
		Image:       s.Image,
		Cmd:         cmd,
		NanoCPUs:    int64(s.Cores) * 1e9,
		MemoryBytes: int64(s.MemoryMB) << 20,
		Binds:       s.binds(),
		Labels:      map[string]string{Label: s.Role, LabelConfig: hash},
		CapAdd:      append([]string{"NET_BIND_SERVICE"}, caps...),
		Health:      health,
	}
}

// binds mounts the data directory, and below it the separate partitions that are set: metrics
// (the controller's only) and client logs.
func (s Settings) binds() []string {
	binds := []string{s.DataDir + ":" + DataMount}
	if s.MetricsDir != "" && s.Role == RoleController {
		binds = append(binds, s.MetricsDir+":"+DataMount+"/metrics")
	}
	if s.LogsDir != "" {
		binds = append(binds, s.LogsDir+":"+DataMount+"/logs")
	}
	return binds
}

// seSpec is the service engine's container: it joins the controller on its sysint port.
func (s Settings) seSpec(hash string) docker.ContainerSpec {
	cmd := []string{RoleSE, "--data", DataMount,
		"--controller", net.JoinHostPort(s.ControllerIP, strconv.Itoa(s.SysintPort)),
		"--join-token-file", DataMount + "/" + contract.JoinTokenFile}
	if s.MgmtIP != "" {
		cmd = append(cmd, "--mgmt-ip", s.MgmtIP)
	}
	if s.SEGroup != "" {
		cmd = append(cmd, "--se-group", s.SEGroup)
	}
	// NET_ADMIN: a north-south VIP no interface holds yet is added to one (runtime/se/vip).
	// NET_RAW: the VIP is then announced with gratuitous ARP and an unsolicited neighbour
	// advertisement, sent on raw sockets, so that the LAN follows a VIP that moved here.
	return s.spec(hash, cmd, []string{BinaryInImage, "probe", s.Role, "--data", DataMount}, []string{"NET_ADMIN", "NET_RAW"})
}

// Hash identifies the settings: equal settings, equal hash.
func (s Settings) Hash() string {
	h := sha256.New()
	for _, kv := range s.Env() {
		fmt.Fprintf(h, "%s=%s\n", kv.Key, kv.Value)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
