package e2e

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/avi-init/avi-init/e2e/systemdhost"
	"github.com/avi-init/avi-init/model/sechannel"
	"github.com/avi-init/avi-init/runtime/se/vip"
)

// TestVIPNetlinkInANetworkNamespace adds and removes VIPs for real through the SE's netlink
// host (the unit tests of package vip use a fake), in a network namespace of its own with a veth
// pair: it listens on one, sees the gratuitous ARP and the unsolicited neighbour advertisement
// arrive at the other end of the veth from the right MAC, and has a manager restarted after a
// crash remove the VIP it recorded and no longer serves.
func TestVIPNetlinkInANetworkNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		systemdhost.Missing(t, errors.New("not root: network namespaces and NET_ADMIN need it"))
	}
	// Namespaces belong to threads: everything below runs on this one, switched back to the
	// original namespace at the end (and left locked, so thrown away, if that fails).
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.New()
	if err != nil {
		t.Fatalf("new network namespace: %v", err)
	}
	defer ns.Close()
	defer func() {
		if err := netns.Set(orig); err != nil {
			t.Errorf("back to the original namespace: %v (thread left locked)", err)
			return
		}
		runtime.UnlockOSThread()
	}()

	// Link-local addresses usable at once: neighbour discovery sends from one.
	for _, k := range []string{"default", "all"} {
		if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+k+"/accept_dad", []byte("0"), 0o644); err != nil {
			t.Fatalf("accept_dad: %v", err)
		}
	}
	// A veth pair (both ends here): dummy interfaces need a module this kernel may lack.
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "avitest0"}, PeerName: "avitest1"}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("add veth: %v", err)
	}
	for _, name := range []string{"avitest0", "avitest1"} {
		l, err := netlink.LinkByName(name)
		if err == nil {
			err = netlink.LinkSetUp(l)
		}
		if err != nil {
			t.Fatalf("%s up: %v", name, err)
		}
	}
	lo, _ := netlink.LinkByName("lo")
	netlink.LinkSetUp(lo)
	for _, a := range []string{"10.213.7.1/24", "fd00:213:7::1/64"} {
		subnet, _ := netlink.ParseAddr(a)
		subnet.Flags = unix.IFA_F_NODAD
		if err := netlink.AddrAdd(veth, subnet); err != nil {
			t.Fatal(err)
		}
	}

	var h vip.Netlink
	addr := netip.MustParseAddr("10.213.7.50")
	if local, err := h.IsLocal(addr); err != nil || local {
		t.Fatalf("IsLocal before adding = %v, %v", local, err)
	}
	if local, _ := h.IsLocal(netip.MustParseAddr("10.213.7.1")); !local {
		t.Error("IsLocal misses the interface's own address")
	}
	link, err := h.LinkFor(addr)
	if err != nil || link != "avitest0" {
		t.Fatalf("LinkFor = %q, %v; want avitest0", link, err)
	}

	// The other end of the veth sees what the SE announces.
	peer, err := net.InterfaceByName("avitest1")
	if err != nil {
		t.Fatal(err)
	}
	sender, err := net.InterfaceByName("avitest0")
	if err != nil {
		t.Fatal(err)
	}
	capture, err := packet.Listen(peer, packet.Raw, unix.ETH_P_ALL, nil)
	if err != nil {
		t.Fatalf("capture on avitest1: %v", err)
	}
	defer capture.Close()

	state := filepath.Join(t.TempDir(), vip.StateFile)
	m := vip.New(h, nsAnnouncer{ns: ns, g: vip.DefaultGratuitous}, state, nil)
	var ln net.Listener
	addr6 := netip.MustParseAddr("fd00:213:7::50")
	errs := m.Wrap(func(sechannel.Snapshot) []sechannel.ServiceError {
		var err error
		ln, err = net.Listen("tcp", "10.213.7.50:0")
		if err != nil {
			t.Errorf("listen on the VIP: %v", err)
		}
		return nil
	})(sechannel.Snapshot{Version: 1, VirtualServices: []sechannel.VirtualService{
		{UUID: "vs-1", Name: "v4", Enabled: true, VIP: addr.String()},
		{UUID: "vs-2", Name: "v6", Enabled: true, VIP: addr6.String()}}})
	if errs != nil || ln == nil {
		t.Fatalf("apply with VIPs: %+v", errs)
	}
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("vip"))
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("connect to the VIP: %v", err)
	}
	got, _ := io.ReadAll(c)
	c.Close()
	ln.Close()
	if string(got) != "vip" {
		t.Errorf("read %q through the VIP", got)
	}

	garp := checkAnnouncements(t, capture, sender.HardwareAddr, addr, addr6)
	t.Logf("announcements seen on the peer: %v", garp)

	// A crash (no Close): a new manager on the same record removes the VIP the configuration
	// it serves no longer names, keeps the other, and never the interface's own address.
	after := vip.New(h, nil, state, nil)
	after.Wrap(func(sechannel.Snapshot) []sechannel.ServiceError { return nil })(sechannel.Snapshot{Version: 2, VirtualServices: []sechannel.VirtualService{
		{UUID: "vs-2", Name: "v6", Enabled: true, VIP: addr6.String()}}})
	if local, _ := h.IsLocal(addr); local {
		t.Error("a VIP recorded before the crash and no longer served stayed")
	}
	if local, _ := h.IsLocal(addr6); !local {
		t.Error("the VIP still served went")
	}
	after.Close()
	if local, _ := h.IsLocal(addr6); local {
		t.Error("VIP still on the interface after Close")
	}
	if local, _ := h.IsLocal(netip.MustParseAddr("10.213.7.1")); !local {
		t.Error("Close removed the interface's own address")
	}
}

