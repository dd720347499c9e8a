package lb

import (
	"fmt"
	"net"
	"testing"

	"github.com/avi-init/avi-init/model/avi"
)

func members(n int) []*Upstream {
	var ups []*Upstream
	for i := range n {
		ups = append(ups, NewUpstream(fmt.Sprintf("192.0.2.%d:80", i+1), 1, true, NewHealth(2, 3)))
	}
	return ups
}

// down fails a member's checks until it is down.
func down(u *Upstream) {
	for u.Health().Up() {
		u.Health().Failure("test")
	}
}

func TestLeastConnections(t *testing.T) {
	ups := members(3)
	var releases []func()
	for i, n := range []int{3, 1, 2} {
		for range n {
			releases = append(releases, ups[i].Acquire())
		}
	}
	p := NewPolicy(avi.LBLeastConnections)
	if got := p.Select(ups, nil); got != ups[1] {
		t.Fatalf("picked %s with %d conns, want the member with 1", got.Addr, got.Conns())
	}
	// A member of ratio 2 with 2 connections is as loaded as one of ratio 1 with 1.
	ups[0].Set(2, true)
	releases[0]()
	if got := p.Select(ups, nil); got != ups[0] && got != ups[1] {
		t.Errorf("ratio not weighed: picked %s", got.Addr)
	}
	down(ups[1])
	ups[0].Set(2, false)
	if got := p.Select(ups, nil); got != ups[2] {
		t.Errorf("picked %s; the only available member is %s", got.Addr, ups[2].Addr)
	}
	down(ups[2])
	if got := p.Select(ups, nil); got != nil {
		t.Errorf("picked %s with no member available", got.Addr)
	}
	for _, r := range releases {
		r()
		r() // a second release must not count twice
	}
	if ups[0].Conns() != 0 || ups[1].Conns() != 0 || ups[2].Conns() != 0 {
		t.Errorf("connections after release: %d %d %d", ups[0].Conns(), ups[1].Conns(), ups[2].Conns())
	}

	// Idle members share new work evenly.
	idle := members(3)
	counts := map[*Upstream]int{}
	for range 300 {
		counts[p.Select(idle, nil)]++
	}
	for _, u := range idle {
		if counts[u] != 100 {
			t.Errorf("idle member %s got %d of 300 picks, want 100", u.Addr, counts[u])
		}
	}
}

// TestFallbackTriesTheLeastBusyEnabledMemberWhateverItsHealth: with every member down, Fallback
// still picks one (panic mode), the enabled one with the fewest connections; a disabled member
// is never picked, and with none enabled there is nothing to try.
func TestFallbackTriesTheLeastBusyEnabledMemberWhateverItsHealth(t *testing.T) {
	ups := members(3)
	for _, u := range ups {
		down(u)
	}
	for i, n := range []int{2, 1, 0} {
		for range n {
			ups[i].Acquire()
		}
	}
	if got := Fallback(ups); got != ups[2] {
		t.Errorf("Fallback picked %v, want the idle member %s", got, ups[2].Addr)
	}
	ups[2].Set(1, false)
	if got := Fallback(ups); got != ups[1] {
		t.Errorf("Fallback picked %v, want %s (the idle one is disabled)", got, ups[1].Addr)
	}
	for _, u := range ups {
		u.Set(1, false)
	}
	if got := Fallback(ups); got != nil {
		t.Errorf("Fallback picked %s with no member enabled", got.Addr)
	}
}

func TestRoundRobinHonoursRatios(t *testing.T) {
	ups := members(3)
	ups[1].Set(2, true)
	p := NewPolicy(avi.LBRoundRobin)
	counts := map[*Upstream]int{}
	for range 400 {
		counts[p.Select(ups, nil)]++
	}
	if counts[ups[0]] != 100 || counts[ups[1]] != 200 || counts[ups[2]] != 100 {
		t.Errorf("picks %d/%d/%d of 400, want 100/200/100", counts[ups[0]], counts[ups[1]], counts[ups[2]])
	}
	down(ups[1])
	clear(counts)
	for range 100 {
		counts[p.Select(ups, nil)]++
	}
	if counts[ups[1]] != 0 || counts[ups[0]] != 50 || counts[ups[2]] != 50 {
		t.Errorf("with one member down: %v", counts)
	}
}

func TestConsistentHashStickyAndMinimalMoves(t *testing.T) {
	ups := members(4)
	p := NewPolicy(avi.LBConsistentHash)
	before := map[string]*Upstream{}
	counts := map[*Upstream]int{}
	for i := range 2000 {
		ip := net.IPv4(198, 51, byte(i/250), byte(i%250))
		u := p.Select(ups, ip)
		if again := p.Select(ups, ip); again != u {
			t.Fatalf("client %s moved between two picks", ip)
		}
		before[ip.String()] = u
		counts[u]++
	}
	for _, u := range ups {
		if counts[u] < 300 || counts[u] > 700 {
			t.Errorf("member %s holds %d of 2000 clients: the spread is uneven", u.Addr, counts[u])
		}
	}
	down(ups[2])
	for ipStr, was := range before {
		now := p.Select(ups, net.ParseIP(ipStr))
		if was != ups[2] && now != was {
			t.Fatalf("client %s moved from %s to %s though its member stayed up", ipStr, was.Addr, now.Addr)
		}
		if now == ups[2] {
			t.Fatalf("client %s sent to a member that is down", ipStr)
		}
	}
	// A member of ratio 3 draws about three times the clients.
	w := members(2)
	w[0].Set(3, true)
	wc := map[*Upstream]int{}
	for i := range 4000 {
		wc[p.Select(w, net.IPv4(203, 0, byte(i/250), byte(i%250)))]++
	}
	if r := float64(wc[w[0]]) / float64(wc[w[1]]); r < 2 || r > 4.5 {
		t.Errorf("ratio 3 vs 1 drew %d vs %d clients (%.1fx)", wc[w[0]], wc[w[1]], r)
	}
}

func TestHealthStateMachine(t *testing.T) {
	h := NewHealth(2, 3) // successful_checks 2, failed_checks 3
	steps := []struct {
		ok      bool
		changed bool
		up      bool
	}{
		{false, false, true}, {false, false, true}, // two failures: still up
		{true, false, true},                                              // a success resets the count
		{false, false, true}, {false, false, true}, {false, true, false}, // three in a row: down
		{false, false, false},                    // down stays down
		{true, false, false},                     // one success is not enough
		{false, false, false},                    // a failure resets the successes
		{true, false, false}, {true, true, true}, // two in a row: up
	}
	for i, s := range steps {
		var changed bool
		if s.ok {
			changed = h.Success()
		} else {
			changed = h.Failure(fmt.Sprintf("check %d failed", i))
		}
		if changed != s.changed || h.Up() != s.up {
			t.Fatalf("step %d (ok=%v): changed %v up %v, want changed %v up %v", i, s.ok, changed, h.Up(), s.changed, s.up)
		}
	}
	if h.Reason() != "" {
		t.Errorf("reason %q while up", h.Reason())
	}
	h2 := NewHealth(1, 1)
	h2.Failure("connection refused")
	if h2.Up() || h2.Reason() != "connection refused" {
		t.Errorf("after one failure with failed_checks 1: up %v reason %q", h2.Up(), h2.Reason())
	}
}
