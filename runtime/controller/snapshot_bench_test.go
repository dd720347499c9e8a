package controller

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// BenchmarkSnapshotUpdate measures what each configuration change costs the controller before
// it reaches the SE streams: 1,000 virtual services of 10 servers, one new VS per iteration.
func BenchmarkSnapshotUpdate(b *testing.B) {
	st, err := store.Open(filepath.Join(b.TempDir(), "config.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	st.Update(func(tx *store.Tx) error {
		tx.Create(&avi.ApplicationProfile{Meta: avi.Meta{Name: avi.SystemHTTP}, Type: avi.ProfileHTTP})
		for i := range 1000 {
			p := &avi.Pool{Meta: avi.Meta{Name: fmt.Sprintf("p%d", i)}}
			for j := range 10 {
				p.Servers = append(p.Servers, avi.Server{IP: avi.IPAddr{Addr: fmt.Sprintf("10.0.%d.%d", i%250, j+1), Type: "V4"}, Port: 80})
			}
			if err := tx.Create(p); err != nil {
				return err
			}
			if err := tx.Create(&avi.VirtualService{Meta: avi.Meta{Name: fmt.Sprintf("v%d", i)}, Services: []avi.Service{{Port: 80}}, PoolRef: p.URL}); err != nil {
				return err
			}
		}
		return nil
	})
	c := &snapshotCache{}
	_, v := c.update(st, -1)
	b.ResetTimer()
	b.StopTimer() // each iteration times the update alone, not the store write before it
	for i := range b.N {
		if err := st.Create(&avi.VirtualService{Meta: avi.Meta{Name: fmt.Sprintf("new%d", i)}, Services: []avi.Service{{Port: 81}}}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		var msg []byte
		msg, v = c.update(st, v)
		b.StopTimer()
		if len(msg) > 4096 {
			b.Fatalf("incremental update of %d bytes for one new VS", len(msg))
		}
	}
}
