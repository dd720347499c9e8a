package sshdeploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/avi-init/avi-init/integrations/sshdeploy/sshdtest"
)

const testToken = "abcdef.0123456789abcdef.sha256:0000000000000000000000000000000000000000000000000000000000000000"

// fixture is a test server, a client key it accepts and a Deployer with its own known hosts
// file and a random "binary" to copy.
type fixture struct {
	srv    *testServer
	client ssh.Signer
	keys   *KnownHostsFile
	d      *Deployer
	binary []byte
}

func newFixture(t *testing.T, hostKey ssh.Signer) *fixture {
	t.Helper()
	f := &fixture{client: sshdtest.Signer(t), keys: NewKnownHostsFile(filepath.Join(t.TempDir(), "known_hosts"))}
	f.srv = startServer(t, hostKey, f.client.PublicKey())
	f.binary = make([]byte, 3<<20)
	rand.Read(f.binary)
	bin := filepath.Join(t.TempDir(), "avi-init")
	if err := os.WriteFile(bin, f.binary, 0o755); err != nil {
		t.Fatal(err)
	}
	f.useBinary(t, bin)
	return f
}

// useBinary makes the Deployer copy the executable at path instead.
func (f *fixture) useBinary(t *testing.T, path string) {
	t.Helper()
	var err error
	if f.d, err = New(f.keys, path, ""); err != nil {
		t.Fatal(err)
	}
	// This machine may run a controller; the hosts of these tests do not.
	f.d.controllerMark = filepath.Join(t.TempDir(), "no-controller-here")
}

