package controller

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/sechannel"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// BenchmarkChangeTo100SEs measures what each configuration change costs the controller before
// it reaches the SE streams: 1,000 north-south virtual services of 10 servers placed on 100 SEs
// of Default-Group, one new VS per iteration; each iteration places again and builds the update
// of every SE's stream. It reports the p99 of the iterations as p99-ms.
func BenchmarkChangeTo100SEs(b *testing.B) {
	s, ses := benchServer(b)
	st := s.store
	streams := make([]streamState, len(ses))
	push := func() {
		_, bySE := s.placement()
		for i, se := range ses {
			s.snapshots.update(st, bySE[se], &streams[i])
		}
	}
	push()
	var took []time.Duration
	b.ResetTimer()
	b.StopTimer() // each iteration times the update alone, not the store write before it
	for i := range b.N {
		vip := &avi.IPAddr{Addr: fmt.Sprintf("10.2.%d.%d", i/250%250, i%250+1), Type: "V4"}
		if err := st.Create(&avi.VirtualService{Meta: avi.Meta{Name: fmt.Sprintf("new%d", i)}, IPAddress: vip, Services: []avi.Service{{Port: 81}}}); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		b.StartTimer()
		push()
		b.StopTimer()
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100])/1e6, "p99-ms")
}

// BenchmarkRuntimeView100SEs measures what one runtime request (GET .../runtime, a dashboard
// row) costs before it computes anything: the view of 100 SEs and 1,000 virtual services.
func BenchmarkRuntimeView100SEs(b *testing.B) {
	s, _ := benchServer(b)
	for b.Loop() {
		s.runtimeView()
	}
}

// benchServer is a controller (without its HTTP side) of 1,000 north-south virtual services of
// 10 servers, placed on 100 SEs of Default-Group that heartbeat; it returns the SEs' uuids.
func benchServer(b *testing.B) (*Server, []string) {
	b.Helper()
	st, err := store.Open(filepath.Join(b.TempDir(), "config.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	var ses []string
	err = st.Update(func(tx *store.Tx) error {
		tx.Create(&avi.ApplicationProfile{Meta: avi.Meta{Name: avi.SystemHTTP}, Type: avi.ProfileHTTP})
		if err := tx.Create(&avi.Cloud{Meta: avi.Meta{Name: avi.DefaultCloudName}}); err != nil {
			return err
		}
		if err := ensureCloudDefaults(tx); err != nil {
			return err
		}
		for i := range 100 {
			se := &avi.ServiceEngine{Meta: avi.Meta{Name: fmt.Sprintf("se%d", i)}}
			if err := tx.Create(se); err != nil {
				return err
			}
			ses = append(ses, se.UUID)
		}
		for i := range 1000 {
			p := &avi.Pool{Meta: avi.Meta{Name: fmt.Sprintf("p%d", i)}}
			for j := range 10 {
				p.Servers = append(p.Servers, avi.Server{IP: avi.IPAddr{Addr: fmt.Sprintf("10.0.%d.%d", i%250, j+1), Type: "V4"}, Port: 80})
			}
			if err := tx.Create(p); err != nil {
				return err
			}
			vip := &avi.IPAddr{Addr: fmt.Sprintf("10.1.%d.%d", i/250, i%250+1), Type: "V4"}
			if err := tx.Create(&avi.VirtualService{Meta: avi.Meta{Name: fmt.Sprintf("v%d", i)}, IPAddress: vip, Services: []avi.Service{{Port: 80}}, PoolRef: p.URL}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	s := &Server{store: st, se: newSERuntime(func() time.Time { return now }), placer: newPlacer(now.Add(-DownAfter)), snapshots: &snapshotCache{}, now: func() time.Time { return now }}
	for _, se := range ses {
		s.se.state(se).lastHeartbeat = now
	}
	return s, ses
}

// BenchmarkHeartbeatPlaced100SEs measures what one heartbeat costs to learn which services are
// placed on its SE (and their pools), to keep only their reports: 100 SEs, 1,000 virtual
// services, the heartbeat reporting each service placed on its SE.
func BenchmarkHeartbeatPlaced100SEs(b *testing.B) {
	s, ses := benchServer(b)
	_, bySE := s.placement()
	var hb sechannel.Heartbeat
	for id := range bySE[ses[0]] {
		hb.Metrics = append(hb.Metrics, sechannel.Metrics{VSUUID: id})
	}
	for b.Loop() {
		s.store.View(func(v store.View) { placedOn(v, bySE[ses[0]], &hb) })
	}
}
