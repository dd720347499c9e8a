package controller

import (
	"context"
	"net/netip"
	"sync"

	"github.com/avi-init/avi-init/runtime/se/vip"
)

// newVIPHost is the host the cluster's virtual IP is added to: this one's interfaces (tests
// put a recorder in).
var newVIPHost = func() vip.Host { return vip.Netlink{} }

// lead runs what only the cluster's leader runs while this node leads, until ctx ends: the
// clouds' integrations (Linux server, Marathon, Docker) with SE deployment, and the placement
// of services on SEs. Each time this node becomes the leader it starts them afresh from the
// store and the SEs' reports, trusting nothing it held before.
func (s *Server) lead(ctx context.Context) {
	var (
		stop context.CancelFunc
		runs sync.WaitGroup
	)
	end := func() {
		if stop != nil {
			stop()
			runs.Wait()
			stop = nil
		}
	}
	defer end()
	leading := s.node.IsLeader()
	for {
		end()
		if leading {
			lctx, cancel := context.WithCancel(ctx)
			stop = cancel
			runs.Go(func() {
				if err := s.becomeLeader(lctx); err != nil {
					s.log.Error("leading the cluster", "err", err)
					return
				}
				var leader sync.WaitGroup
				leader.Go(func() { s.runClouds(lctx) })
				leader.Go(func() { s.runPlacement(lctx) })
				leader.Go(func() { s.holdVirtualIP(lctx) })
				leader.Wait()
			})
		}
		select {
		case <-ctx.Done():
			return
		case leading = <-s.node.LeaderCh():
		}
	}
}

// becomeLeader readies a new leader: every write of earlier leaders applied, what every
// controller has seeded, and the placement settling again from what the SEs report to it.
func (s *Server) becomeLeader(ctx context.Context) error {
	if err := s.node.WaitLeader(ctx); err != nil {
		return err
	}
	s.log.Info("this controller leads the cluster", "config_version", s.store.Version())
	s.placer.resettle(s.now())
	return s.seed()
}

// holdVirtualIP holds the cluster's virtual IP, when it has one, while this node leads (until
// ctx ends), following changes to it: added to the interface its route leaves by and announced
// with gratuitous ARP, as an SE's VIPs, so that operators and SEs reach the leader at one
// address. It is let go as leadership ends.
func (s *Server) holdVirtualIP(ctx context.Context) {
	defer s.vips.Hold(nil)
	for {
		changed := s.store.Changed()
		var want []netip.Addr
		if c, err := theCluster(s.store); err == nil && c.VirtualIP != nil {
			if ip, err := netip.ParseAddr(c.VirtualIP.Addr); err == nil {
				want = append(want, ip.Unmap())
			}
		}
		for ip, err := range s.vips.Hold(want) {
			s.log.Error("the cluster's virtual IP is not held", "vip", ip, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}