func (f *fixture) dial(t *testing.T) (*Conn, error) {
	t.Helper()
	c, err := f.d.Dial(context.Background(), "127.0.0.1", f.srv.port, "avi", f.client)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func TestDialRecordsFirstKeyAndRefusesAChangedOne(t *testing.T) {
	hostKey := sshdtest.Signer(t)
	f := newFixture(t, hostKey)
	c, err := f.dial(t)
	if err != nil {
		t.Fatal(err)
	}
	want := ssh.FingerprintSHA256(hostKey.PublicKey())
	if c.HostKeyFingerprint() != want || !strings.HasPrefix(want, "SHA256:") {
		t.Errorf("fingerprint %q, want %q", c.HostKeyFingerprint(), want)
	}
	id := knownhosts.Normalize(c.RemoteIP().String() + ":" + strconv.Itoa(f.srv.port))
	recorded, err := f.keys.Lookup(id)
	if err != nil || recorded == nil || ssh.FingerprintSHA256(recorded) != want {
		t.Fatalf("recorded key for %s: %v, %v; want %s", id, recorded, err, want)
	}
	data, _ := os.ReadFile(f.keys.path)
	if fi, _ := os.Stat(f.keys.path); fi.Mode().Perm() != 0o600 || !strings.HasPrefix(string(data), "[127.0.0.1]:") {
		t.Errorf("known hosts file mode %v, content %q", fi.Mode().Perm(), data)
	}
	// The same key again is fine.
	if _, err := f.dial(t); err != nil {
		t.Fatalf("second dial: %v", err)
	}

	// The host now presents another key: refused, naming both fingerprints.
	other := sshdtest.Signer(t)
	g := newFixture(t, other)
	if err := g.keys.Record(knownhosts.Normalize("127.0.0.1:"+strconv.Itoa(g.srv.port)), hostKey.PublicKey()); err != nil {
		t.Fatal(err)
	}
	_, err = g.dial(t)
	var changed *HostKeyChangedError
	if !errors.As(err, &changed) {
		t.Fatalf("dial with a changed key: %v, want a *HostKeyChangedError", err)
	}
	for _, s := range []string{"changed", want, ssh.FingerprintSHA256(other.PublicKey()), "refused"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if len(g.srv.Commands()) != 0 {
		t.Errorf("commands ran on a host with a changed key: %q", g.srv.Commands())
	}
}

func TestDialKeyRefused(t *testing.T) {
	f := newFixture(t, sshdtest.Signer(t))
	_, err := f.d.Dial(context.Background(), "127.0.0.1", f.srv.port, "avi", sshdtest.Signer(t))
	if err == nil || !strings.Contains(err.Error(), "refused the key of user avi") {
		t.Fatalf("dial with an unauthorized key: %v", err)
	}
	if _, err := f.d.Dial(context.Background(), "127.0.0.1", f.srv.port, "root;id", f.client); err == nil || !strings.Contains(err.Error(), "not a valid Linux user name") {
		t.Fatalf("dial as a bad user name: %v", err)
	}
}

func TestDialKeyUnusableKey(t *testing.T) {
	f := newFixture(t, sshdtest.Signer(t))
	key := "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----\n"
	_, err := f.d.DialKey(context.Background(), "127.0.0.1", f.srv.port, "avi", key)
	if !errors.Is(err, ErrUnusableKey) || strings.Contains(err.Error(), "not a key") {
		t.Fatalf("dial with a key that does not parse: %v, want ErrUnusableKey without the key", err)
	}
	if fp, err := f.keys.Fingerprint(HostID("127.0.0.1", f.srv.port)); err != nil || fp != "" {
		t.Errorf("a host key was recorded (%q, %v): the host was dialed with a key that does not parse", fp, err)
	}
}

func TestCheckSudo(t *testing.T) {
	f := newFixture(t, sshdtest.Signer(t))
	c, err := f.dial(t)
	if err != nil {
		t.Fatal(err)
	}
	script(t, f.srv.bin, "sudo", `echo "sh: sudo: not found" >&2; exit 127`)
	if err := c.CheckSudo(context.Background()); err == nil || !strings.Contains(err.Error(), "sudo is not installed") {
		t.Errorf("CheckSudo without sudo: %v", err)
	}
	script(t, f.srv.bin, "sudo", `echo "sudo: a password is required" >&2; exit 1`)
	err = c.CheckSudo(context.Background())
	for _, s := range []string{"password-less sudo is not available to avi", "a password is required", "NOPASSWD"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("CheckSudo with a password: %v, want it to mention %q", err, s)
		}
	}
	script(t, f.srv.bin, "sudo", passSudo)
	if err := c.CheckSudo(context.Background()); err != nil {
		t.Errorf("CheckSudo with password-less sudo: %v", err)
	}
}

func TestCopyBinary(t *testing.T) {
	f := newFixture(t, sshdtest.Signer(t))
	c, err := f.dial(t)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CopyBinary(context.Background()); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(f.srv.home, DefaultRemoteDir, "avi-init")
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, f.binary) {
		t.Fatalf("binary on the host: %d bytes, %v; want the %d bytes copied", len(got), err, len(f.binary))
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o700 {
		t.Errorf("binary mode %v, want 0700", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(filepath.Dir(dst)); fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
	}

	// There already: only its checksum is read.
	before := len(f.srv.Commands())
	if err := c.CopyBinary(context.Background()); err != nil {
		t.Fatal(err)
	}
	if cmds := f.srv.Commands()[before:]; len(cmds) != 1 || !strings.HasPrefix(cmds[0], "sha256sum ") {
		t.Errorf("second copy ran %q, want only a checksum", cmds)
	}
}

func TestCopyBinaryChecksumMismatch(t *testing.T) {
	f := newFixture(t, sshdtest.Signer(t))
	c, err := f.dial(t)
	if err != nil {
		t.Fatal(err)
	}
	// A cat that corrupts what it copies.
	script(t, f.srv.bin, "cat", `/bin/cat >/dev/null; echo corrupt`)
	err = c.CopyBinary(context.Background())
	if err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("CopyBinary through a corrupting cat: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(f.srv.home, DefaultRemoteDir))
	if len(entries) != 0 {
		t.Errorf("left on the host after a failed copy: %v", entries)
	}
}

func TestInstallPipesTheToken(t *testing.T) {
	f := newFixture(t, sshdtest.Signer(t))
	script(t, f.srv.bin, "sudo", passSudo)
	// The "binary" records its arguments and standard input.
	f.useBinary(t, script(t, t.TempDir(), "avi-init", `echo "$@" > "$HOME/args"; /bin/cat > "$HOME/stdin"`))
	c, err := f.dial(t)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CopyBinary(context.Background()); err != nil {
		t.Fatal(err)
	}
	err = c.Install(context.Background(), InstallRequest{ControllerIP: "192.0.2.10", SysintPort: 8443, MgmtIP: "198.51.100.31", JoinToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	args, _ := os.ReadFile(filepath.Join(f.srv.home, "args"))
	if want := "-s -m 192.0.2.10 -i 198.51.100.31 --sysint-port 8443 --join-token-file - --yes\n"; string(args) != want {
		t.Errorf("installer arguments %q, want %q", args, want)
	}
	stdin, _ := os.ReadFile(filepath.Join(f.srv.home, "stdin"))
	if string(stdin) != testToken+"\n" {
		t.Errorf("installer standard input %q, want the token", stdin)
	}
	for _, cmd := range f.srv.Commands() {
		if strings.Contains(cmd, testToken) || strings.Contains(cmd, "0123456789abcdef") {
			t.Errorf("the token is on a command line: %q", cmd)
		}
	}

	// An installer that fails (even one that prints the token) fails Install without the token.
	f.useBinary(t, script(t, t.TempDir(), "avi-init", `echo "failed with $(/bin/cat)" >&2; exit 4`))
	if c, err = f.dial(t); err != nil {
		t.Fatal(err)
	}
	if err := c.CopyBinary(context.Background()); err != nil {
		t.Fatal(err)
	}
	err = c.Install(context.Background(), InstallRequest{ControllerIP: "192.0.2.10", SysintPort: 8443, MgmtIP: "198.51.100.31", JoinToken: testToken})
	if err == nil || !strings.Contains(err.Error(), "exit status 4") || strings.Contains(err.Error(), testToken) {
		t.Errorf("failed install: %v; want exit status 4 without the token", err)
	}
}

func TestUninstall(t *testing.T) {
	f := newFixture(t, sshdtest.Signer(t))
	script(t, f.srv.bin, "sudo", passSudo)
	f.useBinary(t, script(t, t.TempDir(), "avi-init", `echo "$@" > "$HOME/args"`))
	c, err := f.dial(t)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CopyBinary(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Uninstall(context.Background()); err != nil {
		t.Fatal(err)
	}
	if args, _ := os.ReadFile(filepath.Join(f.srv.home, "args")); string(args) != "uninstall --purge --yes\n" {
		t.Errorf("uninstall arguments %q", args)
	}
	if _, err := os.Stat(filepath.Join(f.srv.home, DefaultRemoteDir)); !os.IsNotExist(err) {
		t.Errorf("remote directory left behind: %v", err)
	}

	// A host that runs a controller is left alone: uninstall would remove the controller too.
	f.d.controllerMark = f.d.binary
	os.Remove(filepath.Join(f.srv.home, "args"))
	if err := c.Uninstall(context.Background()); err == nil || !strings.Contains(err.Error(), "runs an avi-init controller") {
		t.Errorf("Uninstall beside a controller: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.srv.home, "args")); !os.IsNotExist(err) {
		t.Errorf("the installer ran on a controller's host")
	}
}

func TestInstallCommandRefusesUnsafeValues(t *testing.T) {
	ok := InstallRequest{ControllerIP: "192.0.2.10", SysintPort: 8443, MgmtIP: "2001:db8::1", JoinToken: testToken}
	cmd, err := installCommand(remotePath(DefaultRemoteDir, "avi-init"), ok)
	if err != nil {
		t.Fatal(err)
	}
	if want := `sudo -n "$HOME"/'.avi-init/avi-init' -s -m '192.0.2.10' -i '2001:db8::1' --sysint-port 8443 --join-token-file - --yes`; cmd != want {
		t.Errorf("install command\n got %s\nwant %s", cmd, want)
	}
	for _, bad := range []func(r *InstallRequest){
		func(r *InstallRequest) { r.ControllerIP = "192.0.2.10; reboot" },
		func(r *InstallRequest) { r.MgmtIP = "$(reboot)" },
		func(r *InstallRequest) { r.SysintPort = 0 },
		func(r *InstallRequest) { r.JoinToken = "" },
		func(r *InstallRequest) { r.JoinToken = "a\nb" },
	} {
		r := ok
		bad(&r)
		if cmd, err := installCommand("bin", r); err == nil {
			t.Errorf("installCommand(%+v) = %q, want an error", r, cmd)
		}
	}
}

func TestRemoteDirAndQuoting(t *testing.T) {
	for _, dir := range []string{".avi-init", "/opt/avi-init", "/tmp/a_b-c.d"} {
		if err := checkRemoteDir(dir); err != nil {
			t.Errorf("checkRemoteDir(%q): %v", dir, err)
		}
	}
	for _, dir := range []string{"", "/", ".", "..", "../x", "a/../../b", "/opt/", "a b", "$HOME", "a'b", "-rf", "/opt//x"} {
		if err := checkRemoteDir(dir); err == nil {
			t.Errorf("checkRemoteDir(%q) accepted", dir)
		}
	}
	if got := remotePath("/opt/avi-init", "avi-init"); got != `'/opt/avi-init/avi-init'` {
		t.Errorf("remotePath absolute: %s", got)
	}
	// Whatever a value holds, the shell reads it back as is.
	for _, s := range []string{"plain", "it's", `a"b`, "$(id)", "`id`", "a\nb", "'", "''", `\'`} {
		out, err := exec.Command("/bin/sh", "-c", "printf %s "+Quote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("Quote(%q) read back as %q, %v", s, out, err)
		}
	}
}
