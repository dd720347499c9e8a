package installer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/avi-init/avi-init/model/contract"
)

// legacyFlag is one of the Avi script's single-dash flags and the long flag it means.
type legacyFlag struct {
	legacy, long string
}

// legacyFlags is the Avi installer script's flag table (DESIGN.md). pflag cannot parse
// multi-letter single-dash flags, so they are rewritten to long flags before parsing.
var legacyFlags = []legacyFlag{
	{"-c", "--controller"},
	{"-s", "--se"},
	{"-cc", "--controller-cores"},
	{"-cm", "--controller-memory"},
	{"-cd", "--controller-disk"},
	{"-cdp", "--controller-data-dir"},
	{"-cmdp", "--controller-metrics-dir"},
	{"-cmd", "--controller-metrics-disk"},
	{"-cldp", "--controller-logs-dir"},
	{"-cld", "--controller-logs-disk"},
	{"-i", "--controller-ip"},
	{"-m", "--master-controller-ip"},
	{"-sc", "--se-cores"},
	{"-sm", "--se-memory-mb"},
	{"-sdp", "--se-data-dir"},
	{"-sd", "--se-disk"},
	{"-sldp", "--se-logs-dir"},
	{"-sld", "--se-logs-disk"},
	{"-sim", "--se-inband-mgmt"},
	{"-d", "--dpdk"},
	{"-sj", "--setup-json"},
	{"-sysint", "--sysint-port"},
	{"-rmc", "--rm-containers"},
}

// notYet are flags of features this build does not have yet: refusing them beats ignoring them.
var notYet = []struct{ flag, feature string }{
	{"se-disk", "a separate SE disk size"},
	{"se-logs-dir", "a separate SE client-log directory"},
	{"se-logs-disk", "a separate SE client-log directory"},
	{"se-inband-mgmt", "in-band SE management"},
}

// detectIP is the value --controller-ip takes when given without one: detect from the default
// route, as the Avi script's bare -i does.
const detectIP = "detect"

// RewriteLegacy turns the Avi script's flags into long flags. `-i` (and --controller-ip) takes an
// optional address: when the next word is not a flag it becomes the value. Words after `--` are left alone.
func RewriteLegacy(args []string) ([]string, error) {
	long := map[string]string{}
	for _, f := range legacyFlags {
		long[f.legacy] = f.long
	}
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...), nil
		}
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && a != "-" {
			name, value, hasValue := strings.Cut(a, "=")
			l, ok := long[name]
			switch {
			case ok && hasValue:
				a = l + "=" + value
			case ok:
				a = l
			case name == "-h":
				a = "--help"
			default:
				return nil, usagef("unknown flag %s (run avi-init --help for the flags)", name)
			}
		}
		// An optional value must be attached with '=' for pflag to see it.
		if a == "--controller-ip" && takesValue(args, i) {
			a += "=" + args[i+1]
			i++
		}
		out = append(out, a)
	}
	return out, nil
}

// takesValue reports whether the word after args[i] is the optional value of args[i]: a word that
// is not itself a flag.
func takesValue(args []string, i int) bool {
	return i+1 < len(args) && args[i+1] != "" && !strings.HasPrefix(args[i+1], "-")
}

// Options are the installer's flags after parsing.
type Options struct {
	Controller, SE                              bool
	ControllerCores, ControllerMemoryGB         int
	ControllerDiskGB                            int
	ControllerDataDir                           string
	MetricsDir, LogsDir                         string
	MetricsDiskGB, LogsDiskGB                   int
	ControllerIP, MasterIP                      string
	SECores, SEMemoryMB, SEDiskGB, SELogsDiskGB int
	SEDataDir, SELogsDir                        string
	SEInbandMgmt, DPDK, RmContainers            bool
	SetupJSON                                   string
	SysintPort, HTTPPort, HTTPSPort, DNSPort    int
	Yes, DryRun, NoStart                        bool
	Output                                      string
	IgnorePreflight                             []string
	JoinToken                                   string
	JoinTokenFile                               string
	ImageTar                                    string
	SEGroup                                     string
	ClusterJoin                                 string

	set map[string]bool
}

// Set reports whether the flag was given on the command line.
func (o *Options) Set(name string) bool { return o.set[name] }

