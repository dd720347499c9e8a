package vip

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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

// recorder is an announcer that keeps what it was asked to announce.
type recorder struct {
	mu   sync.Mutex
	sent []string
}

func (r *recorder) Announce(link string, ip netip.Addr) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, ip.String()+" "+link)
	return nil
}

// taken returns what was announced since the last call, once announcements in flight are done.
func (r *recorder) taken(m *Manager) []string {
	m.announces.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.sent
	r.sent = nil
	slices.Sort(out)
	return out
}

func service(name, vip string) sechannel.VirtualService {
	return sechannel.VirtualService{UUID: "vs-" + name, Name: name, Enabled: true, VIP: vip}
}

func snapshot(version int64, vss ...sechannel.VirtualService) sechannel.Snapshot {
	return sechannel.Snapshot{Version: version, VirtualServices: vss}
}

func TestAddsMissingVIPsBeforeListeningAnnouncesThemAndRemovesThemAfter(t *testing.T) {
	h, ann := newFakeHost(), &recorder{}
	m := New(h, ann, "", nil)
	var during []string
	apply := m.Wrap(func(sechannel.Snapshot) []sechannel.ServiceError {
		during = nil
		for ip := range h.have {
			during = append(during, ip.String())
		}
		slices.Sort(during)
		return nil
	})
	if errs := apply(snapshot(1, service("own", "192.0.2.10"), service("a", "192.0.2.50"), service("b", "198.51.100.7"))); errs != nil {
		t.Fatal(errs)
	}
	if want := []string{"192.0.2.10", "192.0.2.50", "198.51.100.7"}; !reflect.DeepEqual(during, want) {
		t.Errorf("addresses while listeners open %v, want %v", during, want)
	}
	slices.Sort(h.calls)
	if want := []string{"add 192.0.2.50 eth0", "add 198.51.100.7 eth1"}; !reflect.DeepEqual(h.calls, want) {
		t.Errorf("calls %v, want %v (the local address untouched)", h.calls, want)
	}
	if got, want := ann.taken(m), []string{"192.0.2.50 eth0", "198.51.100.7 eth1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("announced %v, want %v (only the VIPs added)", got, want)
	}

	// The next configuration drops one VIP: it goes only after the listeners moved, and the
	// VIP kept is not announced again.
	h.calls = nil
	if errs := apply(snapshot(2, service("b", "198.51.100.7"))); errs != nil {
		t.Fatal(errs)
	}
	if !slices.Contains(during, "192.0.2.50") {
		t.Errorf("VIP removed before the listeners closed: %v", during)
	}
	if want := []string{"del 192.0.2.50 eth0"}; !reflect.DeepEqual(h.calls, want) {
		t.Errorf("calls %v, want %v", h.calls, want)
	}
	if got := ann.taken(m); len(got) != 0 {
		t.Errorf("announced %v again", got)
	}

	// A configuration without VIPs never removes the operator's own address.
	h.calls = nil
	if errs := apply(snapshot(3)); errs != nil {
		t.Fatal(errs)
	}
	if want := []string{"del 198.51.100.7 eth1"}; !reflect.DeepEqual(h.calls, want) {
		t.Errorf("calls %v, want %v", h.calls, want)
	}
	if _, ok := h.have[netip.MustParseAddr("192.0.2.10")]; !ok {
		t.Error("the host's own address was removed")
	}
}

// TestOneVIPFailingLeavesOutOnlyItsServices: a VIP the host refuses, and one that is not an
// address, leave out the services using them, with the reason; the other services apply with
// their VIPs. The next apply retries the refused VIP.
func TestOneVIPFailingLeavesOutOnlyItsServices(t *testing.T) {
	h := newFakeHost()
	m := New(h, nil, "", nil)
	var got []string
	apply := m.Wrap(func(snap sechannel.Snapshot) []sechannel.ServiceError {
		got = nil
		for _, vs := range snap.VirtualServices {
			got = append(got, vs.Name)
		}
		// The data plane leaves one out in turn: its VIP stays, placed on this SE.
		return []sechannel.ServiceError{{VSUUID: "vs-busy", Reason: "listen on 192.0.2.70:80: address already in use"}}
	})
	h.failAdd = netip.MustParseAddr("198.51.100.9")
	errs := apply(snapshot(1, service("refused", "198.51.100.9"), service("refused2", "198.51.100.9"),
		service("ok", "192.0.2.50"), service("bad", "198.51.100"), service("busy", "192.0.2.70"), service("ew", "")))
	if want := []string{"ok", "busy", "ew"}; !reflect.DeepEqual(got, want) {
		t.Errorf("data plane got %v, want %v", got, want)
	}
	reasons := map[string]string{}
	for _, e := range errs {
		reasons[e.VSUUID] = e.Reason
	}
	if len(errs) != 4 || !strings.Contains(reasons["vs-refused"], "198.51.100.9") || !strings.Contains(reasons["vs-refused"], "operation not permitted") ||
		reasons["vs-refused2"] != reasons["vs-refused"] || !strings.Contains(reasons["vs-bad"], "not an IP address") || !strings.Contains(reasons["vs-busy"], "in use") {
		t.Errorf("not applied %+v, want refused, refused2, bad and busy with their reasons", errs)
	}
	for _, ip := range []string{"192.0.2.50", "192.0.2.70"} {
		if _, ok := h.have[netip.MustParseAddr(ip)]; !ok {
			t.Errorf("VIP %s not added", ip)
		}
	}

	h.failAdd = netip.Addr{}
	errs = apply(snapshot(1, service("refused", "198.51.100.9"), service("ok", "192.0.2.50")))
	if len(errs) != 0 || !slices.Contains(got, "refused") {
		t.Errorf("retry: not applied %+v, data plane got %v; want the refused VIP added and its service applied", errs, got)
	}
	if _, ok := h.have[netip.MustParseAddr("192.0.2.70")]; ok {
		t.Error("a VIP no longer placed on this SE stayed")
	}
}

