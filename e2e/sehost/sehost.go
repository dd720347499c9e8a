// Package sehost gives end-to-end tests SE hosts: machines of their own on
// a private network, like those the controller deploys service engines onto
// over SSH. Each is a systemd host container (see e2e/systemdhost) running
// sshd on port 22, sudo, and a Docker engine of its own (Debian's docker.io,
// containerd and runc) that the SE's container runs in.
//
// A test makes a Network, then Adds hosts to it:
//
//	n := sehost.NewNetwork(t)
//	hosts := n.Add(t, sehost.Options{AuthorizedKey: pub, Sudo: true}, sehost.Options{AuthorizedKey: pub})
//	ssh.Dial("tcp", hosts[0].SSHAddr(), ...) // as sehost.User
//	hosts[1].Stop(ctx); hosts[1].Start(ctx); hosts[1].Close()
//
// What runs how, and why (each checked on Docker 20.10, cgroup v1, with
// fuse-overlayfs as the machine engine's storage driver):
//
//   - The host has its own network namespace on a user-defined bridge
//     network with a subnet of its own, with a fixed address, so that stop
//     and start keep it and the test process reaches it directly (ssh, and
//     the SE's listeners, since the SE uses host networking inside it).
//     The network is --internal: hosts reach each other and the machine
//     (at the network's gateway address, where a controller the test runs
//     listens) and nothing else, though each has a default route via the
//     gateway like a real host (see defaultRouteUnit).
//   - The inner engine keeps /var/lib/docker on an anonymous volume, i.e.
//     on the machine's file system (ext4 here) instead of the container's
//     root, which is a fuse-overlayfs mount that the kernel's overlayfs
//     refuses as a layer. The inner engine is left to pick its storage
//     driver and picks overlay2 there: no FUSE device needed, no per-layer
//     copies as with vfs.
//   - The inner engine sets no iptables rules, so nothing in the host has
//     to touch netfilter. By default it has no bridge either, as the SE uses
//     host networking: containers there must be run with --network host (or
//     none). With Options.Bridge it keeps the default bridge (docker0), and
//     ports published with -p are served on the host's address by the
//     engine's userland proxy (docker-proxy) rather than by NAT rules, as
//     application containers of a Docker cloud need.
//   - aviuser's authorized key, the sudoers rule and a fixed host key are
//     written into the container before it first boots; otherwise sshd
//     makes its ed25519 host key at first boot, so each host, and a host
//     created again, has a key of its own.
package sehost

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/avi-init/avi-init/e2e/systemdhost"
)

// User is the account tests log in as.
const User = "aviuser"

// userID is User's UID and GID, fixed so that files written before boot
// can be owned by it.
const userID = 1000

// Kind names SE host containers and networks (see systemdhost.RemoveStale).
const Kind = "sehost"

// hostKeyPath is the only host key sshd uses: ed25519 keys are made in
// milliseconds at boot, where RSA would cost up to a second per host.
const hostKeyPath = "/etc/ssh/ssh_host_ed25519_key"

// Recipe is the SE host image.
var Recipe = systemdhost.Recipe{
	Repo:     "avi-init-e2e/sehost",
	Packages: append(slices.Clone(systemdhost.Base.Packages), "openssh-server", "sudo", "docker.io", "containerd", "runc", "iproute2"),
	Masked:   systemdhost.BaseMasked,
	Files: []systemdhost.File{
		{Path: "/etc/ssh/sshd_config.d/sehost.conf", Mode: 0o644, Data: []byte(
			"HostKey " + hostKeyPath + "\n" +
				"PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\n")},
		// The host key is made on first boot, before sshd's own config
		// check; a key written in before boot is kept.
		{Path: "/etc/systemd/system/ssh.service.d/host-key.conf", Mode: 0o644, Data: []byte(`[Service]
ExecStartPre=
ExecStartPre=/bin/sh -c 'test -e ` + hostKeyPath + ` || exec ssh-keygen -q -t ed25519 -N "" -f ` + hostKeyPath + `'
ExecStartPre=/usr/sbin/sshd -t
`)},
		{Path: "/etc/docker/daemon.json", Mode: 0o644, Data: []byte(`{"bridge": "none", "iptables": false}` + "\n")},
		{Path: "/etc/systemd/system/cgroup-cpu-split.service", Mode: 0o644, Data: []byte(cgroupCPUSplitUnit)},
		{Path: "/etc/systemd/system/default-route.service", Mode: 0o644, Data: []byte(defaultRouteUnit)},
	},
	Run: [][]string{
		{"useradd", "--create-home", "--uid", fmt.Sprint(userID), "--user-group", "--shell", "/bin/bash", User},
		{"install", "-d", "-o", User, "-g", User, "-m", "700", "/home/" + User + "/.ssh"},
		// openssh-server's postinst made host keys: each host makes its own.
		{"sh", "-c", "rm -f /etc/ssh/ssh_host_*"},
		{"systemctl", "enable", "cgroup-cpu-split.service", "default-route.service"},
	},
}

