package linuxcloud

import (
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/avi-init/avi-init/integrations/sshdeploy"
	"github.com/avi-init/avi-init/model/avi"
)

// hostInstallScript prepares a host for a Linux server cloud, run as root through
// `curl -ks https://<controller>/api/linux_host_install?username=<user> | sudo bash`. It is
// idempotent and says what it changed. USER and KEY are replaced by shell-quoted words.
const hostInstallScript = `#!/bin/sh
# Prepares this host for the avi-init controller's Linux server and Docker clouds: the SSH user
# exists, the controller's public key is authorized for it, it may use sudo without a password,
# and it is in the docker group.
set -eu
user=USER
key=KEY
if [ "$(id -u)" -ne 0 ]; then
	echo "run this as root: curl -ks https://<controller>/api/linux_host_install?username=$user | sudo bash" >&2
	exit 1
fi
if id "$user" >/dev/null 2>&1; then
	echo "user $user: exists"
else
	if command -v useradd >/dev/null 2>&1; then
		useradd -m -s /bin/sh "$user"
	else
		adduser -D -s /bin/sh "$user"
	fi
	# A new account has a locked password, which some sshd builds take as a locked account;
	# '*' matches no password and is not a lock, so only the key logs in.
	usermod -p '*' "$user" 2>/dev/null || sed -i "s|^$user:!*:|$user:*:|" /etc/shadow
	echo "user $user: created"
fi
home=$(getent passwd "$user" 2>/dev/null | cut -d: -f6)
[ -n "$home" ] || home=$(awk -F: -v u="$user" '$1 == u { print $6 }' /etc/passwd)
if [ -z "$home" ] || [ "$home" = / ]; then
	echo "cannot tell the home directory of $user; nothing more changed" >&2
	exit 1
fi
group=$(id -gn "$user")
mkdir -p "$home/.ssh"
chmod 700 "$home/.ssh"
touch "$home/.ssh/authorized_keys"
chmod 600 "$home/.ssh/authorized_keys"
chown "$user:$group" "$home/.ssh" "$home/.ssh/authorized_keys"
if grep -qF "$key" "$home/.ssh/authorized_keys"; then
	echo "$home/.ssh/authorized_keys: the controller's key is authorized already"
else
	printf '%s avi-init-controller\n' "$key" >> "$home/.ssh/authorized_keys"
	echo "$home/.ssh/authorized_keys: authorized the controller's key"
fi
sudoers="/etc/sudoers.d/avi-$user"
line="$user ALL=(ALL) NOPASSWD: ALL"
if [ -f "$sudoers" ] && [ "$(cat "$sudoers")" = "$line" ]; then
	echo "$sudoers: password-less sudo granted already"
else
	mkdir -p /etc/sudoers.d
	# sudo ignores files with a dot in their name: the draft is never read half-written.
	tmp=$(mktemp /etc/sudoers.d/.avi-XXXXXX)
	printf '%s\n' "$line" > "$tmp"
	chmod 440 "$tmp"
	if command -v visudo >/dev/null 2>&1 && ! visudo -cf "$tmp" >/dev/null; then
		rm -f "$tmp"
		echo "$sudoers: visudo rejects '$line'; nothing written" >&2
		exit 1
	fi
	mv -f "$tmp" "$sudoers"
	echo "$sudoers: granted $user password-less sudo"
fi
# The Docker cloud reads the host's engine (containers and events) over the SSH connection, as
# this user: the engine's socket is its docker group's.
if getent group docker >/dev/null 2>&1; then
	if id -nG "$user" | tr ' ' '\n' | grep -qx docker; then
		echo "group docker: $user is a member already"
	else
		usermod -aG docker "$user" 2>/dev/null || addgroup "$user" docker
		echo "group docker: added $user (the Docker cloud reads this host's engine as $user)"
	fi
else
	echo "group docker: none on this host (no Docker engine yet); run this again after installing Docker for the Docker cloud"
fi
echo "this host is ready for the controller's Linux server and Docker clouds (user $user)"
`

// HostInstallScript is the linux_host_install script for user, authorizing publicKey (an
// authorized_keys line). Both are validated, then quoted.
func HostInstallScript(user, publicKey string) (string, error) {
	if !avi.ValidLinuxUser(user) {
		return "", fmt.Errorf("username %q: want %s", user, avi.LinuxUserRule)
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(publicKey))
	if err != nil {
		return "", fmt.Errorf("the SSH user's public key does not parse: %w", err)
	}
	// The key without its comment: what grep looks for, and nothing a client chose.
	key := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
	return strings.NewReplacer("user=USER", "user="+sshdeploy.Quote(user), "key=KEY", "key="+sshdeploy.Quote(key)).Replace(hostInstallScript), nil
}
