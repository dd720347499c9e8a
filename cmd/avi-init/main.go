// Command avi-init installs the Avi controller and service engine on a host, and is also the
// runtime inside their containers. main picks the verb and hands over.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/mattn/go-isatty"
	"github.com/spf13/pflag"

	"github.com/avi-init/avi-init/installer"
	"github.com/avi-init/avi-init/installer/containerspec"
	"github.com/avi-init/avi-init/installer/supervise"
	"github.com/avi-init/avi-init/integrations/docker"
	"github.com/avi-init/avi-init/internal/version"
	"github.com/avi-init/avi-init/model/contract"
	"github.com/avi-init/avi-init/runtime/controller"
	"github.com/avi-init/avi-init/runtime/se"
	"github.com/avi-init/avi-init/runtime/se/vip"
	"github.com/avi-init/avi-init/systemd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string) int {
	verb := ""
	if len(args) > 0 {
		verb = args[0]
	}
	var err error
	switch verb {
	case "version":
		fmt.Println(version.Version)
		return 0
	case "status":
		var healthy bool
		healthy, err = status(ctx, args[1:])
		if err == nil && !healthy {
			return 1
		}
	case "uninstall":
		err = uninstall(ctx, args[1:])
	case "image":
		if len(args) < 2 || args[1] != "save" {
			err = &installer.UsageError{Err: errors.New("usage: avi-init image save --role controller|se -o FILE")}
			break
		}
		err = installer.ImageSave(args[2:], executable(), os.Stdout)
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Print(installer.ImageSaveUsage)
			return 0
		}
	case "controller":
		err = runController(ctx, args[1:])
	case "se":
		err = runSE(ctx, args[1:])
	case "supervise":
		err = runSupervise(ctx, args[1:])
	case "probe":
		err = runProbe(ctx, args[1:])
	default:
		err = install(ctx, args)
	}
	if errors.Is(err, errHelpShown) {
		return 0
	}
	if errors.Is(err, pflag.ErrHelp) {
		installer.InstallUsage(os.Stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "avi-init: %v\n", err)
		var usage *installer.UsageError
		if errors.As(err, &usage) {
			return 2
		}
		return 1
	}
	return 0
}

// errHelpShown: a verb printed its own --help; exit 0.
var errHelpShown = errors.New("help shown")

func executable() string {
	p, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	return p
}

// localEnv is the installer's view of this host.
func localEnv() *installer.Env {
	env := &installer.Env{
		Root:       "/",
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		Euid:       os.Geteuid(),
		Executable: executable(),
		Host:       installer.LocalHost(),
		Systemd: func(ctx context.Context) (systemd.Manager, error) {
			return systemd.Connect(ctx)
		},
		PortFree: installer.PortFree,
		Ready:    installer.ProbeRuntime,
		Cluster:  installer.ProbeCluster,
	}
	if eng, err := docker.Connect(); err != nil {
		env.EngineErr = err
	} else {
		env.Engine = eng
	}
	if isatty.IsTerminal(os.Stdin.Fd()) && isatty.IsTerminal(os.Stdout.Fd()) {
		env.Asker = installer.Terminal{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
	}
	return env
}

func install(ctx context.Context, args []string) error {
	o, err := installer.ParseInstall(args)
	if err != nil {
		return err
	}
	if err := o.ReadJoinToken(os.Stdin, os.Getenv); err != nil {
		return err
	}
	env := localEnv()
	defer env.Close()
	return installer.Install(ctx, env, o)
}

func status(ctx context.Context, args []string) (bool, error) {
	format, err := installer.ParseStatus(args)
	if errors.Is(err, pflag.ErrHelp) {
		return true, errHelpShown
	}
	if err != nil {
		return false, err
	}
	env := localEnv()
	defer env.Close()
	return installer.Status(ctx, env, format)
}

func uninstall(ctx context.Context, args []string) error {
	o, err := installer.ParseUninstall(args)
	if errors.Is(err, pflag.ErrHelp) {
		fmt.Print(installer.UninstallUsage)
		return nil
	}
	if err != nil {
		return err
	}
	env := localEnv()
	defer env.Close()
	return installer.Uninstall(ctx, env, o)
}

func runtimeFlags(name string, args []string) (controller.Config, error) {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	cfg := controller.Config{}
	fs.StringVar(&cfg.DataDir, "data", containerspec.DataMount, "data directory")
	fs.StringVar(&cfg.IP, "ip", "", "management IP")
	fs.IntVar(&cfg.HTTPSPort, "https-port", contract.DefaultHTTPSPort, "HTTPS port")
	fs.IntVar(&cfg.HTTPPort, "http-port", contract.DefaultHTTPPort, "HTTP port")
	fs.IntVar(&cfg.SysintPort, "sysint-port", contract.DefaultSysintPort, "SE port")
	// The installer reserves a DNS port and passes it; the controller serves no DNS yet.
	fs.Int("dns-port", contract.DefaultDNSPort, "DNS port (reserved: no DNS is served yet)")
	fs.IntVar(&cfg.DiskGB, "disk-gb", 10, "data disk size, GB (client logs keep within a quarter)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return cfg, errHelpShown
		}
		return cfg, &installer.UsageError{Err: err}
	}
	return cfg, nil
}

