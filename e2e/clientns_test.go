package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/avi-init/avi-init/e2e/sehost"
	"github.com/avi-init/avi-init/e2e/systemdhost"
)

// clientNS is a client on an SE host network: a network namespace of its own whose veth is a
// port of the network's bridge, as a laptop on the hosts' LAN. What it sends goes over the
// bridge and what it resolves it resolves with ARP, as a client's kernel does, so VIP moves are
// seen as clients see them.
type clientNS struct {
	ns      netns.NsHandle
	link    string // the interface inside the namespace
	hostEnd string // its peer, the bridge's port
	ip      netip.Addr
	mac     net.HardwareAddr
}

// newClientNS plugs a client namespace with address ip into the network's bridge. It is removed
// when the test ends.
func newClientNS(t testing.TB, n *sehost.Network, ip netip.Addr) *clientNS {
	t.Helper()
	if os.Geteuid() != 0 {
		systemdhost.Missing(t, errors.New("not root: network namespaces and veth pairs need it"))
	}
	name, err := n.Bridge(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	br, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatalf("the bridge of network %s: %v", n.Name, err)
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	hostEnd, inside := "avh"+hex.EncodeToString(suffix), "avc"+hex.EncodeToString(suffix)

	c := &clientNS{link: inside, hostEnd: hostEnd, ip: ip}
	// netns.New switches the thread it runs on: a thread of its own, thrown away after.
	if err := onThread(func() error { c.ns, err = netns.New(); return err }); err != nil {
		t.Fatalf("new network namespace: %v", err)
	}
	t.Cleanup(func() { c.ns.Close() })
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostEnd, MasterIndex: br.Attrs().Index}, PeerName: inside,
		PeerNamespace: netlink.NsFd(c.ns)}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("add veth %s to %s: %v", hostEnd, br.Attrs().Name, err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(hostEnd); err == nil {
			netlink.LinkDel(l) // takes its peer in the namespace with it
		}
	})
	if err := netlink.LinkSetUp(veth); err != nil {
		t.Fatalf("%s up: %v", hostEnd, err)
	}
	h, err := netlink.NewHandleAt(c.ns)
	if err != nil {
		t.Fatalf("netlink in the client namespace: %v", err)
	}
	defer h.Close()
	l, err := h.LinkByName(inside)
	if err != nil {
		t.Fatalf("%s in the client namespace: %v", inside, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(n.Subnet.Bits(), 32)}}
	if err := h.AddrAdd(l, addr); err != nil {
		t.Fatalf("address %s on %s: %v", ip, inside, err)
	}
	for _, name := range []string{inside, "lo"} {
		if l, err := h.LinkByName(name); err != nil || h.LinkSetUp(l) != nil {
			t.Fatalf("%s up in the client namespace: %v", name, err)
		}
	}
	c.mac = l.Attrs().HardwareAddr
	return c
}

// onThread runs f on a goroutine locked to a thread of its own that is never unlocked, so that
// the thread, with whatever namespace f switched it to, ends with the goroutine.
func onThread(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- f()
	}()
	return <-errc
}

// inNamespace runs f in the network namespace ns: sockets f opens belong to it.
func inNamespace(ns netns.NsHandle, f func() error) error {
	return onThread(func() error {
		if err := netns.Set(ns); err != nil {
			return fmt.Errorf("enter network namespace: %w", err)
		}
		return f()
	})
}

// unplug takes the namespace off the network, as a pulled cable: the bridge's end of its link
// goes down. What runs inside goes on, reaching only itself.
func (c *clientNS) unplug() error { return c.setLink(false) }

// plug puts the cable back.
func (c *clientNS) plug() error { return c.setLink(true) }

func (c *clientNS) setLink(up bool) error {
	l, err := netlink.LinkByName(c.hostEnd)
	if err != nil {
		return err
	}
	if up {
		return netlink.LinkSetUp(l)
	}
	return netlink.LinkSetDown(l)
}

// start starts cmd inside the namespace: a process forked from a thread in a network
// namespace is in it.
func (c *clientNS) start(cmd *exec.Cmd) error { return c.do(cmd.Start) }

// do runs f in the client namespace.
func (c *clientNS) do(f func() error) error { return inNamespace(c.ns, f) }

// httpClient is an HTTP client in the namespace, a new connection for each request (as many
// clients behind a VIP are) and timeout for each.
func (c *clientNS) httpClient(timeout time.Duration) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := c.do(func() error {
			var err error
			conn, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
}

// arpReplies asks who has ip once, as a client's kernel does, and returns the distinct hardware
// addresses that answered within wait.
func (c *clientNS) arpReplies(ip netip.Addr, wait time.Duration) ([]net.HardwareAddr, error) {
	var macs []net.HardwareAddr
	err := c.do(func() error {
		ifi, err := net.InterfaceByName(c.link)
		if err != nil {
			return err
		}
		cl, err := arp.Dial(ifi)
		if err != nil {
			return fmt.Errorf("ARP on %s: %w", c.link, err)
		}
		defer cl.Close()
		if err := cl.SetReadDeadline(time.Now().Add(wait)); err != nil {
			return err
		}
		if err := cl.Request(ip); err != nil {
			return fmt.Errorf("ARP request for %s: %w", ip, err)
		}
		for {
			p, _, err := cl.Read()
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read ARP: %w", err)
			}
			if p.Operation != arp.OperationReply || p.SenderIP != ip || !bytes.Equal(p.TargetHardwareAddr, c.mac) {
				continue
			}
			seen := false
			for _, m := range macs {
				seen = seen || bytes.Equal(m, p.SenderHardwareAddr)
			}
			if !seen {
				macs = append(macs, p.SenderHardwareAddr)
			}
		}
	})
	return macs, err
}

// neighbour is the hardware address the client's kernel has for ip, and the entry's state.
func (c *clientNS) neighbour(ip netip.Addr) (net.HardwareAddr, string, error) {
	h, err := netlink.NewHandleAt(c.ns)
	if err != nil {
		return nil, "", err
	}
	defer h.Close()
	l, err := h.LinkByName(c.link)
	if err != nil {
		return nil, "", err
	}
	neighs, err := h.NeighList(l.Attrs().Index, netlink.FAMILY_V4)
	if err != nil {
		return nil, "", err
	}
	for _, n := range neighs {
		if a, ok := netip.AddrFromSlice(n.IP); ok && a.Unmap() == ip {
			return n.HardwareAddr, neighState(n.State), nil
		}
	}
	return nil, "none", nil
}

func neighState(s int) string {
	for _, st := range []struct {
		bit  int
		name string
	}{{netlink.NUD_REACHABLE, "REACHABLE"}, {netlink.NUD_STALE, "STALE"}, {netlink.NUD_DELAY, "DELAY"},
		{netlink.NUD_PROBE, "PROBE"}, {netlink.NUD_FAILED, "FAILED"}, {netlink.NUD_INCOMPLETE, "INCOMPLETE"}, {netlink.NUD_PERMANENT, "PERMANENT"}} {
		if s&st.bit != 0 {
			return st.name
		}
	}
	return fmt.Sprintf("0x%x", s)
}