// nsAnnouncer announces from the test's network namespace: announcements run on goroutines of
// their own, whose threads are in the original namespace.
type nsAnnouncer struct {
	ns netns.NsHandle
	g  vip.Gratuitous
}

func (a nsAnnouncer) Announce(link string, ip netip.Addr) error {
	return inNamespace(a.ns, func() error { return a.g.Announce(link, ip) })
}

// checkAnnouncements reads the frames the peer receives until it has seen each announcement of
// the VIPs from mac, or for 10 s (the announcements run on goroutines of their own, which a busy
// machine may start late): for addr a gratuitous ARP request and reply (sender and target the
// VIP), for addr6 an unsolicited neighbour advertisement with the override flag to all nodes.
// It returns a count of each kind seen by then.
func checkAnnouncements(t *testing.T, c *packet.Conn, mac net.HardwareAddr, addr, addr6 netip.Addr) map[string]int {
	t.Helper()
	kinds := []string{"arp-request", "arp-reply", "neighbour-advertisement"}
	seen := map[string]int{}
	all := func() bool {
		for _, kind := range kinds {
			if seen[kind] < 1 {
				return false
			}
		}
		return true
	}
	buf := make([]byte, 2048)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !all() {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			break
		}
		f := buf[:n]
		if len(f) < 14 || !bytes.Equal(f[6:12], mac) {
			continue
		}
		switch binary.BigEndian.Uint16(f[12:14]) {
		case unix.ETH_P_ARP:
			a := f[14:]
			if len(a) < 28 || !bytes.Equal(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) {
				continue
			}
			sha, spa, tpa := a[8:14], a[14:18], a[24:28]
			if bytes.Equal(sha, mac) && bytes.Equal(spa, addr.AsSlice()) && bytes.Equal(tpa, addr.AsSlice()) {
				seen[map[uint16]string{1: "arp-request", 2: "arp-reply"}[binary.BigEndian.Uint16(a[6:8])]]++
			}
		case unix.ETH_P_IPV6:
			ip := f[14:]
			if len(ip) < 40+24 || ip[6] != unix.IPPROTO_ICMPV6 || ip[7] != 255 {
				continue
			}
			dst, icmp := ip[24:40], ip[40:]
			if icmp[0] != 136 || !bytes.Equal(dst, net.IPv6linklocalallnodes) {
				continue
			}
			override := icmp[4]&0x20 != 0
			solicited := icmp[4]&0x40 != 0
			if bytes.Equal(icmp[8:24], addr6.AsSlice()) && override && !solicited {
				seen["neighbour-advertisement"]++
			}
		}
	}
	for _, kind := range kinds {
		if seen[kind] < 1 {
			t.Errorf("no %s for the VIP from %s seen on the peer (saw %v)", kind, mac, seen)
		}
	}
	return seen
}
