// Package installer is the host installer: it reads the host, decides what to install (asking
// on a terminal, or from flags), checks the host, and installs in named phases: preflight, plan,
// images, files, services. A dry run is the same phases with a recorder that does not act.
package installer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/avi-init/avi-init/installer/containerspec"
	"github.com/avi-init/avi-init/installer/image"
	"github.com/avi-init/avi-init/integrations/docker"
	"github.com/avi-init/avi-init/model/contract"
	"github.com/avi-init/avi-init/model/sechannel"
	"github.com/avi-init/avi-init/systemd"
	"github.com/avi-init/avi-init/templates"
)

// Where the installer puts things, below Env.Root.
const (
	BinaryPath = "/usr/local/sbin/avi-init"
	ConfigDir  = "/etc/avi-init"
	UnitDir    = "/etc/systemd/system"

	// unitStartTimeout bounds how long systemd waits for the runtime to answer.
	unitStartTimeout = 120
	// SuperviseStartTimeout bounds the supervisor's wait for the runtime: it gives up before
	// systemd's TimeoutStartSec kills it, so that it can say why.
	SuperviseStartTimeout = unitStartTimeout*time.Second - 10*time.Second
	// readyTimeout bounds the wait for a container started without systemd.
	readyTimeout = 90 * time.Second
	// logTail is how many of a failed container's log lines are shown.
	logTail = 20
)

// Env is the outside world the installer works on.
type Env struct {
	Root           string // "/" on a real host
	Stdout, Stderr io.Writer
	Euid           int
	Executable     string // the running avi-init, copied to the host and built into the images
	Host           HostReader
	Engine         docker.Engine
	EngineErr      error // why Engine is nil
	Systemd        func(ctx context.Context) (systemd.Manager, error)
	PortFree       func(port int) error
	// Ready returns nil once the runtime with these settings answers.
	Ready func(ctx context.Context, s containerspec.Settings) error
	// Cluster asks the controller with these settings how its cluster is (nil: not asked).
	Cluster func(ctx context.Context, s containerspec.Settings) (contract.ClusterPing, error)
	// Asker asks on the terminal; nil when there is none.
	Asker Asker
}

// ProbeRuntime returns nil once the runtime with these settings answers: the controller over
// HTTPS, the SE by the state it keeps in its data directory. It is Env.Ready on a real host, and
// what the supervisor waits for before it tells systemd the service is ready.
func ProbeRuntime(ctx context.Context, s containerspec.Settings) error {
	if s.Role == containerspec.RoleSE {
		return contract.ProbeSE(s.DataDir)
	}
	_, err := contract.ProbeController(ctx, s.DataDir, s.HTTPSPort)
	return err
}

// ProbeCluster asks the controller with these settings, as its own node, how its cluster is:
// Env.Cluster on a real host.
func ProbeCluster(ctx context.Context, s containerspec.Settings) (contract.ClusterPing, error) {
	return contract.ProbeCluster(ctx, s.DataDir, s.HTTPSPort)
}

func (e *Env) path(p string) string { return filepath.Join(e.Root, p) }

// Close releases the engine connection.
func (e *Env) Close() {
	if e.Engine != nil {
		e.Engine.Close()
	}
}

// EnvFile is a role's env file.
func (e *Env) EnvFile(role string) string {
	return e.path(filepath.Join(ConfigDir, containerspec.ContainerName(role)+".env"))
}

// UnitFile is a role's unit file.
func (e *Env) UnitFile(role string) string {
	return e.path(filepath.Join(UnitDir, containerspec.UnitName(role)))
}

// run is the state the phases share, built once and passed in.
type run struct {
	env     *Env
	opts    *Options
	req     Request
	host    *Host
	rep     *reporter
	dry     bool
	systemd bool

	binary *image.Binary
	roles  []*roleRun // the controller first, then the SE
	// bootstrap is the token a new SE beside the controller joins with.
	bootstrap *sechannel.Token
}

