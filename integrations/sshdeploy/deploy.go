// Package sshdeploy is the controller's only SSH client. It deploys service engines on the hosts
// of a Linux server cloud: it connects with the cloud's key, verifies the host key (the first key
// a host presents is recorded; a different one later is refused), checks password-less sudo,
// copies the controller's own executable to the host (checksum verified) and runs the installer
// there in SE mode. For the Docker cloud it also opens a host's local sockets (the Docker
// engine's) through the connection and keeps the connection alive (forward.go). Secrets never
// reach a command line: the private key stays in memory and the join token travels on the
// session's standard input.
package sshdeploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/avi-init/avi-init/model/avi"
)

// DefaultRemoteDir is where the binary goes on a host: below the SSH user's home, in a directory
// only that user (who has sudo anyway) can write, so nobody else can swap the binary between
// its checksum check and its run as root.
const DefaultRemoteDir = ".avi-init"

// binaryName is the binary's name in the remote directory.
const binaryName = "avi-init"

// ControllerEnvFile marks a host that runs an avi-init controller (the installer's
// ConfigDir/avicontroller.env; not imported, because the installer imports the controller).
// `avi-init uninstall` removes every role, so it is never run on such a host from here.
const ControllerEnvFile = "/etc/avi-init/avicontroller.env"

// Deployer deploys SEs over SSH.
type Deployer struct {
	keys      HostKeys
	binary    string
	remoteDir string
	timeout   time.Duration
	// controllerMark is ControllerEnvFile; tests running beside a controller point it elsewhere.
	controllerMark string

	sumOnce sync.Once
	sum     string
	sumErr  error
}

// New returns a Deployer that verifies host keys against keys and copies the local executable
// binary to remoteDir on hosts (empty: DefaultRemoteDir; relative: below the SSH user's home).
func New(keys HostKeys, binary, remoteDir string) (*Deployer, error) {
	if remoteDir == "" {
		remoteDir = DefaultRemoteDir
	}
	if err := checkRemoteDir(remoteDir); err != nil {
		return nil, err
	}
	return &Deployer{keys: keys, binary: binary, remoteDir: remoteDir, timeout: 15 * time.Second, controllerMark: ControllerEnvFile}, nil
}

// localSum is the SHA-256 of the local binary, read once: the running executable does not change.
func (d *Deployer) localSum() (string, error) {
	d.sumOnce.Do(func() {
		f, err := os.Open(d.binary)
		if err != nil {
			d.sumErr = fmt.Errorf("open the binary to copy: %w", err)
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			d.sumErr = fmt.Errorf("read the binary to copy: %w", err)
			return
		}
		d.sum = hex.EncodeToString(h.Sum(nil))
	})
	return d.sum, d.sumErr
}

// Conn is an SSH connection to one host, its key verified.
type Conn struct {
	client      *ssh.Client
	d           *Deployer
	user        string
	fingerprint string
}

// ErrUnusableKey is a private key that does not parse.
var ErrUnusableKey = errors.New("the private key is not usable")

// DialKey is Dial with a private key in PEM (OpenSSH) form.
func (d *Deployer) DialKey(ctx context.Context, host string, port int, user, privateKey string) (*Conn, error) {
	signer, err := ssh.ParsePrivateKey([]byte(privateKey))
	if err != nil {
		return nil, ErrUnusableKey // the parser's message could quote the key
	}
	return d.Dial(ctx, host, port, user, signer)
}

// HostID is how a host's key is recorded: host:port in known_hosts form.
func HostID(host string, port int) string {
	return knownhosts.Normalize(net.JoinHostPort(host, strconv.Itoa(port)))
}

