package vip

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
)

// Gratuitous announces a VIP the way routers and load balancers do when an address moves: for
// IPv4 an ARP request and an ARP reply, both with sender and target the VIP and the sender
// hardware address the interface's; for IPv6 an unsolicited neighbour advertisement for the VIP
// with the override flag, to all nodes. Each is sent Count times, Interval apart, as one frame
// can be lost. Sending needs CAP_NET_RAW.
type Gratuitous struct {
	Count    int
	Interval time.Duration
}

// DefaultGratuitous sends three rounds within a quarter second: neighbours follow a moved VIP
// well within the failover target.
var DefaultGratuitous = Gratuitous{Count: 3, Interval: 100 * time.Millisecond}

// Announce sends the announcements for ip out of link. An interface without a hardware address
// (loopback, a tunnel) has no neighbours to tell.
func (g Gratuitous) Announce(link string, ip netip.Addr) error {
	ifi, err := net.InterfaceByName(link)
	if err != nil {
		return fmt.Errorf("interface %s: %w", link, err)
	}
	if len(ifi.HardwareAddr) == 0 {
		return nil
	}
	send, closeFn, err := g.sender(ifi, ip)
	if err != nil {
		return err
	}
	defer closeFn()
	for i := range max(g.Count, 1) {
		if i > 0 {
			time.Sleep(g.Interval)
		}
		if err := send(); err != nil {
			return err
		}
	}
	return nil
}

// sender opens the socket for ip's family and returns what sends one round.
func (g Gratuitous) sender(ifi *net.Interface, ip netip.Addr) (func() error, func() error, error) {
	if ip.Is4() {
		c, err := arp.Dial(ifi)
		if err != nil {
			return nil, nil, fmt.Errorf("ARP on %s: %w", ifi.Name, err)
		}
		req, err := arp.NewPacket(arp.OperationRequest, ifi.HardwareAddr, ip, ethernet.Broadcast, ip)
		if err != nil {
			c.Close()
			return nil, nil, err
		}
		reply, err := arp.NewPacket(arp.OperationReply, ifi.HardwareAddr, ip, ifi.HardwareAddr, ip)
		if err != nil {
			c.Close()
			return nil, nil, err
		}
		send := func() error {
			if err := c.WriteTo(req, ethernet.Broadcast); err != nil {
				return fmt.Errorf("gratuitous ARP request for %s on %s: %w", ip, ifi.Name, err)
			}
			if err := c.WriteTo(reply, ethernet.Broadcast); err != nil {
				return fmt.Errorf("gratuitous ARP reply for %s on %s: %w", ip, ifi.Name, err)
			}
			return nil
		}
		return send, c.Close, nil
	}
	c, _, err := ndp.Listen(ifi, ndp.LinkLocal)
	if err != nil {
		return nil, nil, fmt.Errorf("neighbour discovery on %s: %w", ifi.Name, err)
	}
	na := &ndp.NeighborAdvertisement{Override: true, TargetAddress: ip, Options: []ndp.Option{
		&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: ifi.HardwareAddr}}}
	send := func() error {
		if err := c.WriteTo(na, nil, netip.IPv6LinkLocalAllNodes()); err != nil {
			return fmt.Errorf("unsolicited neighbour advertisement for %s on %s: %w", ip, ifi.Name, err)
		}
		return nil
	}
	return send, c.Close, nil
}