// cgroupCPUSplitUnit mounts the cpu and cpuacct cgroup v1 controllers where
// the kernel has them as two hierarchies (as on our build machine) while
// systemd only knows how to mount them together, as "cpu,cpuacct": there
// systemd leaves both unmounted and the inner engine could not apply CPU
// limits (--cpus), which the installer sets on the SE container.
//
// Only the engine waits for it, not the rest of the boot.
const cgroupCPUSplitUnit = `[Unit]
Description=Mount the cpu and cpuacct cgroup hierarchies separately
Before=containerd.service docker.service
ConditionPathIsDirectory=/sys/fs/cgroup/cpu,cpuacct
ConditionPathIsMountPoint=!/sys/fs/cgroup/cpu,cpuacct

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -ec 'cd /sys/fs/cgroup; mount -o remount,rw .; for c in cpu cpuacct; do rm -f $$c; mkdir -p $$c; mount -t cgroup -o $$c cgroup $$c; done; mount -o remount,ro .'

[Install]
WantedBy=multi-user.target
`

// defaultRouteUnit gives the host a default route via the network's
// gateway, as a real host has, since the installer takes the host's address
// from the interface holding the default route. Docker sets none on an
// internal network, and what the route carries past the gateway the
// machine's engine drops, so the host stays isolated.
const defaultRouteUnit = `[Unit]
Description=Default route via the network's gateway
Before=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
EnvironmentFile=` + networkEnvPath + `
ExecStart=/usr/sbin/ip route replace default via ${GATEWAY}

[Install]
WantedBy=network-online.target multi-user.target
`

// networkEnvPath holds GATEWAY=<the network's gateway>, written per host.
const networkEnvPath = "/etc/default/sehost-network"

// Options describe one SE host.
type Options struct {
	// AuthorizedKey is the public key User logs in with; required.
	AuthorizedKey ssh.PublicKey
	// Sudo gives User password-less sudo.
	Sudo bool
	// HostKey is sshd's host key; nil has one made at first boot.
	HostKey ed25519.PrivateKey
	// IP is the host's address; zero takes the network's next free one. A test
	// replaces a host with another at the same address (a reinstalled
	// machine) by closing it and adding one with its IP.
	IP netip.Addr
	// Bridge gives the inner engine its default bridge network, so that
	// containers run without --network host and publish ports (-p).
	Bridge bool
}

// bridgeDaemonJSON is the inner engine's configuration under
// Options.Bridge; Recipe's has "bridge": "none". iptables stays off:
// docker-proxy alone serves published ports. Without masquerading,
// containers on the bridge reach nothing past the host, which serving
// published ports does not need.
const bridgeDaemonJSON = `{"iptables": false}` + "\n"

// Network is a private Docker network for SE hosts.
type Network struct {
	// Name is the Docker network's name.
	Name string
	// Subnet is the network's address range.
	Subnet netip.Prefix
	// Gateway is the machine's address on the network: hosts reach a
	// controller (or anything else) that the test runs on the machine here.
	Gateway netip.Addr

	image string
	log   io.Writer
	mu    sync.Mutex
	next  netip.Addr
}

// Host is a running SE host.
type Host struct {
	*systemdhost.Host
	// IP is the host's address on its network; it survives Stop and Start.
	IP netip.Addr

	network string // the Docker network's name
}

