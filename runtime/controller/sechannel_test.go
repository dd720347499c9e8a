package controller

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/contract"
	"github.com/avi-init/avi-init/model/sechannel"
	"github.com/avi-init/avi-init/runtime/controller/store"
	"github.com/avi-init/avi-init/runtime/controller/store/storetest"
)

// TestBootstrapToken: a token the installer leaves in the data directory is adopted (at boot,
// or when an SE first presents it), lets the SE beside the controller join, and does not stay
// on disk.
func TestBootstrapToken(t *testing.T) {
	e := newAPIEnv(t)
	dir := e.srv.cfg.DataDir
	cert, err := loadOrCreateCert(dir, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	hash := sechannel.CertHash(cert.Leaf)
	e.setUp(t, "Bootstrap-Pass-1", nil)

	tok := sechannel.NewToken(hash)
	data, _ := json.Marshal(contract.BootstrapToken{ID: tok.ID, Secret: tok.Secret})
	path := filepath.Join(dir, contract.BootstrapTokenFile)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	join := e.do(t, "POST", sechannel.JoinPath, map[string]any{"token": tok.String(), "name": "se-beside", "mgmt_ip": "::ffff:192.0.2.7"}, apiCred{none: true}).want(t, http.StatusOK)
	if id, _ := join.obj["se_uuid"].(string); id == "" {
		t.Fatalf("join with the bootstrap token: %v", join.obj)
	}
	// The SE's management address is kept as Avi writes it: an IPv4-mapped address is V4.
	se := e.byName(t, "serviceengine", "se-beside")
	apiWantEq(t, "mgmt_ip_address", se["mgmt_ip_address"], map[string]any{"addr": "192.0.2.7", "type": "V4"})
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("bootstrap token file kept after adoption: %v", err)
	}
	listed := e.admin(t, "GET", "/api/jointoken", nil).want(t, http.StatusOK)
	found := false
	for _, r := range listed.obj["results"].([]any) {
		found = found || r.(map[string]any)["id"] == tok.ID
	}
	if !found {
		t.Errorf("the adopted token is not listed (so it cannot be revoked): %v", listed.obj)
	}

	// A malformed file is reported and left alone, not adopted.
	os.WriteFile(path, []byte(`{"id": "x"}`), 0o600)
	if err := e.srv.adoptBootstrapToken(); err == nil {
		t.Error("a bootstrap token without a secret was adopted")
	}
}