func runController(ctx context.Context, args []string) error {
	cfg, err := runtimeFlags("avi-init controller", args)
	if err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	return controller.Run(ctx, cfg)
}

func runProbe(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == containerspec.RoleSE {
		fs := pflag.NewFlagSet("avi-init probe se", pflag.ContinueOnError)
		dataDir := fs.String("data", containerspec.DataMount, "SE data directory")
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, pflag.ErrHelp) {
				return errHelpShown
			}
			return &installer.UsageError{Err: err}
		}
		return contract.ProbeSE(*dataDir)
	}
	if len(args) == 0 || args[0] != containerspec.RoleController {
		return &installer.UsageError{Err: errors.New("usage: avi-init probe controller|se [--data DIR] [--https-port N]")}
	}
	cfg, err := runtimeFlags("avi-init probe", args[1:])
	if err != nil {
		return err
	}
	_, err = contract.ProbeController(ctx, cfg.DataDir, cfg.HTTPSPort)
	return err
}

func runSupervise(ctx context.Context, args []string) error {
	if len(args) != 1 || (args[0] != containerspec.RoleController && args[0] != containerspec.RoleSE) {
		return &installer.UsageError{Err: errors.New("usage: avi-init supervise controller|se (started by avicontroller.service or avise.service)")}
	}
	settings, err := containerspec.FromEnv(os.LookupEnv)
	if err != nil {
		return fmt.Errorf("supervise: read settings from the environment: %w", err)
	}
	if settings.Role != args[0] {
		return fmt.Errorf("supervise %s: the environment holds %s settings", args[0], settings.Role)
	}
	eng, err := docker.Connect()
	if err != nil {
		return err
	}
	defer eng.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var exited func()
	if settings.Role == containerspec.RoleSE {
		// An SE that crashed cannot remove the VIPs it added; they would answer ARP on this
		// host, next to the SE that took them over, until systemd restarts it. The record it
		// keeps in its data directory says which they are.
		exited = func() { vip.RemoveRecorded(vip.Netlink{}, settings.DataDir, log) }
	}
	return supervise.Run(ctx, supervise.Config{
		Exited:   exited,
		Settings: settings,
		Engine:   eng,
		Ready:    func(ctx context.Context) error { return installer.ProbeRuntime(ctx, settings) },
		Notify: func() {
			if _, err := systemd.NotifyReady(); err != nil {
				log.Warn("notify systemd", "err", err)
			}
		},
		Logs:         os.Stdout,
		Logger:       log,
		StartTimeout: installer.SuperviseStartTimeout,
	})
}

// runSE runs the service engine's control channel. The join token is a secret: it comes from
// a file or the environment, never the command line.
func runSE(ctx context.Context, args []string) error {
	fs := pflag.NewFlagSet("avi-init se", pflag.ContinueOnError)
	controllerAddr := fs.String("controller", "", "controller host:port (its sysint port)")
	tokenFile := fs.String("join-token-file", "", "file holding the join token (or set AVI_JOIN_TOKEN)")
	dataDir := fs.String("data", containerspec.DataMount, "SE data directory")
	name := fs.String("name", "", "SE name (default: the host name)")
	mgmtIP := fs.String("mgmt-ip", "", "SE management IP")
	seGroup := fs.String("se-group", "", "service engine group the SE joins (default Default-Group)")
	metricsAddr := fs.String("metrics-addr", net.JoinHostPort("127.0.0.1", strconv.Itoa(contract.DefaultSEMetricsPort)), "address of the SE's Prometheus /metrics (empty: none)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return errHelpShown
		}
		return &installer.UsageError{Err: err}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	return se.Serve(ctx, se.Config{Controller: *controllerAddr, JoinToken: os.Getenv("AVI_JOIN_TOKEN"), JoinTokenFile: *tokenFile,
		DataDir: *dataDir, Name: *name, MgmtIP: *mgmtIP, SEGroup: *seGroup, Logger: log}, *metricsAddr)
}