// NewNetwork builds the SE host image if needed, removes what crashed runs
// left, and creates a network that is removed when the test ends, after
// the hosts on it.
func NewNetwork(t testing.TB) *Network {
	t.Helper()
	log := systemdhost.TestLog(t)
	image := systemdhost.Image(t, Recipe, log)
	ctx := context.Background()
	if err := systemdhost.RemoveStale(ctx, Kind); err != nil {
		t.Fatalf("sehost: %v", err)
	}
	n, err := createNetwork(ctx)
	if err != nil {
		t.Fatalf("sehost: %v", err)
	}
	n.image, n.log = image, log
	t.Cleanup(func() {
		if out, err := exec.Command("docker", "network", "rm", n.Name).CombinedOutput(); err != nil {
			t.Errorf("sehost: remove network %s: %v: %s", n.Name, err, strings.TrimSpace(string(out)))
		}
	})
	return n
}

// createNetwork creates an internal bridge network on a free /24 of
// 198.18.0.0/15, the range set aside for benchmarking networks (RFC 2544),
// so it never stands for a real destination. The engine refuses subnets
// that overlap its other networks; those of the machine's interfaces are
// skipped first. A random start keeps parallel test runs apart.
func createNetwork(ctx context.Context) (*Network, error) {
	labels, err := systemdhost.LabelArgs(Kind)
	if err != nil {
		return nil, err
	}
	name, err := systemdhost.Name(Kind + "-net")
	if err != nil {
		return nil, err
	}
	used, err := machinePrefixes()
	if err != nil {
		return nil, err
	}
	start, err := rand.Int(rand.Reader, big.NewInt(512))
	if err != nil {
		return nil, fmt.Errorf("network subnet: %w", err)
	}
	for i := range 512 {
		k := (int(start.Int64()) + i) % 512
		subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, byte(18 + k/256), byte(k % 256), 0}), 24)
		if slices.ContainsFunc(used, subnet.Overlaps) {
			continue
		}
		gw := subnet.Addr().Next()
		args := append([]string{"network", "create", "--driver", "bridge", "--internal",
			"--subnet", subnet.String(), "--gateway", gw.String()}, labels...)
		out, err := exec.CommandContext(ctx, "docker", append(args, name)...).CombinedOutput()
		if err != nil && strings.Contains(string(out), "overlaps") {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("docker network create %s: %w: %s", name, err, strings.TrimSpace(string(out)))
		}
		// .2 to .9 stay free for whatever else a test attaches.
		next := gw
		for range 9 {
			next = next.Next()
		}
		return &Network{Name: name, Subnet: subnet, Gateway: gw, next: next}, nil
	}
	return nil, errors.New("docker network create: no free /24 in 198.18.0.0/15")
}

// machinePrefixes lists the IPv4 networks of the machine's interfaces.
func machinePrefixes() ([]netip.Prefix, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("interface addresses: %w", err)
	}
	var prefixes []netip.Prefix
	for _, a := range addrs {
		ipnet, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		addr, ok := netip.AddrFromSlice(ipnet.IP)
		if !ok || !addr.Unmap().Is4() {
			continue
		}
		ones, _ := ipnet.Mask.Size()
		prefixes = append(prefixes, netip.PrefixFrom(addr.Unmap(), ones).Masked())
	}
	return prefixes, nil
}