// TestSnapshotUpdates: the first message of a stream is the whole configuration placed on its
// SE; each later one carries only the virtual services that changed (also through their pool) or
// were newly placed on it, and the uuids of those deleted or placed elsewhere, so that an SE
// applying them holds what a whole snapshot would give; nothing new, no message.
func TestSnapshotUpdates(t *testing.T) {
	st := storetest.Open(t)
	var poolUUID, keepUUID, dropUUID string
	err := st.Update(func(tx *store.Tx) error {
		if err := tx.Create(&avi.ApplicationProfile{Meta: avi.Meta{Name: avi.SystemHTTP}, Type: avi.ProfileHTTP}); err != nil {
			return err
		}
		p := &avi.Pool{Meta: avi.Meta{Name: "p"}, Servers: []avi.Server{{IP: avi.IPAddr{Addr: "192.0.2.1", Type: "V4"}, Port: 80}}}
		if err := tx.Create(p); err != nil {
			return err
		}
		keep := &avi.VirtualService{Meta: avi.Meta{Name: "a-pooled"}, Services: []avi.Service{{Port: 80}}, PoolRef: p.URL}
		if err := tx.Create(keep); err != nil {
			return err
		}
		drop := &avi.VirtualService{Meta: avi.Meta{Name: "b-alone"}, Services: []avi.Service{{Port: 81}}}
		if err := tx.Create(drop); err != nil {
			return err
		}
		poolUUID, keepUUID, dropUUID = p.UUID, keep.UUID, drop.UUID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	c := &snapshotCache{}
	decode := func(msg []byte) sechannel.Update {
		t.Helper()
		var u sechannel.Update
		if err := json.Unmarshal(msg, &u); err != nil {
			t.Fatalf("update %s: %v", msg, err)
		}
		return u
	}
	names := func(vss []sechannel.VirtualService) []string {
		out := []string{}
		for _, v := range vss {
			out = append(out, v.Name)
		}
		return out
	}
	se := sechannel.NewState(sechannel.Snapshot{Version: -1})
	apply := func(u sechannel.Update) sechannel.Snapshot {
		t.Helper()
		if _, err := se.Apply(u); err != nil {
			t.Fatal(err)
		}
		return se.Snapshot()
	}

	both := map[string]bool{keepUUID: true, dropUUID: true}
	var stream streamState
	msg := c.update(st, both, &stream)
	first := decode(msg)
	if !first.Full || first.Version != st.Version() || !reflect.DeepEqual(names(first.VirtualServices), []string{"a-pooled", "b-alone"}) {
		t.Fatalf("first update %s: want the whole configuration at version %d", msg, st.Version())
	}
	apply(first)
	if msg := c.update(st, both, &stream); msg != nil {
		t.Errorf("nothing changed, yet %s", msg)
	}

	// A pool change re-sends the virtual service that uses it, and only that one.
	v := st.Version()
	p, err := store.Get[*avi.Pool](st, poolUUID)
	if err != nil {
		t.Fatal(err)
	}
	p.Servers[0].Port = 8080
	if err := st.Put(poolUUID, p); err != nil {
		t.Fatal(err)
	}
	msg = c.update(st, both, &stream)
	u := decode(msg)
	if u.Full || u.BaseVersion != v || u.Version != st.Version() || !reflect.DeepEqual(names(u.VirtualServices), []string{"a-pooled"}) || len(u.Deleted) != 0 {
		t.Fatalf("update after a pool change %s: want a-pooled only, relative to %d", msg, v)
	}
	if got := u.VirtualServices[0].Pool.Servers[0].Port; got != 8080 {
		t.Errorf("a-pooled sent with server port %d, want the changed 8080", got)
	}
	apply(u)

	// Placed elsewhere: sent as deleted; placed back: sent again, at the same version.
	msg = c.update(st, map[string]bool{keepUUID: true}, &stream)
	if u := decode(msg); len(u.VirtualServices) != 0 || !reflect.DeepEqual(u.Deleted, []string{dropUUID}) {
		t.Fatalf("b-alone placed elsewhere: %s, want it deleted", msg)
	}
	apply(decode(msg))
	msg = c.update(st, both, &stream)
	if u := decode(msg); u.Version != u.BaseVersion || !reflect.DeepEqual(names(u.VirtualServices), []string{"b-alone"}) {
		t.Fatalf("b-alone placed back: %s, want it alone", msg)
	}
	apply(decode(msg))

	// A deletion is sent as the uuid alone.
	if err := st.Delete(avi.KindVirtualService, dropUUID); err != nil {
		t.Fatal(err)
	}
	msg = c.update(st, both, &stream)
	u = decode(msg)
	if u.Full || len(u.VirtualServices) != 0 || !reflect.DeepEqual(u.Deleted, []string{dropUUID}) {
		t.Fatalf("update after a deletion %s: want only deleted [%s]", msg, dropUUID)
	}
	held := apply(u)

	// What the SE holds is what a whole snapshot gives.
	whole := decode(c.update(st, both, &streamState{}))
	if !whole.Full || !reflect.DeepEqual(held.VirtualServices, whole.VirtualServices) || held.Version != whole.Version {
		t.Errorf("SE after incremental updates holds %+v, the whole configuration is %+v", held, whole)
	}
	if len(held.VirtualServices) != 1 || held.VirtualServices[0].UUID != keepUUID {
		t.Errorf("SE holds %+v, want a-pooled alone", held.VirtualServices)
	}
}