// TestRemovesVIPsRecordedBeforeACrash: an SE that dies without Close (SIGKILL) leaves its
// VIPs on the host; the record in its data directory makes the next start remove those it no
// longer serves, keep the one it does, and leave the host's own address alone.
func TestRemovesVIPsRecordedBeforeACrash(t *testing.T) {
	h := newFakeHost()
	state := filepath.Join(t.TempDir(), StateFile)
	none := func(sechannel.Snapshot) []sechannel.ServiceError { return nil }
	before := New(h, nil, state, nil)
	before.Wrap(none)(snapshot(1, service("own", "192.0.2.10"), service("a", "192.0.2.50"), service("b", "2001:db8::7")))
	data, err := os.ReadFile(state)
	if err != nil || strings.Contains(string(data), "192.0.2.10") || !strings.Contains(string(data), "192.0.2.50") || !strings.Contains(string(data), "2001:db8::7") {
		t.Fatalf("record %s, %v; want the two VIPs added, not the host's own", data, err)
	}

	h.calls = nil
	after := New(h, nil, state, nil)
	after.Wrap(none)(snapshot(2, service("own", "192.0.2.10"), service("b", "2001:db8::7")))
	if want := []string{"del 192.0.2.50 eth0"}; !reflect.DeepEqual(h.calls, want) {
		t.Errorf("calls after the restart %v, want %v", h.calls, want)
	}
	after.Close()
	if _, ok := h.have[netip.MustParseAddr("2001:db8::7")]; ok {
		t.Error("Close kept a VIP recorded by the earlier run and served by this one")
	}
	if _, ok := h.have[netip.MustParseAddr("192.0.2.10")]; !ok {
		t.Error("the host's own address was removed")
	}
	if data, _ := os.ReadFile(state); strings.TrimSpace(string(data)) != "[]" {
		t.Errorf("record after Close %s, want empty", data)
	}
}

// TestAddsARecordedVIPTheHostLost: a VIP recorded as owned but gone from the host (a reboot)
// is added again when the configuration still names it.
func TestAddsARecordedVIPTheHostLost(t *testing.T) {
	state := filepath.Join(t.TempDir(), StateFile)
	none := func(sechannel.Snapshot) []sechannel.ServiceError { return nil }
	New(newFakeHost(), nil, state, nil).Wrap(none)(snapshot(1, service("a", "192.0.2.50")))
	h, ann := newFakeHost(), &recorder{}
	m := New(h, ann, state, nil)
	m.Wrap(none)(snapshot(1, service("a", "192.0.2.50")))
	if want := []string{"add 192.0.2.50 eth0"}; !reflect.DeepEqual(h.calls, want) {
		t.Errorf("calls %v, want %v", h.calls, want)
	}
	if got := ann.taken(m); len(got) != 1 {
		t.Errorf("announced %v, want the VIP added again", got)
	}
}

// slowAnnouncer holds each announcement until released, and records whether the VIP was still
// on the host when the announcement ended.
type slowAnnouncer struct {
	h       *fakeHost
	started chan struct{}
	release chan struct{}
	held    bool
}

func (a *slowAnnouncer) Announce(_ string, ip netip.Addr) error {
	a.started <- struct{}{}
	<-a.release
	_, a.held = a.h.have[ip]
	return nil
}

