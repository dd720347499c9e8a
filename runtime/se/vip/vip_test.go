package vip

import (
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/avi-init/avi-init/model/sechannel"
)

// fakeHost is a host with interfaces eth0 (192.0.2.0/24, holding 192.0.2.10) and eth1 (every
// other address).
type fakeHost struct {
	have    map[netip.Addr]string
	failAdd netip.Addr
	calls   []string
}

func newFakeHost() *fakeHost {
	return &fakeHost{have: map[netip.Addr]string{netip.MustParseAddr("192.0.2.10"): "eth0"}}
}

func (h *fakeHost) IsLocal(ip netip.Addr) (bool, error) { _, ok := h.have[ip]; return ok, nil }

func (h *fakeHost) LinkFor(ip netip.Addr) (string, error) {
	if netip.MustParsePrefix("192.0.2.0/24").Contains(ip) {
		return "eth0", nil
	}
	return "eth1", nil
}

func (h *fakeHost) Add(link string, ip netip.Addr) error {
	if ip == h.failAdd {
		return errors.New("operation not permitted")
	}
	h.have[ip] = link
	h.calls = append(h.calls, "add "+ip.String()+" "+link)
	return nil
}

func (h *fakeHost) Remove(link string, ip netip.Addr) error {
	if h.have[ip] != link {
		return errors.New("no such address")
	}
	delete(h.have, ip)
	h.calls = append(h.calls, "del "+ip.String()+" "+link)
	return nil
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func TestApplyAddsMissingVIPsBeforeListeningAndRemovesThemAfter(t *testing.T) {
	h := newFakeHost()
	m := New(h, nil)
	var during []string
	apply := func() error {
		for ip := range h.have {
			during = append(during, ip.String())
		}
		slices.Sort(during)
		return nil
	}
	if err := m.Apply(addrs("192.0.2.10", "192.0.2.50", "198.51.100.7"), apply); err != nil {
		t.Fatal(err)
	}
	if want := []string{"192.0.2.10", "192.0.2.50", "198.51.100.7"}; !reflect.DeepEqual(during, want) {
		t.Errorf("addresses while listeners open %v, want %v", during, want)
	}
	if want := []string{"add 192.0.2.50 eth0", "add 198.51.100.7 eth1"}; !reflect.DeepEqual(h.calls, want) {
		t.Errorf("calls %v, want %v (the local address untouched)", h.calls, want)
	}

	// The next configuration drops one VIP: it goes only after the listeners moved.
	h.calls, during = nil, nil
	if err := m.Apply(addrs("198.51.100.7"), apply); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(during, "192.0.2.50") {
		t.Errorf("VIP removed before the listeners closed: %v", during)
	}
	if want := []string{"del 192.0.2.50 eth0"}; !reflect.DeepEqual(h.calls, want) {
		t.Errorf("calls %v, want %v", h.calls, want)
	}

	// A configuration without VIPs never removes the operator's own address.
	h.calls = nil
	if err := m.Apply(nil, apply); err != nil {
		t.Fatal(err)
	}
	if want := []string{"del 198.51.100.7 eth1"}; !reflect.DeepEqual(h.calls, want) {
		t.Errorf("calls %v, want %v", h.calls, want)
	}
	if _, ok := h.have[netip.MustParseAddr("192.0.2.10")]; !ok {
		t.Error("the host's own address was removed")
	}
}

func TestApplyFailureKeepsTheLastGoodVIPs(t *testing.T) {
	h := newFakeHost()
	m := New(h, nil)
	if err := m.Apply(addrs("192.0.2.50"), func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	h.calls = nil
	err := m.Apply(addrs("192.0.2.60"), func() error { return errors.New("port in use") })
	if err == nil || err.Error() != "port in use" {
		t.Fatalf("err %v, want the apply error", err)
	}
	if want := []string{"add 192.0.2.60 eth0", "del 192.0.2.60 eth0"}; !reflect.DeepEqual(h.calls, want) {
		t.Errorf("calls %v, want %v", h.calls, want)
	}
	if _, ok := h.have[netip.MustParseAddr("192.0.2.50")]; !ok {
		t.Error("the last good configuration's VIP was removed")
	}

	// Adding fails half way: nothing is applied and what was added for it goes again.
	h.calls, h.failAdd = nil, netip.MustParseAddr("198.51.100.9")
	applied := false
	err = m.Apply(addrs("192.0.2.70", "198.51.100.9"), func() error { applied = true; return nil })
	if err == nil || !strings.Contains(err.Error(), "198.51.100.9") || !strings.Contains(err.Error(), "operation not permitted") {
		t.Errorf("err %v, want one naming the VIP and the cause", err)
	}
	if applied {
		t.Error("configuration applied although a VIP could not be added")
	}
	if want := []string{"add 192.0.2.70 eth0", "del 192.0.2.70 eth0"}; !reflect.DeepEqual(h.calls, want) {
		t.Errorf("calls %v, want %v", h.calls, want)
	}

	m.Close()
	if _, ok := h.have[netip.MustParseAddr("192.0.2.50")]; ok {
		t.Error("Close left a VIP the SE added")
	}
	if _, ok := h.have[netip.MustParseAddr("192.0.2.10")]; !ok {
		t.Error("Close removed the host's own address")
	}
}

func TestOf(t *testing.T) {
	snap := sechannel.Snapshot{VirtualServices: []sechannel.VirtualService{
		{Name: "ew", Enabled: true},
		{Name: "any", Enabled: true, VIP: "0.0.0.0"},
		{Name: "a", Enabled: true, VIP: "198.51.100.7"},
		{Name: "a2", Enabled: true, VIP: "198.51.100.7"},
		{Name: "mapped", Enabled: true, VIP: "::ffff:198.51.100.8"},
		{Name: "v6", Enabled: true, VIP: "2001:db8::7"},
		{Name: "off", Enabled: false, VIP: "198.51.100.9"},
	}}
	got, err := Of(snap)
	if err != nil {
		t.Fatal(err)
	}
	if want := addrs("198.51.100.7", "198.51.100.8", "2001:db8::7"); !reflect.DeepEqual(got, want) {
		t.Errorf("Of = %v, want %v", got, want)
	}
	snap.VirtualServices = append(snap.VirtualServices, sechannel.VirtualService{Name: "bad", Enabled: true, VIP: "198.51.100"})
	if _, err := Of(snap); err == nil || !strings.Contains(err.Error(), "bad") {
		t.Errorf("Of with a bad VIP: %v, want an error naming the virtual service", err)
	}
}

func TestWrapHoldsTheSnapshotsVIPsWhileItApplies(t *testing.T) {
	h := newFakeHost()
	m := New(h, nil)
	vip := netip.MustParseAddr("198.51.100.7")
	var calls int
	apply := m.Wrap(func(snap sechannel.Snapshot) error {
		calls++
		if _, ok := h.have[vip]; !ok {
			t.Errorf("version %d applied without its VIP on the host", snap.Version)
		}
		return nil
	})
	if err := apply(sechannel.Snapshot{Version: 1, VirtualServices: []sechannel.VirtualService{{Name: "a", Enabled: true, VIP: vip.String()}}}); err != nil || calls != 1 {
		t.Fatalf("apply: %v after %d calls", err, calls)
	}
	if err := apply(sechannel.Snapshot{Version: 2, VirtualServices: []sechannel.VirtualService{{Name: "bad", Enabled: true, VIP: "nope"}}}); err == nil || calls != 1 {
		t.Errorf("a snapshot with a bad VIP: %v after %d calls, want an error and no apply", err, calls)
	}
	if _, ok := h.have[vip]; !ok {
		t.Error("a rejected snapshot took the last good one's VIP")
	}
}