// Unattended reports whether any installer flag was given: then nothing is asked.
func (o *Options) Unattended() bool { return len(o.set) > 0 }

func newFlagSet(o *Options) *pflag.FlagSet {
	fs := pflag.NewFlagSet("avi-init", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.BoolVar(&o.Controller, "controller", false, "run the controller on this host (-c)")
	fs.BoolVar(&o.SE, "se", false, "run a service engine on this host (-s)")
	fs.IntVar(&o.ControllerCores, "controller-cores", 0, "controller CPU cores (-cc)")
	fs.IntVar(&o.ControllerMemoryGB, "controller-memory", 0, "controller memory, GB (-cm)")
	fs.IntVar(&o.ControllerDiskGB, "controller-disk", 0, "controller config disk, GB (-cd)")
	fs.StringVar(&o.ControllerDataDir, "controller-data-dir", "", "controller data directory (-cdp; default <largest disk>/opt/avi/controller/data)")
	fs.StringVar(&o.MetricsDir, "controller-metrics-dir", "", "separate metrics partition directory (-cmdp)")
	fs.IntVar(&o.MetricsDiskGB, "controller-metrics-disk", 0, "metrics partition size, GB (-cmd)")
	fs.StringVar(&o.LogsDir, "controller-logs-dir", "", "separate client-log partition directory (-cldp)")
	fs.IntVar(&o.LogsDiskGB, "controller-logs-disk", 0, "client-log partition size, GB (-cld)")
	fs.StringVar(&o.ControllerIP, "controller-ip", "", "management IP (-i; alone: detect from the default route): the controller's, or with -s alone this SE host's")
	fs.Lookup("controller-ip").NoOptDefVal = detectIP
	fs.StringVar(&o.MasterIP, "master-controller-ip", "", "the controller an SE joins (-m)")
	fs.IntVar(&o.SECores, "se-cores", 0, "SE cores (-sc)")
	fs.IntVar(&o.SEMemoryMB, "se-memory-mb", 0, "SE memory, MB (-sm)")
	fs.StringVar(&o.SEDataDir, "se-data-dir", "", "SE data directory (-sdp)")
	fs.IntVar(&o.SEDiskGB, "se-disk", 0, "SE disk, GB (-sd)")
	fs.StringVar(&o.SELogsDir, "se-logs-dir", "", "SE client-log directory (-sldp)")
	fs.IntVar(&o.SELogsDiskGB, "se-logs-disk", 0, "SE client-log size, GB (-sld)")
	fs.BoolVar(&o.SEInbandMgmt, "se-inband-mgmt", false, "SE management over the data interface (-sim)")
	fs.BoolVar(&o.DPDK, "dpdk", false, "DPDK mode (-d): not supported, the SE uses the kernel network stack")
	fs.StringVar(&o.SetupJSON, "setup-json", "", "controller first-boot configuration file (-sj)")
	fs.IntVar(&o.SysintPort, "sysint-port", contract.DefaultSysintPort, "controller port SEs connect to (-sysint)")
	fs.BoolVar(&o.RmContainers, "rm-containers", false, "replace existing containers without asking (-rmc)")
	fs.IntVar(&o.HTTPSPort, "https-port", contract.DefaultHTTPSPort, "controller HTTPS (UI and API) port")
	fs.IntVar(&o.HTTPPort, "http-port", contract.DefaultHTTPPort, "controller HTTP port (redirects to HTTPS)")
	fs.IntVar(&o.DNSPort, "dns-port", contract.DefaultDNSPort, "controller DNS port")
	fs.StringVar(&o.JoinToken, "join-token", "", "token an SE alone joins its controller with (or set AVI_JOIN_TOKEN, or use --join-token-file, which keep it off the command line)")
	fs.StringVar(&o.JoinTokenFile, "join-token-file", "", "file holding the join token of an SE alone; - reads it from standard input")
	fs.StringVar(&o.SEGroup, "se-group", "", "service engine group an SE joins (default Default-Group)")
	fs.StringVar(&o.ClusterJoin, "cluster-join", "", "a fresh controller joins the controller cluster of the node at `IP[:PORT]` (its SE port), with a cluster join token in AVI_JOIN_TOKEN or --join-token-file")
	fs.StringVar(&o.ImageTar, "image-tar", "", "load the image from this `FILE`, a docker save tarball, instead of building it")
	fs.BoolVar(&o.Yes, "yes", false, "answer yes to confirmations (implies --rm-containers)")
	fs.BoolVar(&o.DryRun, "dry-run", false, "run preflight and plan, print what would be written, change nothing")
	fs.StringVar(&o.Output, "output", "text", "output format: text or json")
	fs.BoolVar(&o.NoStart, "no-start", false, "install and enable everything, start nothing")
	fs.StringSliceVar(&o.IgnorePreflight, "ignore-preflight-errors", nil, "preflight checks whose errors become warnings (names, or all)")
	return fs
}

// ParseInstall parses the installer's command line (legacy or long flags).
func ParseInstall(args []string) (*Options, error) {
	rewritten, err := RewriteLegacy(args)
	if err != nil {
		return nil, err
	}
	o := &Options{set: map[string]bool{}}
	fs := newFlagSet(o)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(rewritten); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, err
		}
		return nil, usagef("%v (run avi-init --help for the flags)", err)
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q (run avi-init --help for the verbs and flags)", fs.Arg(0))
	}
	fs.Visit(func(f *pflag.Flag) { o.set[f.Name] = true })
	if err := checkOutput(o.Output); err != nil {
		return nil, &UsageError{Err: err}
	}
	if o.Yes {
		o.RmContainers = true
	}
	if o.DPDK {
		return nil, usagef("-d/--dpdk: DPDK mode is not supported; this SE uses the kernel network stack, run without -d")
	}
	return o, nil
}