// TestRemovesAVIPOnlyOnceItsAnnouncementEnded: a VIP placed elsewhere right after it was added
// here goes only once its announcement is over: an announcement sent after the address left
// would draw the LAN's traffic for it to this SE, away from the one that holds it now.
func TestRemovesAVIPOnlyOnceItsAnnouncementEnded(t *testing.T) {
	h := newFakeHost()
	ann := &slowAnnouncer{h: h, started: make(chan struct{}, 1), release: make(chan struct{})}
	apply := New(h, ann, "", nil).Wrap(func(sechannel.Snapshot) []sechannel.ServiceError { return nil })
	apply(snapshot(1, service("a", "192.0.2.50")))
	<-ann.started
	moved := make(chan struct{})
	go func() {
		apply(snapshot(2))
		close(moved)
	}()
	time.Sleep(100 * time.Millisecond)
	close(ann.release)
	select {
	case <-moved:
	case <-time.After(10 * time.Second):
		t.Fatal("the VIP placed elsewhere was never removed")
	}
	if !ann.held {
		t.Error("the VIP was removed while its announcement went on")
	}
	if _, ok := h.have[netip.MustParseAddr("192.0.2.50")]; ok {
		t.Error("the VIP placed elsewhere stayed")
	}
}

func TestOf(t *testing.T) {
	users, bad := Of(snapshot(1,
		service("ew", ""), service("any", "0.0.0.0"), service("a", "198.51.100.7"), service("a2", "198.51.100.7"),
		service("mapped", "::ffff:198.51.100.8"), service("v6", "2001:db8::7"),
		sechannel.VirtualService{UUID: "vs-off", VIP: "198.51.100.9"}, service("bad", "198.51.100")))
	want := map[netip.Addr][]string{
		netip.MustParseAddr("198.51.100.7"): {"vs-a", "vs-a2"},
		netip.MustParseAddr("198.51.100.8"): {"vs-mapped"},
		netip.MustParseAddr("2001:db8::7"):  {"vs-v6"},
	}
	if !reflect.DeepEqual(users, want) {
		t.Errorf("Of = %v, want %v", users, want)
	}
	if len(bad) != 1 || !strings.Contains(bad["vs-bad"], "198.51.100") {
		t.Errorf("bad = %v, want vs-bad with its VIP", bad)
	}
}

// TestRemoveRecordedTakesOffWhatACrashedSELeft: what supervise runs once the SE's container died
// removes every VIP the SE recorded, empties the record, and leaves the host's own address.
func TestRemoveRecordedTakesOffWhatACrashedSELeft(t *testing.T) {
	h, dir := newFakeHost(), t.TempDir()
	crashed := New(h, nil, filepath.Join(dir, StateFile), nil)
	crashed.Wrap(func(sechannel.Snapshot) []sechannel.ServiceError { return nil })(
		snapshot(1, service("own", "192.0.2.10"), service("a", "192.0.2.50"), service("b", "2001:db8::7")))

	h.calls = nil
	RemoveRecorded(h, dir, nil)
	slices.Sort(h.calls)
	if want := []string{"del 192.0.2.50 eth0", "del 2001:db8::7 eth1"}; !reflect.DeepEqual(h.calls, want) {
		t.Errorf("calls %v, want %v", h.calls, want)
	}
	if _, ok := h.have[netip.MustParseAddr("192.0.2.10")]; !ok {
		t.Error("the host's own address was removed")
	}
	if data, _ := os.ReadFile(filepath.Join(dir, StateFile)); strings.TrimSpace(string(data)) != "[]" {
		t.Errorf("record after RemoveRecorded %s, want empty", data)
	}
}

// Hold keeps exactly the VIPs asked for: a new one added and announced, one no longer asked for
// removed, an empty list removes all; one that cannot be added is reported.
func TestHold(t *testing.T) {
	h, ann := newFakeHost(), &recorder{}
	m := New(h, ann, filepath.Join(t.TempDir(), StateFile), nil)
	vip1, vip2 := netip.MustParseAddr("192.0.2.50"), netip.MustParseAddr("192.0.2.51")
	if errs := m.Hold([]netip.Addr{vip1}); len(errs) != 0 {
		t.Fatal(errs)
	}
	if got := ann.taken(m); !slices.Equal(got, []string{"192.0.2.50 eth0"}) {
		t.Errorf("announced %v; want the new VIP", got)
	}
	m.Hold([]netip.Addr{vip2})
	if _, ok := h.have[vip1]; ok {
		t.Error("a VIP no longer held stays on the host")
	}
	if _, ok := h.have[vip2]; !ok {
		t.Error("the VIP held is not on the host")
	}
	h.failAdd = netip.MustParseAddr("192.0.2.52")
	if errs := m.Hold([]netip.Addr{h.failAdd}); errs[h.failAdd] == nil {
		t.Errorf("a VIP that cannot be added: %v; want its error", errs)
	}
	m.Hold(nil)
	if len(h.have) != 1 {
		t.Errorf("after holding none the host has %v; want only its own address", h.have)
	}
}