// Dial connects to host:port as user with signer. The host key is checked against the recorded
// one: none recorded, it is recorded (trust on first use); a different one is refused with a
// *HostKeyChangedError.
func (d *Deployer) Dial(ctx context.Context, host string, port int, user string, signer ssh.Signer) (*Conn, error) {
	if !avi.ValidLinuxUser(user) {
		return nil, fmt.Errorf("ssh user %q is not a valid Linux user name", user)
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	id := HostID(host, port)
	known, err := d.keys.Lookup(id)
	if err != nil {
		return nil, err
	}
	var presented ssh.PublicKey
	var changed *HostKeyChangedError
	cfg := &ssh.ClientConfig{
		User:    user,
		Auth:    []ssh.AuthMethod{ssh.PublicKeys(signer)},
		Timeout: d.timeout,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			presented = key
			if known == nil {
				return d.keys.Record(id, key)
			}
			if !bytes.Equal(known.Marshal(), key.Marshal()) {
				changed = &HostKeyChangedError{Host: id, Recorded: Fingerprint(known), Presented: Fingerprint(key)}
				return changed
			}
			return nil
		},
	}
	if known != nil {
		// Ask for the recorded key's type: a host with several keys would otherwise be free to
		// present another one, which would look like a changed key.
		cfg.HostKeyAlgorithms = algorithmsFor(known)
	}
	dialer := net.Dialer{Timeout: d.timeout}
	nc, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	// The handshake does not take a context: a deadline bounds it and cancellation closes it.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(d.timeout))
	sc, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	stop()
	if err != nil {
		nc.Close()
		switch {
		case changed != nil:
			return nil, changed
		case ctx.Err() != nil:
			return nil, fmt.Errorf("ssh to %s: %w", addr, ctx.Err())
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, fmt.Errorf("ssh to %s: the host refused the key of user %s: authorize the cloud's public key for %s on the host (see /api/linux_host_install)", addr, user, user)
		}
		return nil, fmt.Errorf("ssh to %s as %s: %w", addr, user, err)
	}
	nc.SetDeadline(time.Time{})
	return &Conn{client: ssh.NewClient(sc, chans, reqs), d: d, user: user, fingerprint: Fingerprint(presented)}, nil
}

// algorithmsFor lists the host key algorithms that make a host present a key of key's type.
func algorithmsFor(key ssh.PublicKey) []string {
	if key.Type() == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{key.Type()}
}

// HostKeyFingerprint is the SHA256 fingerprint of the key the host presented.
func (c *Conn) HostKeyFingerprint() string { return c.fingerprint }

// LocalIP is this end's address on the connection: the address the host reached us at.
func (c *Conn) LocalIP() net.IP { return addrIP(c.client.LocalAddr()) }

// RemoteIP is the host's address on the connection.
func (c *Conn) RemoteIP() net.IP { return addrIP(c.client.RemoteAddr()) }

func addrIP(a net.Addr) net.IP {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP
	}
	return nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.client.Close() }

// run runs cmd on the host with stdin, and returns its standard output. A failure carries the
// exit status and the end of its standard error.
func (c *Conn) run(ctx context.Context, cmd string, stdin io.Reader) ([]byte, error) {
	s, err := c.client.NewSession()
	if err != nil {
		return nil, fmt.Errorf("open an SSH session: %w", err)
	}
	defer s.Close()
	var stdout, stderr tail
	s.Stdin, s.Stdout, s.Stderr = stdin, &stdout, &stderr
	done := make(chan error, 1)
	go func() { done <- s.Run(cmd) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		s.Signal(ssh.SIGKILL)
		s.Close()
		<-done
		return nil, ctx.Err()
	}
	var exit *ssh.ExitError
	if errors.As(err, &exit) {
		return stdout.Bytes(), &ExitError{Status: exit.ExitStatus(), Stderr: stderr.String()}
	}
	return stdout.Bytes(), err
}

// ExitError is a remote command that exited with a non-zero status.
type ExitError struct {
	Status int
	Stderr string // its end
}

func (e *ExitError) Error() string {
	if msg := strings.TrimSpace(e.Stderr); msg != "" {
		return fmt.Sprintf("exit status %d: %s", e.Status, msg)
	}
	return fmt.Sprintf("exit status %d", e.Status)
}

// tailBytes is how much of a command's output is kept: enough for the installer's last words.
const tailBytes = 4096

// tail keeps the last tailBytes written to it.
type tail struct{ b []byte }

func (t *tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > tailBytes {
		t.b = append(t.b[:0], t.b[len(t.b)-tailBytes:]...)
	}
	return len(p), nil
}

func (t *tail) Bytes() []byte  { return t.b }
func (t *tail) String() string { return string(t.b) }

// CheckSudo checks that the user may run commands as root without a password.
func (c *Conn) CheckSudo(ctx context.Context) error {
	_, err := c.run(ctx, "sudo -n true", nil)
	var exit *ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exit) && exit.Status == 127:
		return errors.New("sudo is not installed on the host")
	case errors.As(err, &exit):
		return fmt.Errorf("password-less sudo is not available to %s (%s): run /api/linux_host_install on the host, or add %q to /etc/sudoers.d", c.user, strings.TrimSpace(exit.Stderr), c.user+" ALL=(ALL) NOPASSWD: ALL")
	}
	return fmt.Errorf("check sudo: %w", err)
}

// binaryPath is the binary on the host, as a shell word.
func (c *Conn) binaryPath() string { return remotePath(c.d.remoteDir, binaryName) }