// maxTokenBytes bounds what is read for a join token: a token is under 100 bytes.
const maxTokenBytes = 4096

// ReadJoinToken fills JoinToken when the command line does not carry it: from --join-token-file
// (- is standard input, so a controller deploying over SSH pipes the token rather than putting
// it on a command line where any user could read it) or else from AVI_JOIN_TOKEN.
func (o *Options) ReadJoinToken(stdin io.Reader, getenv func(string) string) error {
	if o.JoinTokenFile == "" {
		if o.JoinToken == "" {
			o.JoinToken = getenv("AVI_JOIN_TOKEN")
		}
		return nil
	}
	if o.JoinToken != "" {
		return usagef("--join-token and --join-token-file both give the token: give one")
	}
	var r io.Reader = stdin
	if o.JoinTokenFile != "-" {
		f, err := os.Open(o.JoinTokenFile)
		if err != nil {
			return usagef("--join-token-file: %v", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxTokenBytes))
	if err != nil {
		return fmt.Errorf("--join-token-file %s: %w", o.JoinTokenFile, err)
	}
	if o.JoinToken = strings.TrimSpace(string(data)); o.JoinToken == "" {
		return usagef("--join-token-file %s: no token in it", o.JoinTokenFile)
	}
	return nil
}

// InstallUsage is the installer's --help text.
func InstallUsage(w io.Writer) {
	o := &Options{}
	fmt.Fprint(w, `avi-init installs the Avi controller (and service engine) on this host.

Usage:
  sudo avi-init                       ask, on a terminal, what to install
  sudo avi-init [flags]               install unattended: flags not given take their defaults
  sudo avi-init -c -cd 10 -cc 4 -cm 7 -i   the Avi script's flags are accepted as they are
  avi-init status                     what is installed, container states, health
  sudo avi-init uninstall [--purge]   remove units and containers (--purge: and the data)
  avi-init image save --role controller|se -o FILE
  avi-init version

Runtime entry points (run by the units and images, not by operators):
  avi-init controller [--data DIR] [--https-port N] ...   the controller, inside its container
  avi-init supervise controller|se                      run by avicontroller.service or avise.service (Type=notify)
  avi-init se --controller IP:PORT [--join-token-file F]  the service engine, inside its container
  avi-init probe controller|se [--data DIR] [--https-port N]  the containers' health checks

Flags:
`)
	fmt.Fprint(w, newFlagSet(o).FlagUsages())
	fmt.Fprint(w, `
Exit codes: 0 done, 1 failed, 2 usage error (nothing was changed).
`)
}
