package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/avi-init/avi-init/e2e/systemdhost"
	"github.com/avi-init/avi-init/integrations/sshdeploy"
	"github.com/avi-init/avi-init/integrations/sshdeploy/sshdtest"
	"github.com/avi-init/avi-init/internal/syncbuf"
)

const sshdPath = "/usr/sbin/sshd"

// startSSHD runs OpenSSH's sshd on a loopback port with a configuration of its own: key
// authentication only, for the current user, whose authorized key is the returned signer's.
func startSSHD(t *testing.T) (port int, hostKey ssh.PublicKey, client ssh.Signer) {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		systemdhost.Missing(t, fmt.Errorf("%s: %w (apt-get install openssh-server; .ci/run installs it)", sshdPath, err))
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hostSigner, hostPEM := sshdtest.Key(t)
	hostKeyFile := filepath.Join(dir, "host_key")
	if err := os.WriteFile(hostKeyFile, hostPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	client = sshdtest.Signer(t)
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, ssh.MarshalAuthorizedKey(client.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	port = freePorts(t, 1)[0]
	config := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PidFile %s
AllowUsers %s
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
LogLevel ERROR
`, port, hostKeyFile, authorized, filepath.Join(dir, "sshd.pid"), me.Username)
	configFile := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// sshd running as root wants its privilege separation directory.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	logs := &syncbuf.Buffer{}
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", configFile)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("sshd said:\n%s", logs.String())
		}
	})
	waitFor(t, "sshd to listen on port "+strconv.Itoa(port), 10*time.Second, func() bool {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return port, hostSigner.PublicKey(), client
}

// sshTestToken is the join token the fake installer expects on its standard input.
const sshTestToken = "abcdef.0123456789abcdef.sha256:0000000000000000000000000000000000000000000000000000000000000000"

// TestRealSSHD deploys and forwards through OpenSSH, as the Linux server and Docker clouds do
// (the unit tests use an in-process SSH server): host key recorded then checked, sudo, the copy,
// the install with the token on standard input, the uninstall, a changed key refused, and
// streams to unix sockets (a test's, and this machine's Docker engine's).
func TestRealSSHD(t *testing.T) {
	port, hostKey, client := startSSHD(t)
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// dial connects a new deployer to the sshd, closing the connection when t ends.
	dial := func(t *testing.T, keys sshdeploy.HostKeys, binary, remoteDir string) (*sshdeploy.Deployer, *sshdeploy.Conn) {
		t.Helper()
		d, err := sshdeploy.New(keys, binary, remoteDir)
		if err != nil {
			t.Fatal(err)
		}
		c, err := d.Dial(ctx, "127.0.0.1", port, me.Username, client)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return d, c
	}

	t.Run("deploy", func(t *testing.T) {
		keys := sshdeploy.NewKnownHostsFile(filepath.Join(t.TempDir(), "known_hosts"))
		// The binary stands in for avi-init: it checks what the installer would be given.
		bin := filepath.Join(t.TempDir(), "avi-init")
		fake := `#!/bin/sh
case "$1" in
uninstall) [ "$*" = "uninstall --purge --yes" ] && exit 0 ;;
-s) read -r tok; [ "$tok" = '` + sshTestToken + `' ] && [ "$*" = "-s -m 127.0.0.1 -i 127.0.0.1 --sysint-port 8443 --join-token-file - --yes" ] && exit 0 ;;
esac
echo "unexpected: $*" >&2; exit 1
`
		if err := os.WriteFile(bin, []byte(fake), 0o755); err != nil {
			t.Fatal(err)
		}
		remote := filepath.Join(t.TempDir(), "remote")
		d, c := dial(t, keys, bin, remote)
		if c.HostKeyFingerprint() != sshdeploy.Fingerprint(hostKey) {
			t.Errorf("fingerprint %s, want %s", c.HostKeyFingerprint(), sshdeploy.Fingerprint(hostKey))
		}
		id := knownhosts.Normalize("127.0.0.1:" + strconv.Itoa(port))
		if k, err := keys.Lookup(id); err != nil || k == nil || sshdeploy.Fingerprint(k) != sshdeploy.Fingerprint(hostKey) {
			t.Fatalf("recorded key: %v, %v", k, err)
		}
		if c.LocalIP().String() != "127.0.0.1" {
			t.Errorf("local address %v", c.LocalIP())
		}

		err := c.CheckSudo(ctx)
		if exec.Command("sudo", "-n", "true").Run() != nil {
			// This machine gives the user no password-less sudo: the check must say so, and the
			// install cannot be tried.
			if err == nil || !strings.Contains(err.Error(), "sudo") {
				t.Errorf("CheckSudo without password-less sudo: %v", err)
			}
			systemdhost.Missing(t, fmt.Errorf("password-less sudo for %s (.ci/run installs sudo and runs as root)", me.Username))
		}
		if err != nil {
			t.Fatalf("CheckSudo: %v", err)
		}
		if err := c.CopyBinary(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(remote, "avi-init")); !bytes.Contains(got, []byte(sshTestToken)) {
			t.Fatalf("binary not copied to %s", remote)
		}
		if err := c.Install(ctx, sshdeploy.InstallRequest{ControllerIP: "127.0.0.1", SysintPort: 8443, MgmtIP: c.RemoteIP().String(), JoinToken: sshTestToken}); err != nil {
			t.Fatalf("Install: %v", err)
		}
		err = c.Uninstall(ctx)
		if _, statErr := os.Stat(sshdeploy.ControllerEnvFile); statErr == nil {
			// An avi-init controller runs on this machine (another end-to-end test installed
			// it): uninstall must refuse to touch it.
			if err == nil || !strings.Contains(err.Error(), "runs an avi-init controller") {
				t.Errorf("Uninstall beside a controller: %v, want a refusal", err)
			}
		} else {
			if err != nil {
				t.Fatalf("Uninstall: %v", err)
			}
			if _, err := os.Stat(remote); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("uninstall left %s: %v", remote, err)
			}
		}

		// The host's key changes: refused.
		if err := keys.Record(id, sshdtest.Signer(t).PublicKey()); err != nil {
			t.Fatal(err)
		}
		_, err = d.Dial(ctx, "127.0.0.1", port, me.Username, client)
		var changed *sshdeploy.HostKeyChangedError
		if !errors.As(err, &changed) || changed.Presented != sshdeploy.Fingerprint(hostKey) {
			t.Fatalf("dial after the key changed: %v", err)
		}
	})

	t.Run("dial unix", func(t *testing.T) {
		_, c := dial(t, sshdeploy.NewKnownHostsFile(filepath.Join(t.TempDir(), "known_hosts")), "/bin/true", "")
		s, err := c.DialUnix(ctx, sshdtest.EchoSocket(t))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		sshdtest.RoundTrip(t, s, "through sshd")
		if _, err := c.DialUnix(ctx, filepath.Join(t.TempDir(), "missing.sock")); err == nil {
			t.Error("sshd forwarded to a missing socket")
		}

		need(t) // the Docker engine
		e, err := c.DialUnix(ctx, systemdhost.DockerSocket)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if _, err := io.WriteString(e, "GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		reply, err := io.ReadAll(e)
		if err != nil || !strings.HasPrefix(string(reply), "HTTP/1.0 200") || !strings.HasSuffix(string(reply), "OK") {
			t.Errorf("engine ping through sshd: %q, %v", reply, err)
		}
	})
}