// roleRun is what the phases know and decide about one role.
type roleRun struct {
	role      string
	installed *containerspec.Settings // an existing installation's settings
	container *docker.Container       // the existing container
	settings  containerspec.Settings
	envText   []byte
	unitText  []byte
	// changed is set by the files phase when the role's env or unit changed.
	changed      bool
	unitsChanged bool
}

// phase is one named step of the install workflow.
type phase struct {
	name, desc string
	run        func(r *run, ctx context.Context) error
}

var phases = []phase{
	{"preflight", "check the host", (*run).preflight},
	{"plan", "decide the images, files and containers", (*run).plan},
	{"images", "load the images into the engine", (*run).images},
	{"files", "write the binary, env files and units", (*run).files},
	{"services", "enable and start the containers, wait until they answer", (*run).services},
}

// Install runs the installer with the parsed options.
func Install(ctx context.Context, env *Env, o *Options) error {
	var ask Asker
	if !o.Unattended() {
		if env.Asker == nil {
			return usagef("no terminal to ask on, and no flags given: run unattended with flags, e.g.\n" +
				"  avi-init -c -cc 2 -cm 4 -cd 10 -i        (the Avi script's flags)\n" +
				"  avi-init --controller --controller-cores 2 --controller-memory 4 --controller-disk 10 --controller-ip=detect\n" +
				"run avi-init --help for every flag")
		}
		ask = env.Asker
	}
	h, err := env.Host.Read()
	if err != nil {
		return fmt.Errorf("read host facts: %w", err)
	}
	req, err := Resolve(o, h, ask)
	if err != nil {
		return err
	}
	rep := newReporter(o.Output, env.Stdout, env.Stderr)
	rep.report.Summary = &req
	PrintSummary(rep.log, req)
	r := &run{env: env, opts: o, req: req, host: h, rep: rep, dry: o.DryRun, systemd: h.SystemdRunning}
	if req.Controller {
		r.roles = append(r.roles, &roleRun{role: containerspec.RoleController})
	}
	if req.SE {
		r.roles = append(r.roles, &roleRun{role: containerspec.RoleSE})
	}
	rep.report.Result.DryRun = r.dry
	return rep.finish(r.phases(ctx))
}

func (r *run) phases(ctx context.Context) error {
	for _, p := range phases {
		r.rep.printf("[%s] %s\n", p.name, p.desc)
		if err := p.run(r, ctx); err != nil {
			return fmt.Errorf("error execution phase %s: %w", p.name, err)
		}
	}
	switch {
	case r.dry:
		r.rep.printf("Dry run: nothing was changed.\n")
	case !r.rep.report.Result.Changed:
		r.rep.printf("Nothing to change: avi-init is installed as asked.\n")
	case r.opts.NoStart:
		r.rep.printf("Installed and enabled; not started (--no-start).\n")
	case r.req.Controller:
		r.rep.printf("The controller is ready: %s\n", controllerURL(r.req.ControllerIP, r.req.HTTPSPort))
	default:
		r.rep.printf("The service engine joined its controller at %s.\n", r.req.ControllerIP)
	}
	r.showSetupToken()
	return nil
}

// showSetupToken prints the controller's setup token while the controller is not set up: the
// setup wizard asks for it, so that whoever reaches the controller first does not become its
// administrator. The controller deletes the file once set up.
func (r *run) showSetupToken() {
	ctl := r.role(containerspec.RoleController)
	if r.dry || ctl == nil {
		return
	}
	tok, err := contract.ReadSetupToken(ctl.settings.DataDir)
	if err != nil {
		return
	}
	r.rep.report.Result.SetupToken = tok
	r.rep.printf("Setup token      : %s\n", tok)
	r.rep.printf("The setup wizard at %s asks for it; until the setup is done, sudo avi-init status shows it again.\n",
		controllerURL(r.req.ControllerIP, r.req.HTTPSPort))
}