// CopyBinary puts the local binary on the host, unless it is there already, and checks its
// SHA-256 there against the local one. It is written to a temporary name and moved into place
// only once verified, so a half-copied binary is never run.
func (c *Conn) CopyBinary(ctx context.Context) error {
	want, err := c.d.localSum()
	if err != nil {
		return err
	}
	bin := c.binaryPath()
	if got, err := c.remoteSum(ctx, bin); err == nil && got == want {
		return nil
	}
	f, err := os.Open(c.d.binary)
	if err != nil {
		return fmt.Errorf("open the binary to copy: %w", err)
	}
	defer f.Close()
	tmp := remotePath(c.d.remoteDir, binaryName+".tmp")
	dir := remotePath(c.d.remoteDir, "")
	if _, err := c.run(ctx, "umask 077 && mkdir -p "+dir+" && cat > "+tmp, f); err != nil {
		return fmt.Errorf("copy the binary: %w", err)
	}
	got, err := c.remoteSum(ctx, tmp)
	if err != nil {
		return fmt.Errorf("checksum the copied binary: %w", err)
	}
	if got != want {
		c.run(ctx, "rm -f "+tmp, nil)
		return fmt.Errorf("copied binary is corrupt: sha256 %s on the host, %s here", got, want)
	}
	if _, err := c.run(ctx, "chmod 700 "+tmp+" && mv -f "+tmp+" "+bin, nil); err != nil {
		return fmt.Errorf("put the binary in place: %w", err)
	}
	return nil
}

// remoteSum is the SHA-256 of a file on the host, path being a shell word.
func (c *Conn) remoteSum(ctx context.Context, path string) (string, error) {
	out, err := c.run(ctx, "sha256sum "+path, nil)
	if err != nil {
		return "", err
	}
	sum, _, _ := strings.Cut(string(out), " ")
	return sum, nil
}

// InstallRequest is what the installer on the host needs to install an SE that joins this
// controller.
type InstallRequest struct {
	ControllerIP string // the controller's address as the host reaches it (-m)
	SysintPort   int    // the controller's SE port
	MgmtIP       string // the host's address, as the controller reached it (-i)
	JoinToken    string // a secret: piped on standard input, never on the command line
}

// Install runs the installer on the host in SE mode. The join token is read by the installer
// from standard input (--join-token-file -), so it is in no process list or shell history.
func (c *Conn) Install(ctx context.Context, r InstallRequest) error {
	cmd, err := installCommand(c.binaryPath(), r)
	if err != nil {
		return err
	}
	_, err = c.run(ctx, cmd, strings.NewReader(r.JoinToken+"\n"))
	if err != nil {
		// The installer never prints the token; this makes sure no error carries it anyway.
		return fmt.Errorf("installer on the host: %s", strings.ReplaceAll(err.Error(), r.JoinToken, "<join token>"))
	}
	return nil
}

// installCommand is the command line of Install, built from validated values only.
func installCommand(bin string, r InstallRequest) (string, error) {
	ctl, err := ipWord("controller address", r.ControllerIP)
	if err != nil {
		return "", err
	}
	mgmt, err := ipWord("host address", r.MgmtIP)
	if err != nil {
		return "", err
	}
	if r.SysintPort < 1 || r.SysintPort > 65535 {
		return "", fmt.Errorf("controller SE port %d: want 1-65535", r.SysintPort)
	}
	if r.JoinToken == "" || strings.ContainsAny(r.JoinToken, "\r\n") {
		return "", errors.New("join token: want one line")
	}
	return fmt.Sprintf("sudo -n %s -s -m %s -i %s --sysint-port %d --join-token-file - --yes", bin, ctl, mgmt, r.SysintPort), nil
}

// Uninstall removes the SE from the host with the installer, data included, then the copied
// binary. It refuses a host that runs a controller: uninstall would remove that too.
func (c *Conn) Uninstall(ctx context.Context) error {
	_, err := c.run(ctx, uninstallCommand(c.d.controllerMark, c.binaryPath(), remotePath(c.d.remoteDir, "")), nil)
	if err != nil {
		return fmt.Errorf("uninstall on the host: %w", err)
	}
	return nil
}

func uninstallCommand(controllerMark, bin, dir string) string {
	return "if [ -e " + Quote(controllerMark) + " ]; then echo 'this host runs an avi-init controller: uninstall its SE by hand' >&2; exit 3; fi; " +
		"sudo -n " + bin + " uninstall --purge --yes && rm -rf -- " + dir
}