// Add starts one host per Options, all at once, and returns them in the
// same order once each is ready: systemd booted, sshd and the engine
// active, port 22 reachable from the test process. They are removed when
// the test ends.
func (n *Network) Add(t testing.TB, opts ...Options) []*Host {
	t.Helper()
	hosts := make([]*Host, len(opts))
	errs := make([]error, len(opts))
	var wg sync.WaitGroup
	for i, o := range opts {
		// Addresses are given in order, so hosts[i] gets the i-th.
		ip := o.IP
		if !ip.IsValid() {
			var err error
			if ip, err = n.nextIP(); err != nil {
				t.Fatalf("sehost: %v", err)
			}
		} else if !n.Subnet.Contains(ip) {
			t.Fatalf("sehost: address %s is not on network %s (%s)", ip, n.Name, n.Subnet)
		}
		wg.Go(func() { hosts[i], errs[i] = n.start(context.Background(), ip, o) })
	}
	wg.Wait()
	for _, h := range hosts {
		if h != nil {
			t.Cleanup(func() {
				if err := h.Close(); err != nil {
					t.Errorf("sehost: %v", err)
				}
			})
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("sehost: %v", err)
	}
	return hosts
}

// nextIP hands out the network's next free address.
func (n *Network) nextIP() (netip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ip := n.next
	if !n.Subnet.Contains(ip) || ip.As4()[3] == 255 {
		return netip.Addr{}, fmt.Errorf("network %s: no address left for another host", n.Name)
	}
	n.next = ip.Next()
	return ip, nil
}

func (n *Network) start(ctx context.Context, ip netip.Addr, o Options) (*Host, error) {
	if o.AuthorizedKey == nil {
		return nil, errors.New("no AuthorizedKey given")
	}
	files := []systemdhost.File{{
		Path: "/home/" + User + "/.ssh/authorized_keys", Mode: 0o600, UID: userID, GID: userID,
		Data: ssh.MarshalAuthorizedKey(o.AuthorizedKey),
	}, {
		Path: networkEnvPath, Mode: 0o644, Data: []byte("GATEWAY=" + n.Gateway.String() + "\n"),
	}}
	if o.Sudo {
		files = append(files, systemdhost.File{Path: "/etc/sudoers.d/" + User, Mode: 0o440,
			Data: []byte(User + " ALL=(ALL:ALL) NOPASSWD: ALL\n")})
	}
	if o.Bridge {
		// A per-host file, not a second image: files written before boot
		// replace the image's, and the image (and its build) stays shared.
		files = append(files, systemdhost.File{Path: "/etc/docker/daemon.json", Mode: 0o644, Data: []byte(bridgeDaemonJSON)})
	}
	if o.HostKey != nil {
		keyFiles, err := hostKeyFiles(o.HostKey)
		if err != nil {
			return nil, err
		}
		files = append(files, keyFiles...)
	}
	sh, err := systemdhost.Start(ctx, n.image, systemdhost.Options{
		Network: n.Name, IP: ip.String(), Kind: Kind,
		Volumes: []string{"/var/lib/docker"},
		Files:   files,
		Units:   []string{"ssh.service", "docker.service", "default-route.service"},
		Log:     n.log,
	})
	if err != nil {
		return nil, err
	}
	h := &Host{Host: sh, IP: ip, network: n.Name}
	if err := h.waitSSH(ctx); err != nil {
		_ = h.Close()
		return nil, err
	}
	return h, nil
}

// hostKeyFiles returns key as sshd's host key files.
func hostKeyFiles(key ed25519.PrivateKey) ([]systemdhost.File, error) {
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	pub, err := ssh.NewPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	return []systemdhost.File{
		{Path: hostKeyPath, Mode: 0o600, Data: pem.EncodeToMemory(block)},
		{Path: hostKeyPath + ".pub", Mode: 0o644, Data: ssh.MarshalAuthorizedKey(pub)},
	}, nil
}

// SSHAddr is the host's sshd address, host:port.
func (h *Host) SSHAddr() string { return netip.AddrPortFrom(h.IP, 22).String() }

// Start boots the stopped host and waits until it is ready again.
func (h *Host) Start(ctx context.Context) error {
	if err := h.Host.Start(ctx); err != nil {
		return err
	}
	return h.waitSSH(ctx)
}

// PowerOff takes the host down as a power cut does: the cable first, so that nothing on it says
// goodbye (not even its kernel closing connections), then every process killed at once.
func (h *Host) PowerOff(ctx context.Context) error {
	if out, err := exec.CommandContext(ctx, "docker", "network", "disconnect", "--force", h.network, h.ID).CombinedOutput(); err != nil {
		return fmt.Errorf("docker network disconnect %s: %w: %s", h.Name, err, strings.TrimSpace(string(out)))
	}
	if out, err := exec.CommandContext(ctx, "docker", "kill", h.ID).CombinedOutput(); err != nil {
		return fmt.Errorf("docker kill %s: %w: %s", h.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// PowerOn plugs a host that PowerOff took down back in at its address and boots it.
func (h *Host) PowerOn(ctx context.Context) error {
	if out, err := exec.CommandContext(ctx, "docker", "network", "connect", "--ip", h.IP.String(), h.network, h.ID).CombinedOutput(); err != nil {
		return fmt.Errorf("docker network connect %s: %w: %s", h.Name, err, strings.TrimSpace(string(out)))
	}
	return h.Start(ctx)
}

// Unplug pulls the host's cable and leaves it running: the bridge's end of its link goes down,
// so the host keeps its interface and addresses (a VIP its SE holds stays on it) but reaches no
// one and no one reaches it. Plug puts it back.
func (h *Host) Unplug(ctx context.Context) error { return h.cable(ctx, "down") }

// Plug puts back the cable Unplug pulled.
func (h *Host) Plug(ctx context.Context) error { return h.cable(ctx, "up") }

func (h *Host) cable(ctx context.Context, state string) error {
	// The host's eth0 is one end of a veth pair; iflink is the index of the other end, on the
	// machine, plugged into the network's bridge.
	out, code, err := h.Exec(ctx, "cat", "/sys/class/net/eth0/iflink")
	if err != nil || code != 0 {
		return fmt.Errorf("the link of %s: exit %d, %v: %s", h.Name, code, err, out)
	}
	index, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return fmt.Errorf("the link of %s: %q: %w", h.Name, out, err)
	}
	peer, err := net.InterfaceByIndex(index)
	if err != nil {
		return fmt.Errorf("the bridge end of %s's link (index %d): %w", h.Name, index, err)
	}
	if out, err := exec.CommandContext(ctx, "ip", "link", "set", "dev", peer.Name, state).CombinedOutput(); err != nil {
		return fmt.Errorf("ip link set %s %s (%s's cable): %w: %s", peer.Name, state, h.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Bridge is the name of the network's bridge interface on the machine, which a test plugs
// clients of its own into.
func (n *Network) Bridge(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "docker", "network", "inspect", "--format", "{{.Id}}", n.Name).Output()
	id := strings.TrimSpace(string(out))
	if err != nil || len(id) < 12 {
		return "", fmt.Errorf("docker network inspect %s: %q: %w", n.Name, id, err)
	}
	// Docker names a user-defined bridge br-<the network id's first 12 characters>.
	return "br-" + id[:12], nil
}

// HostKey returns the public key sshd presents.
func (h *Host) HostKey(ctx context.Context) (ssh.PublicKey, error) {
	out, code, err := h.Exec(ctx, "cat", hostKeyPath+".pub")
	if err != nil || code != 0 {
		return nil, fmt.Errorf("read host key of %s: exit %d, %v: %s", h.Name, code, err, out)
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(out))
	if err != nil {
		return nil, fmt.Errorf("host key of %s: %w", h.Name, err)
	}
	return key, nil
}

// LoadImages copies images from the machine's engine into the host's:
// `docker save` streamed into `docker load` inside, so that the host, which
// reaches no registry, runs what the test built.
func (h *Host) LoadImages(ctx context.Context, refs ...string) error {
	if len(refs) == 0 {
		return nil
	}
	what := fmt.Sprintf("load %s into %s", strings.Join(refs, " "), h.Name)
	// An OS pipe between the two commands: if either dies, the other gets
	// EOF or EPIPE instead of waiting forever.
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	save := exec.CommandContext(ctx, "docker", append([]string{"save"}, refs...)...)
	load := exec.CommandContext(ctx, "docker", "exec", "-i", h.ID, "docker", "load")
	var saveErr, loadOut bytes.Buffer
	save.Stdout, save.Stderr = w, &saveErr
	load.Stdin, load.Stdout, load.Stderr = r, &loadOut, &loadOut
	if err := load.Start(); err != nil {
		r.Close()
		w.Close()
		return fmt.Errorf("%s: docker exec: %w", what, err)
	}
	err = save.Start()
	r.Close()
	w.Close()
	if err != nil {
		_ = load.Wait()
		return fmt.Errorf("%s: docker save: %w", what, err)
	}
	// Both errors, when both fail: which failed first shows in the output.
	var errs []error
	if err := save.Wait(); err != nil {
		errs = append(errs, fmt.Errorf("%s: docker save: %w: %s", what, err, strings.TrimSpace(saveErr.String())))
	}
	if err := load.Wait(); err != nil {
		errs = append(errs, fmt.Errorf("%s: docker load: %w: %s", what, err, strings.TrimSpace(loadOut.String())))
	}
	return errors.Join(errs...)
}

// waitSSH waits until port 22 accepts connections from the test process:
// sshd is up once its unit is, but the bridge may take a moment to forward.
func (h *Host) waitSSH(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", h.SSHAddr())
		if err == nil {
			return c.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s booted, but %s does not answer: %w", h.Name, h.SSHAddr(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
