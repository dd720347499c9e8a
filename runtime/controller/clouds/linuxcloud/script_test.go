package linuxcloud

import (
	"crypto/ed25519"
	"crypto/rand"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestHostInstallScript(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	pk, _ := ssh.NewPublicKey(pub)
	key := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
	script, err := HostInstallScript("ops", key+" a comment")
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range []string{"sh", "bash"} {
		cmd := exec.Command(sh, "-n")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s", sh, err, out)
		}
	}
	for _, want := range []string{
		"user='ops'\n",
		"key='" + key + "'\n",
		`line="$user ALL=(ALL) NOPASSWD: ALL"`,
		`sudoers="/etc/sudoers.d/avi-$user"`,
		`visudo -cf "$tmp"`,
		`grep -qF "$key" "$home/.ssh/authorized_keys"`,
		`chmod 600 "$home/.ssh/authorized_keys"`,
		`usermod -aG docker "$user"`,
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	if strings.Contains(script, "a comment") {
		t.Errorf("the key's comment reached the script")
	}

	for _, user := range []string{"", "Root", "ops;reboot", "ops name", "$(id)", "-o", strings.Repeat("a", 33), "ops\n"} {
		if _, err := HostInstallScript(user, key); err == nil {
			t.Errorf("HostInstallScript(%q) accepted", user)
		}
	}
	if _, err := HostInstallScript("ops", "ssh-ed25519 not-base64'; reboot"); err == nil {
		t.Errorf("a malformed key was accepted")
	}
}
