package sshdeploy

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
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

	"github.com/avi-init/avi-init/internal/testnet"
)

const sshdPath = "/usr/sbin/sshd"

// startSSHD runs OpenSSH's sshd on a loopback port with a configuration of its own: key
// authentication only, for the current user, whose authorized key is the returned signer's.
func startSSHD(t *testing.T) (port int, hostKey ssh.PublicKey, client ssh.Signer) {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: CI must install openssh-server", sshdPath)
		}
		t.Skipf("%s is missing (apt-get install -y openssh-server)", sshdPath)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(hostPriv, "test host")
	if err != nil {
		t.Fatal(err)
	}
	hostKeyFile := filepath.Join(dir, "host_key")
	if err := os.WriteFile(hostKeyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	hostSigner, _ := ssh.NewSignerFromKey(hostPriv)
	client = newSigner(t)
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, ssh.MarshalAuthorizedKey(client.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	port = testnet.FreePort(t)
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
		os.MkdirAll("/run/sshd", 0o755)
	}
	var logs bytes.Buffer
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", configFile)
	cmd.Stdout, cmd.Stderr = &logs, &logs
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
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd does not listen on port %d", port)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return port, hostSigner.PublicKey(), client
}

// TestRealSSHD deploys through OpenSSH: host key recorded then checked, sudo, the copy, the
// install with the token on standard input, the uninstall, and a changed key refused.
func TestRealSSHD(t *testing.T) {
	port, hostKey, client := startSSHD(t)
	me, _ := user.Current()
	ctx := context.Background()
	keys := NewKnownHostsFile(filepath.Join(t.TempDir(), "known_hosts"))
	// The binary stands in for avi-init: it checks what the installer would be given.
	bin := script(t, t.TempDir(), "avi-init", `case "$1" in
uninstall) [ "$*" = "uninstall --purge --yes" ] && exit 0 ;;
-s) read -r tok; [ "$tok" = '`+testToken+`' ] && [ "$*" = "-s -m 127.0.0.1 -i 127.0.0.1 --sysint-port 8443 --join-token-file - --yes" ] && exit 0 ;;
esac
echo "unexpected: $*" >&2; exit 1`)
	remote := filepath.Join(t.TempDir(), "remote")
	d, err := New(keys, bin, remote)
	if err != nil {
		t.Fatal(err)
	}
	d.controllerMark = filepath.Join(t.TempDir(), "no-controller-here")

	c, err := d.Dial(ctx, "127.0.0.1", port, me.Username, client)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.HostKeyFingerprint() != Fingerprint(hostKey) {
		t.Errorf("fingerprint %s, want %s", c.HostKeyFingerprint(), Fingerprint(hostKey))
	}
	id := knownhosts.Normalize("127.0.0.1:" + strconv.Itoa(port))
	if k, err := keys.Lookup(id); err != nil || k == nil || Fingerprint(k) != Fingerprint(hostKey) {
		t.Fatalf("recorded key: %v, %v", k, err)
	}
	if c.LocalIP().String() != "127.0.0.1" {
		t.Errorf("local address %v", c.LocalIP())
	}

	err = c.CheckSudo(ctx)
	if exec.Command("sudo", "-n", "true").Run() != nil {
		// This machine gives the user no password-less sudo: the check must say so, and the
		// install cannot be tried.
		if err == nil || !strings.Contains(err.Error(), "sudo") {
			t.Errorf("CheckSudo without password-less sudo: %v", err)
		}
		t.Logf("no password-less sudo for %s here: install not tried", me.Username)
		return
	}
	if err != nil {
		t.Fatalf("CheckSudo: %v", err)
	}
	if err := c.CopyBinary(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(remote, "avi-init")); !bytes.Contains(got, []byte(testToken)) {
		t.Fatalf("binary not copied to %s", remote)
	}
	if err := c.Install(ctx, InstallRequest{ControllerIP: "127.0.0.1", SysintPort: 8443, MgmtIP: c.RemoteIP().String(), JoinToken: testToken}); err != nil {
		t.Fatalf("Install: %v", err)
	}
	if err := c.Uninstall(ctx); err != nil {
		t.Fatalf("Uninstall: %v", err)
	}
	if _, err := os.Stat(remote); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("uninstall left %s: %v", remote, err)
	}

	// The host's key changes: refused.
	if err := keys.Record(id, newSigner(t).PublicKey()); err != nil {
		t.Fatal(err)
	}
	_, err = d.Dial(ctx, "127.0.0.1", port, me.Username, client)
	var changed *HostKeyChangedError
	if !errors.As(err, &changed) || changed.Presented != Fingerprint(hostKey) {
		t.Fatalf("dial after the key changed: %v", err)
	}
}
