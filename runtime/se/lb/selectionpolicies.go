package lb

import (
	"hash/fnv"
	"net"
	"sync/atomic"

	"github.com/avi-init/avi-init/model/avi"
)

// Policy picks the member for a new connection or request among a pool's members. It returns
// nil when no member is available.
type Policy interface {
	Select(ups []*Upstream, client net.IP) *Upstream
}

// NewPolicy returns the policy for an Avi lb_algorithm; least connections is the default, as in
// Avi.
func NewPolicy(algorithm string) Policy {
	switch algorithm {
	case avi.LBRoundRobin:
		return &RoundRobin{}
	case avi.LBConsistentHash:
		return ConsistentHash{}
	}
	return &LeastConnections{}
}

// LeastConnections picks the available member with the fewest connections in flight relative
// to its ratio; ties go round robin, so that idle members share new work evenly.
type LeastConnections struct {
	next atomic.Uint64
}

// Select implements Policy.
func (p *LeastConnections) Select(ups []*Upstream, _ net.IP) *Upstream {
	n := len(ups)
	if n == 0 {
		return nil
	}
	start := int(p.next.Add(1) % uint64(n))
	var best *Upstream
	var bestLoad float64
	for i := range n {
		u := ups[(start+i)%n]
		if !u.Available() {
			continue
		}
		load := float64(u.Conns()) / float64(u.Ratio())
		if best == nil || load < bestLoad {
			best, bestLoad = u, load
		}
	}
	return best
}

// RoundRobin takes the available members in turn, each as many times in a row of turns as its
// ratio (smooth weighted round robin would interleave them; Avi's ratio is a share, which this
// gives).
type RoundRobin struct {
	next atomic.Uint64
}

// Select implements Policy.
func (p *RoundRobin) Select(ups []*Upstream, _ net.IP) *Upstream {
	total := 0
	for _, u := range ups {
		if u.Available() {
			total += u.Ratio()
		}
	}
	if total == 0 {
		return nil
	}
	k := int(p.next.Add(1) % uint64(total))
	for _, u := range ups {
		if !u.Available() {
			continue
		}
		if k < u.Ratio() {
			return u
		}
		k -= u.Ratio()
	}
	return nil
}

// ConsistentHash sends a client address to the same member while that member is available, and
// moves only that member's clients when it is not: rendezvous (highest random weight) hashing,
// weighted by ratio.
type ConsistentHash struct{}

// Select implements Policy.
func (ConsistentHash) Select(ups []*Upstream, client net.IP) *Upstream {
	var best *Upstream
	var bestScore uint64
	for _, u := range ups {
		if !u.Available() {
			continue
		}
		h := fnv.New64a()
		h.Write(client)
		h.Write([]byte(u.Addr))
		// Weight by taking the best of ratio draws.
		sum := h.Sum64()
		score := sum
		for i := 1; i < u.Ratio(); i++ {
			sum = sum*6364136223846793005 + 1442695040888963407
			score = max(score, sum)
		}
		if best == nil || score > bestScore {
			best, bestScore = u, score
		}
	}
	return best
}

// Fallback picks a member when a policy found none available: the enabled member with the
// fewest connections in flight, whatever its health says. A pool whose members are all marked
// down (most often by passive failures during a restart, before a re-check brings them back)
// still tries them, as Envoy's panic mode does: a try that fails costs the client no more than
// the reset it would get, and one that succeeds serves it. It returns nil when no member is
// enabled.
func Fallback(ups []*Upstream) *Upstream {
	var best *Upstream
	for _, u := range ups {
		if u.enabled.Load() && (best == nil || u.Conns() < best.Conns()) {
			best = u
		}
	}
	return best
}
