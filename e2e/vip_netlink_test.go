package e2e

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/avi-init/avi-init/e2e/systemdhost"
	"github.com/avi-init/avi-init/runtime/se/vip"
)

// TestVIPNetlinkInANetworkNamespace adds and removes a VIP for real through the SE's netlink
// host (the unit tests of package vip use a fake), in a network namespace of its own with a veth
// pair, and listens on it in between.
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
	subnet, _ := netlink.ParseAddr("10.213.7.1/24")
	if err := netlink.AddrAdd(veth, subnet); err != nil {
		t.Fatal(err)
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

	m := vip.New(h, nil)
	var ln net.Listener
	err = m.Apply([]netip.Addr{addr}, func() error {
		var err error
		ln, err = net.Listen("tcp", "10.213.7.50:0")
		return err
	})
	if err != nil {
		t.Fatalf("apply with a VIP: %v", err)
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

	m.Close()
	if local, _ := h.IsLocal(addr); local {
		t.Error("VIP still on the interface after Close")
	}
	if local, _ := h.IsLocal(netip.MustParseAddr("10.213.7.1")); !local {
		t.Error("Close removed the interface's own address")
	}
}
