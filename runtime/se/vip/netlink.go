package vip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Netlink is the host's addresses through the kernel's netlink interface (needs NET_ADMIN to
// add and remove).
type Netlink struct{}

func (Netlink) IsLocal(ip netip.Addr) (bool, error) {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return false, fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		if have, ok := netip.AddrFromSlice(a.IP); ok && have.Unmap() == ip {
			return true, nil
		}
	}
	return false, nil
}

func (Netlink) LinkFor(ip netip.Addr) (string, error) {
	routes, err := netlink.RouteGet(net.IP(ip.AsSlice()))
	if err != nil {
		return "", fmt.Errorf("route to %s: %w", ip, err)
	}
	if len(routes) == 0 {
		return "", errors.New("no route")
	}
	link, err := netlink.LinkByIndex(routes[0].LinkIndex)
	if err != nil {
		return "", fmt.Errorf("interface %d: %w", routes[0].LinkIndex, err)
	}
	return link.Attrs().Name, nil
}

func (Netlink) Add(link string, ip netip.Addr) error {
	l, a, err := linkAddr(link, ip)
	if err != nil {
		return err
	}
	return netlink.AddrAdd(l, a)
}

func (Netlink) Remove(link string, ip netip.Addr) error {
	l, a, err := linkAddr(link, ip)
	if err != nil {
		return err
	}
	return netlink.AddrDel(l, a)
}

// linkAddr is ip as a host address (/32 or /128) on the named interface. IPv6 VIPs skip
// duplicate address detection: a tentative address cannot be listened on, and the VIP is the
// SE's to own.
func linkAddr(link string, ip netip.Addr) (netlink.Link, *netlink.Addr, error) {
	l, err := netlink.LinkByName(link)
	if err != nil {
		return nil, nil, fmt.Errorf("interface %s: %w", link, err)
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(ip.AsSlice()), Mask: net.CIDRMask(ip.BitLen(), ip.BitLen())}}
	if ip.Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return l, a, nil
}
