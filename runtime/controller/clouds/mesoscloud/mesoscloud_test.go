package mesoscloud

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/avi-init/avi-init/integrations/marathon/marathontest"
	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/store"
	"github.com/avi-init/avi-init/runtime/controller/store/storetest"
)

// env is a store with what every controller has, a Mesos cloud pointed at a Marathon test
// server, and the manager running.
type env struct {
	t     *testing.T
	st    *store.Store
	m     *Manager
	mar   *marathontest.Server
	cloud string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := storetest.Open(t)
	mar := marathontest.NewServer(t)
	var cloud string
	err := st.Update(func(tx *store.Tx) error {
		for _, p := range []avi.ApplicationProfile{{Meta: avi.Meta{Name: avi.SystemHTTP}, Type: avi.ProfileHTTP}, {Meta: avi.Meta{Name: avi.SystemL4}, Type: avi.ProfileL4}} {
			if err := tx.Create(&p); err != nil {
				return err
			}
		}
		c := &avi.Cloud{Meta: avi.Meta{Name: "mesos"}, Vtype: avi.CloudMesos, MesosConfiguration: &avi.MesosConfiguration{
			MarathonConfigurations: []avi.MarathonConfiguration{{MarathonURL: mar.URL}}}}
		if err := tx.Create(c); err != nil {
			return err
		}
		cloud = c.UUID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	m := &Manager{Store: st, Log: slog.New(slog.DiscardHandler), Debounce: 10 * time.Millisecond,
		Resolve: func(context.Context, string) (netip.Addr, error) { return netip.MustParseAddr("127.0.0.1"), nil }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return &env{t: t, st: st, m: m, mar: mar, cloud: cloud}
}

// within waits up to a second (the bound) for cond.
func (e *env) within(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			st, _ := e.m.Status(e.cloud)
			e.t.Fatalf("%s: not within a second (cloud status %+v)", what, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) vs(name string) *avi.VirtualService {
	vs, err := store.GetByName[*avi.VirtualService](e.st, name)
	if err != nil {
		return nil
	}
	return vs
}

func (e *env) pool(name string) *avi.Pool {
	p, err := store.GetByName[*avi.Pool](e.st, name)
	if err != nil {
		return nil
	}
	return p
}

func (e *env) addApp(def string) {
	e.t.Helper()
	if _, err := e.mar.AddApp([]byte(def)); err != nil {
		e.t.Fatal(err)
	}
}

func TestAppsBecomeVirtualServicesAndFollowMarathon(t *testing.T) {
	e := newEnv(t)
	def, err := os.ReadFile("../../../../integrations/marathon/testdata/marathon-docs_app.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.mar.AddApp(def); err != nil {
		t.Fatal(err)
	}
	e.within("the app's virtual service with its two tasks", func() bool {
		p := e.pool("foo-10019")
		return e.vs("foo-10019") != nil && p != nil && len(p.Servers) == 2
	})
	vs, pool := e.vs("foo-10019"), e.pool("foo-10019")
	owner := e.m.Owner(e.cloud) + "/foo"
	if vs.CreatedBy != owner || pool.CreatedBy != owner || vs.Services[0].Port != 10019 || vs.CloudRef != avi.KindCloud.URL(e.cloud) ||
		vs.PoolRef != avi.KindPool.URL(pool.UUID) {
		t.Errorf("virtual service %+v, pool %+v", vs, pool)
	}
	for _, ref := range pool.HealthMonitorRefs {
		hm, err := store.Get[*avi.HealthMonitor](e.st, avi.UUIDOf(ref))
		if err != nil || hm.CreatedBy != owner {
			t.Errorf("health monitor %s: %+v", ref, hm)
		}
	}

	// A re-read that finds nothing new writes nothing.
	version := e.st.Version()
	e.addApp(`{"id": "/other", "instances": 1, "portDefinitions": [{"port": 0, "protocol": "tcp", "name": "http"}]}`)
	e.within("the second app", func() bool { return e.st.Version() > version })
	time.Sleep(100 * time.Millisecond)
	if got := e.vs("foo-10019"); got.LastModified != vs.LastModified {
		t.Error("a sync rewrote a virtual service that did not change")
	}

	// Scale and kill: membership follows.
	if err := e.mar.Scale("/foo", 3); err != nil {
		t.Fatal(err)
	}
	e.within("the third task to join the pool", func() bool { return len(e.pool("foo-10019").Servers) == 3 })
	task := e.mar.Tasks("/foo")[0]
	if err := e.mar.SetTaskHealth("/foo", task, false); err != nil {
		t.Fatal(err)
	}
	e.within("an unhealthy task to leave the pool", func() bool { return len(e.pool("foo-10019").Servers) == 2 })

	// A broken label skips that app, with the reason in the status; the others are untouched.
	before := e.pool("foo-10019").LastModified
	e.addApp(`{"id": "/broken", "instances": 1, "portDefinitions": [{"port": 0, "protocol": "tcp"}], "labels": {"avi_proxy": "{not json"}}`)
	e.within("the broken app's error in the status", func() bool {
		st, _ := e.m.Status(e.cloud)
		return len(st.AppErrors) == 1 && st.AppErrors[0].AppID == "/broken"
	})
	if e.pool("foo-10019").LastModified != before {
		t.Error("a broken app changed another app's pool")
	}
	st, _ := e.m.Status(e.cloud)
	if st.State != "SYNCED" || st.Apps != 3 || st.VirtualServices != 2 || !strings.Contains(st.AppErrors[0].Message, "avi_proxy") {
		t.Errorf("status %+v", st)
	}

	// Delete the app: its objects go, monitors included.
	if err := e.mar.DeleteApp("/foo"); err != nil {
		t.Fatal(err)
	}
	e.within("the deleted app's objects to go", func() bool { return e.vs("foo-10019") == nil && e.pool("foo-10019") == nil })
	for _, hm := range store.List[*avi.HealthMonitor](e.st) {
		if strings.HasSuffix(hm.CreatedBy, ":/foo") {
			t.Errorf("health monitor %s of the deleted app stayed", hm.Name)
		}
	}
}

func TestTakenPortsAndNamesAreRefusedPerApp(t *testing.T) {
	e := newEnv(t)
	// The operator's own service holds port 10100 on every SE.
	if err := e.st.Create(&avi.VirtualService{Meta: avi.Meta{Name: "operator"}, Services: []avi.Service{{Port: 10100}}}); err != nil {
		t.Fatal(err)
	}
	// ... and a pool named as an app's would be.
	if err := e.st.Create(&avi.Pool{Meta: avi.Meta{Name: "named-10101"}}); err != nil {
		t.Fatal(err)
	}
	e.addApp(`{"id": "/clash", "instances": 1, "portDefinitions": [{"port": 10100, "protocol": "tcp"}]}`)
	e.addApp(`{"id": "/named", "instances": 1, "portDefinitions": [{"port": 10101, "protocol": "tcp"}]}`)
	e.addApp(`{"id": "/fine", "instances": 1, "portDefinitions": [{"port": 10102, "protocol": "tcp"}]}`)
	e.within("the fine app's service", func() bool { return e.vs("fine-10102") != nil })
	e.within("both refusals in the status", func() bool {
		st, _ := e.m.Status(e.cloud)
		return len(st.AppErrors) == 2
	})
	st, _ := e.m.Status(e.cloud)
	if !strings.Contains(st.AppErrors[0].Message, "port 10100 is taken by virtual service operator") ||
		!strings.Contains(st.AppErrors[1].Message, "pool named-10101: the name is taken") {
		t.Errorf("app errors %+v", st.AppErrors)
	}
	if p := e.pool("named-10101"); p.CreatedBy != "" || len(p.Servers) != 0 {
		t.Errorf("the operator's pool was changed: %+v", p)
	}
	if e.vs("clash-10100") != nil || e.vs("named-10101") != nil {
		t.Error("a refused app got a virtual service")
	}
}

func TestCloudNoLongerMesosTakesItsObjects(t *testing.T) {
	e := newEnv(t)
	e.addApp(`{"id": "/web", "instances": 2, "portDefinitions": [{"port": 10200, "protocol": "tcp", "name": "http"}]}`)
	e.within("the app's service", func() bool { return e.vs("web-10200") != nil })
	cloud, err := store.Get[*avi.Cloud](e.st, e.cloud)
	if err != nil {
		t.Fatal(err)
	}
	cloud.Vtype, cloud.MesosConfiguration = avi.CloudNone, nil
	if err := e.st.Put(e.cloud, cloud); err != nil {
		t.Fatal(err)
	}
	e.within("the cloud's objects to go", func() bool { return e.vs("web-10200") == nil && e.pool("web-10200") == nil })
	if _, ok := e.m.Status(e.cloud); ok {
		t.Error("a cloud that is no longer Mesos still has a status")
	}
	if n := len(store.List[*avi.VirtualService](e.st)); n != 0 {
		t.Errorf("%d virtual services left", n)
	}
}