// act records an action and, unless this is a dry run, performs it. A dry run shows the full
// content an action carries (file text, container spec).
func (r *run) act(phase string, a Action, do func() error) error {
	a.Phase = phase
	if !r.dry {
		a.Content = ""
	}
	r.rep.add(a)
	switch {
	case r.dry:
		verb := "would keep"
		if a.Changed {
			verb = "would do"
		}
		r.rep.printf("\t%s %s %s\n", verb, a.Kind, a.Target)
		if a.Content != "" {
			r.rep.printf("%s\n", indent(a.Content))
		}
		return nil
	case !a.Changed || do == nil:
		r.rep.printf("\tunchanged %s %s\n", a.Kind, a.Target)
		return nil
	}
	if err := do(); err != nil {
		return err
	}
	if a.Detail != "" {
		r.rep.printf("\tdone %s %s (%s)\n", a.Kind, a.Target, a.Detail)
	} else {
		r.rep.printf("\tdone %s %s\n", a.Kind, a.Target)
	}
	return nil
}

func indent(s string) string {
	var b bytes.Buffer
	for _, line := range bytes.Split(bytes.TrimRight([]byte(s), "\n"), []byte("\n")) {
		b.WriteString("\t\t| ")
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

func (r *run) preflight(ctx context.Context) error {
	env := r.env
	facts := EngineFacts{Err: env.EngineErr, StorageFree: -1}
	for _, rr := range r.roles {
		if data, err := os.ReadFile(env.EnvFile(rr.role)); err == nil {
			if s, err := settingsFromFile(data); err == nil {
				rr.installed = &s
			}
		}
	}
	if env.Engine != nil {
		facts.Info, facts.Err = env.Engine.Info(ctx)
		if facts.Err == nil {
			if free, _, err := env.Host.StatFS(facts.Info.RootDir); err == nil {
				facts.StorageFree = int64(free)
			}
			for _, rr := range r.roles {
				c, err := env.Engine.Container(ctx, containerspec.ContainerName(rr.role))
				if err != nil {
					return err
				}
				rr.container = c
			}
		}
	}
	checks := []Check{
		RootCheck(env.Euid),
		OSReleaseCheck(r.host),
		SystemdCheck(r.host),
		DockerEngineCheck(facts),
		DockerStorageCheck(facts),
		CPUCheck(r.host, r.req),
		MemoryCheck(r.host, r.req),
	}
	if ctl := r.role(containerspec.RoleController); ctl != nil {
		// Ports held by the installation being updated are not in the way.
		ours := map[int]bool{}
		if running(ctl) {
			for _, p := range []int{ctl.installed.HTTPSPort, ctl.installed.HTTPPort, ctl.installed.SysintPort} {
				ours[p] = true
			}
		}
		checks = append(checks,
			DiskFreeCheck(r.host, r.req, ctl.installed != nil),
			PortCheck(r.req.HTTPSPort, movableBy("https-port"), env.PortFree, ours[r.req.HTTPSPort]),
			PortCheck(r.req.HTTPPort, movableBy("http-port"), env.PortFree, ours[r.req.HTTPPort]),
			PortCheck(r.req.SysintPort, movableBy("sysint-port"), env.PortFree, ours[r.req.SysintPort]),
		)
	}
	if se := r.role(containerspec.RoleSE); se != nil {
		checks = append(checks, PortCheck(contract.DefaultSEMetricsPort,
			fmt.Sprintf("free it: the SE serves its Prometheus /metrics on 127.0.0.1:%d", contract.DefaultSEMetricsPort),
			env.PortFree, running(se)))
	}
	for _, rr := range r.roles {
		checks = append(checks, ExistingInstallationCheck(rr.role, rr.installed != nil, rr.container, r.opts.RmContainers))
	}
	results, err := RunChecks(ctx, checks, r.opts.IgnorePreflight, r.rep.log)
	r.rep.report.Checks = results
	if err == nil && env.Engine == nil {
		return fmt.Errorf("no Docker engine to install into: %v", facts.Err)
	}
	return err
}

// running reports whether the role is installed here and its container runs: the ports it
// holds are its own.
func running(rr *roleRun) bool {
	return rr.installed != nil && rr.container != nil && rr.container.Running
}

// role returns the run of a role, or nil when it is not installed this time.
func (r *run) role(name string) *roleRun {
	for _, rr := range r.roles {
		if rr.role == name {
			return rr
		}
	}
	return nil
}

// descriptions of the roles' units.
var unitDescription = map[string]string{
	containerspec.RoleController: "Avi Vantage Controller (avi-init)",
	containerspec.RoleSE:         "Avi Vantage Service Engine (avi-init)",
}

func (r *run) plan(ctx context.Context) error {
	bin, err := image.ReadBinary(r.env.Executable)
	if err != nil {
		return err
	}
	r.binary = bin
	req := r.req
	for _, rr := range r.roles {
		ref := bin.Ref(rr.role)
		if r.fromTarball(rr.role) {
			if ref, err = tarballRef(r.opts.ImageTar); err != nil {
				return err
			}
		}
		s := containerspec.Settings{
			Role: rr.role, Image: ref, ControllerIP: req.ControllerIP, MgmtIP: req.MgmtIP, SysintPort: req.SysintPort,
		}
		if rr.role == containerspec.RoleSE {
			s.SEGroup = req.SEGroup
		}
		if rr.role == containerspec.RoleController {
			s.Cores, s.MemoryMB, s.DataDir, s.DiskGB = req.ControllerCores, req.ControllerMemoryGB*1024, r.env.path(req.DataDir), req.ControllerDiskGB
			s.HTTPSPort, s.HTTPPort, s.DNSPort = req.HTTPSPort, req.HTTPPort, req.DNSPort
			if req.MetricsDir != "" {
				s.MetricsDir = r.env.path(req.MetricsDir)
			}
			if req.LogsDir != "" {
				s.LogsDir = r.env.path(req.LogsDir)
			}
		} else {
			s.Cores, s.MemoryMB, s.DataDir = req.SECores, req.SEMemoryMB, r.env.path(req.SEDataDir)
		}
		if err := s.Validate(); err != nil {
			return err
		}
		rr.settings = s
		if rr.envText, err = templates.RenderEnv(rr.role, s.Env()); err != nil {
			return err
		}
		if r.systemd {
			rr.unitText, err = templates.RenderUnit(templates.Unit{
				Role:         rr.role,
				Description:  unitDescription[rr.role],
				Binary:       BinaryPath,
				EnvFile:      filepath.Join(ConfigDir, containerspec.ContainerName(rr.role)+".env"),
				StartTimeout: unitStartTimeout,
			})
			if err != nil {
				return err
			}
		}
		if r.dry {
			spec := s.Spec(s.Hash())
			spec.RestartAlways = !r.systemd
			specJSON, _ := json.MarshalIndent(spec, "", "  ")
			how := "created by the " + containerspec.UnitName(rr.role) + " supervisor"
			if !r.systemd {
				how = "created by the installer with restart policy unless-stopped (no systemd)"
			}
			if err := r.act("plan", Action{Kind: "container-spec", Target: spec.Name, Detail: how, Content: string(specJSON)}, nil); err != nil {
				return err
			}
		}
	}
	// A new SE beside the controller joins it with a token made now: the controller adopts it
	// from its data directory, the SE finds it in its own.
	if se, ctl := r.role(containerspec.RoleSE), r.role(containerspec.RoleController); se != nil && ctl != nil && !seJoined(se.settings) {
		tok := sechannel.NewToken("")
		r.bootstrap = &tok
	}
	return nil
}

// seJoined reports whether the SE with these settings has joined its controller already.
func seJoined(s containerspec.Settings) bool {
	_, err := os.Stat(filepath.Join(s.DataDir, contract.SEIdentityFile))
	return err == nil
}

// fromTarball reports whether the role's image comes from --image-tar rather than from the
// running binary: the tarball holds the controller's image.
func (r *run) fromTarball(role string) bool {
	return r.opts.ImageTar != "" && role == containerspec.RoleController
}

// tarballRef returns the image a `docker save` tarball holds.
func tarballRef(path string) (string, error) {
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
	if err != nil {
		return "", fmt.Errorf("read image tarball %s: %w", path, err)
	}
	if len(m) == 0 || len(m[0].RepoTags) == 0 {
		return "", fmt.Errorf("image tarball %s holds no tagged image", path)
	}
	return m[0].RepoTags[0], nil
}

func (r *run) images(ctx context.Context) error {
	for _, rr := range r.roles {
		ref := rr.settings.Image
		have, err := r.env.Engine.ImageExists(ctx, ref)
		if err != nil {
			return err
		}
		src := "built from " + r.env.Executable
		if r.fromTarball(rr.role) {
			src = "from " + r.opts.ImageTar
		}
		a := Action{Kind: "image", Target: ref, Changed: !have, Detail: src}
		if err := r.act("images", a, func() error { return r.loadImage(ctx, rr.role, ref) }); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) loadImage(ctx context.Context, role, ref string) error {
	start := time.Now()
	pr, pw := io.Pipe()
	counter := &progress{w: r.rep.log, what: "loading " + ref, every: 4 << 20, next: 4 << 20}
	go func() {
		var err error
		if r.fromTarball(role) {
			var f *os.File
			if f, err = os.Open(r.opts.ImageTar); err == nil {
				_, err = io.Copy(pw, f)
				f.Close()
			}
		} else {
			err = r.binary.WriteTarball(pw, role)
		}
		pw.CloseWithError(err)
	}()
	err := r.env.Engine.LoadImage(ctx, io.TeeReader(pr, counter), r.rep.log)
	pr.CloseWithError(errors.New("load finished"))
	if err != nil {
		return fmt.Errorf("load %s image: %w", role, err)
	}
	if ok, err := r.env.Engine.ImageExists(ctx, ref); err != nil || !ok {
		return fmt.Errorf("load %s image: the engine does not list %s after loading it", role, ref)
	}
	r.rep.printf("\tloaded %s (%d MB) in %s\n", ref, counter.n>>20, time.Since(start).Round(time.Millisecond))
	return nil
}

// progress prints how much of a stream has gone by, every so many bytes.
type progress struct {
	w     io.Writer
	what  string
	every int64
	n     int64
	next  int64
}

func (p *progress) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	if p.n >= p.next {
		fmt.Fprintf(p.w, "\t%s: %d MB\n", p.what, p.n>>20)
		p.next = p.n + p.every
	}
	return len(b), nil
}

// writeIfChanged records a file write, changed only when the content differs. A dry run shows
// the content (env files and units hold no secret).
func (r *run) writeIfChanged(path string, data []byte, perm os.FileMode) (bool, error) {
	old, err := os.ReadFile(path)
	changed := err != nil || !bytes.Equal(old, data)
	if !changed {
		// Content equal; still mend a mode that drifted (an env file must stay 0600).
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm() != perm {
			changed = true
		}
	}
	a := Action{Kind: "file", Target: path, Changed: changed, Detail: fmt.Sprintf("mode %04o", perm), Content: string(data)}
	return changed, r.act("files", a, func() error { return writePrivate(path, data, perm) })
}

func (r *run) files(ctx context.Context) error {
	dst := r.env.path(BinaryPath)
	cur, err := os.ReadFile(dst)
	same := err == nil && sha256.Sum256(cur) == sha256.Sum256(r.binary.Bytes())
	a := Action{Kind: "file", Target: dst, Changed: !same, Detail: "avi-init binary, sha256 " + r.binary.Sum()[:12]}
	if err := r.act("files", a, func() error { return writePrivate(dst, r.binary.Bytes(), 0o755) }); err != nil {
		return err
	}

	for _, rr := range r.roles {
		for _, dir := range []string{rr.settings.DataDir, rr.settings.MetricsDir, rr.settings.LogsDir} {
			if dir == "" {
				continue
			}
			_, err := os.Stat(dir)
			a := Action{Kind: "directory", Target: dir, Changed: errors.Is(err, os.ErrNotExist)}
			if err := r.act("files", a, func() error { return os.MkdirAll(dir, 0o755) }); err != nil {
				return fmt.Errorf("create data directory: %w", err)
			}
		}
	}
	if err := r.setupFile(); err != nil {
		return err
	}
	if err := r.setupToken(); err != nil {
		return err
	}
	if err := r.joinFiles(); err != nil {
		return err
	}
	for _, rr := range r.roles {
		envChanged, err := r.writeIfChanged(r.env.EnvFile(rr.role), rr.envText, 0o600)
		if err != nil {
			return err
		}
		rr.changed = envChanged
		if r.systemd {
			if rr.unitsChanged, err = r.writeIfChanged(r.env.UnitFile(rr.role), rr.unitText, 0o644); err != nil {
				return err
			}
			rr.changed = rr.changed || rr.unitsChanged
		}
	}
	// After the roles' files: a join written restarts a running controller, which joins then.
	return r.clusterJoinFile()
}

// joinFiles hands an SE its join token: given (-s --join-token) it goes straight into the SE's
// data directory; made here (-c -s), its secret goes to the controller's data directory now and
// the whole token (which needs the controller's certificate) to the SE's once the controller
// answers. Tokens are secrets: files 0600, contents never shown.
func (r *run) joinFiles() error {
	se, ctl := r.role(containerspec.RoleSE), r.role(containerspec.RoleController)
	switch {
	case se == nil || seJoined(se.settings):
		return nil
	case ctl == nil:
		return r.writeJoinToken("files", se, func() (string, error) { return r.req.JoinToken, nil })
	}
	path := filepath.Join(ctl.settings.DataDir, contract.BootstrapTokenFile)
	a := Action{Kind: "file", Target: path, Changed: true, Detail: "mode 0600, a join token for the SE beside the controller (not shown)"}
	return r.act("files", a, func() error {
		data, _ := json.Marshal(contract.BootstrapToken{ID: r.bootstrap.ID, Secret: r.bootstrap.Secret})
		return writePrivate(path, data, 0o600)
	})
}

// clusterJoinFile hands --cluster-join and its token to the controller through its data
// directory (0600): the controller joins at its next start. A join already under way (the file
// says the cluster took it) is left as it is.
func (r *run) clusterJoinFile() error {
	ctl := r.role(containerspec.RoleController)
	if r.req.ClusterJoin == "" || ctl == nil {
		return nil
	}
	path := filepath.Join(ctl.settings.DataDir, contract.ClusterJoinFile)
	if data, err := os.ReadFile(path); err == nil {
		var j contract.ClusterJoin
		if json.Unmarshal(data, &j) == nil && j.Joined {
			return r.act("files", Action{Kind: "file", Target: path, Detail: "the cluster took this controller in already"}, nil)
		}
	}
	a := Action{Kind: "file", Target: path, Changed: true, Detail: "mode 0600, the cluster to join and its join token (not shown)"}
	ctl.changed = true
	return r.act("files", a, func() error {
		data, _ := json.Marshal(contract.ClusterJoin{Leader: r.req.ClusterJoin, Token: r.req.JoinToken})
		return writePrivate(path, data, 0o600)
	})
}

// setupFile hands --setup-json to the controller through its data directory (0600; never on a
// command line or in the env file). The controller applies it on first boot and deletes it, so
// once the controller has a store the file is not written again.
func (r *run) setupFile() error {
	ctl := r.role(containerspec.RoleController)
	if r.req.SetupJSON == "" || ctl == nil {
		return nil
	}
	data, err := os.ReadFile(r.req.SetupJSON)
	if err != nil {
		return fmt.Errorf("read --setup-json: %w", err)
	}
	if _, err := os.Stat(filepath.Join(ctl.settings.DataDir, contract.StoreFile)); err == nil {
		return r.act("files", Action{Kind: "setup-json", Target: r.req.SetupJSON, Detail: "the controller is initialised already; --setup-json applies on first boot only"}, nil)
	}
	dst := filepath.Join(ctl.settings.DataDir, contract.SetupFile)
	a := Action{Kind: "file", Target: dst, Changed: true, Detail: "mode 0600, first-boot configuration (content not shown: it holds the admin password)"}
	return r.act("files", a, func() error { return writePrivate(dst, data, 0o600) })
}

// setupToken writes the controller's one-time setup token (0600) before its first start, so
// that the installer can print it; a controller started otherwise writes its own. None is
// written for a controller that has booted already (it keeps its own while not set up) or that
// --setup-json sets up.
func (r *run) setupToken() error {
	ctl := r.role(containerspec.RoleController)
	if ctl == nil || r.req.SetupJSON != "" {
		return nil
	}
	dir := ctl.settings.DataDir
	if _, err := os.Stat(filepath.Join(dir, contract.StoreFile)); err == nil {
		return nil
	}
	path := filepath.Join(dir, contract.SetupTokenFile)
	_, err := os.Stat(path)
	a := Action{Kind: "file", Target: path, Changed: errors.Is(err, os.ErrNotExist), Detail: "mode 0600, the one-time setup token the setup wizard asks for"}
	return r.act("files", a, func() error {
		_, _, err := contract.EnsureSetupToken(dir)
		return err
	})
}

func (r *run) services(ctx context.Context) error {
	for _, rr := range r.roles {
		if rr.role == containerspec.RoleSE && r.bootstrap != nil {
			if err := r.seToken(rr); err != nil {
				return err
			}
		}
		var err error
		if r.systemd {
			err = r.servicesSystemd(ctx, rr)
		} else {
			err = r.servicesDocker(ctx, rr)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// seToken writes the join token of the SE beside the controller, now that the controller's
// certificate (whose hash the token carries) exists.
func (r *run) seToken(se *roleRun) error {
	ctl := r.role(containerspec.RoleController)
	return r.writeJoinToken("services", se, func() (string, error) {
		hash, err := contract.CertHash(ctl.settings.DataDir)
		if err != nil {
			return "", fmt.Errorf("the SE cannot join: %w", err)
		}
		tok := *r.bootstrap
		tok.CertHash = hash
		return tok.String(), nil
	})
}

// writeJoinToken records, in phase, the writing of the SE's join token file (0600, in its data
// directory, content never shown); token is called only when the file is written.
func (r *run) writeJoinToken(phase string, se *roleRun, token func() (string, error)) error {
	path := filepath.Join(se.settings.DataDir, contract.JoinTokenFile)
	a := Action{Kind: "file", Target: path, Changed: true, Detail: "mode 0600, the SE's join token (not shown)"}
	return r.act(phase, a, func() error {
		tok, err := token()
		if err != nil {
			return err
		}
		return writePrivate(path, []byte(tok+"\n"), 0o600)
	})
}

func (r *run) servicesSystemd(ctx context.Context, rr *roleRun) error {
	unit := containerspec.UnitName(rr.role)
	var mgr systemd.Manager
	connect := func() error {
		if mgr != nil {
			return nil
		}
		var err error
		mgr, err = r.env.Systemd(ctx)
		return err
	}
	defer func() {
		if mgr != nil {
			mgr.Close()
		}
	}()
	active, enabled := "inactive", false
	if !r.dry || rr.installed != nil {
		if err := connect(); err != nil {
			return err
		}
		var err error
		if active, enabled, err = mgr.State(ctx, unit); err != nil {
			return err
		}
	}
	steps := []step{
		{Action{Kind: "daemon-reload", Target: "systemd", Changed: rr.unitsChanged}, func() error { return mgr.Reload(ctx) }},
		{Action{Kind: "enable", Target: unit, Changed: !enabled}, func() error { return mgr.Enable(ctx, r.env.UnitFile(rr.role)) }},
	}
	if !r.opts.NoStart {
		running := active == "active" || active == "activating" || active == "reloading"
		if running {
			steps = append(steps, step{Action{Kind: "restart", Target: unit, Changed: rr.changed, Detail: "settings changed"}, func() error { return mgr.Restart(ctx, unit) }})
		} else {
			steps = append(steps, step{Action{Kind: "start", Target: unit, Changed: true, Detail: "waits until it answers"}, func() error { return mgr.Start(ctx, unit) }})
		}
	}
	for _, s := range steps {
		do := s.do
		if err := r.act("services", s.a, func() error {
			if err := connect(); err != nil {
				return err
			}
			return do()
		}); err != nil {
			r.showLogs(ctx, rr.role)
			return err
		}
	}
	return nil
}

// step is an action and what performs it.
type step struct {
	a  Action
	do func() error
}

func (r *run) servicesDocker(ctx context.Context, rr *roleRun) error {
	spec := rr.settings.Spec(rr.settings.Hash())
	spec.RestartAlways = true
	c := rr.container
	current := c != nil && c.Labels[containerspec.LabelConfig] == spec.Labels[containerspec.LabelConfig] && c.Image == spec.Image
	if current && (c.Running || r.opts.NoStart) {
		return r.act("services", Action{Kind: "container", Target: spec.Name, Detail: "running with these settings"}, nil)
	}
	eng := r.env.Engine
	if !current {
		if c != nil {
			if err := r.act("services", Action{Kind: "remove-container", Target: spec.Name, Changed: true, Detail: "settings changed"}, func() error { return eng.Remove(ctx, spec.Name) }); err != nil {
				return err
			}
		}
		if err := r.act("services", Action{Kind: "create-container", Target: spec.Name, Changed: true, Detail: "restart policy unless-stopped"}, func() error { return eng.Create(ctx, spec) }); err != nil {
			return err
		}
	}
	if r.opts.NoStart {
		return nil
	}
	return r.act("services", Action{Kind: "start-container", Target: spec.Name, Changed: true, Detail: "waits until it answers"}, func() error {
		if err := eng.Start(ctx, spec.Name); err != nil {
			return err
		}
		if err := r.waitReady(ctx, rr); err != nil {
			r.showLogs(ctx, rr.role)
			return err
		}
		return nil
	})
}

func (r *run) waitReady(ctx context.Context, rr *roleRun) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	name := containerspec.ContainerName(rr.role)
	var last error
	for {
		if last = r.env.Ready(ctx, rr.settings); last == nil {
			return nil
		}
		c, err := r.env.Engine.Container(ctx, name)
		if err == nil && c != nil && !c.Running && c.Status == "exited" {
			return fmt.Errorf("the %s container exited with code %d before it answered", name, c.ExitCode)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer within %s: %w", name, readyTimeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// showLogs prints the last lines of a role's container output after a failed start.
func (r *run) showLogs(ctx context.Context, role string) {
	name := containerspec.ContainerName(role)
	var b bytes.Buffer
	if err := r.env.Engine.Logs(ctx, name, logTail, false, &b); err != nil || b.Len() == 0 {
		return
	}
	r.rep.printf("Last %d lines of the %s container's log:\n%s", logTail, name, indent(b.String()))
}
