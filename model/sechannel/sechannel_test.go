package sechannel

import (
	"cmp"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	mathrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTokenRoundTripAndRejects(t *testing.T) {
	tok := NewToken(strings.Repeat("ab", 32))
	got, err := ParseToken(" " + tok.String() + "\n")
	if err != nil || got != tok {
		t.Fatalf("ParseToken(String()) = %+v, %v; want %+v", got, err, tok)
	}
	for _, bad := range []string{
		"", tok.ID, tok.ID + "." + tok.Secret,
		strings.ToUpper(tok.String()),
		tok.ID + "." + tok.Secret + ".sha256:" + strings.Repeat("a", 63),
		tok.ID + "." + tok.Secret + ".sha1:" + strings.Repeat("a", 64),
		"abcde." + tok.Secret + ".sha256:" + strings.Repeat("a", 64),
	} {
		if _, err := ParseToken(bad); err == nil {
			t.Errorf("ParseToken(%q) accepted", bad)
		}
	}
	if a, b := NewToken("x"), NewToken("x"); a.ID == b.ID || a.Secret == b.Secret {
		t.Error("two tokens share an id or secret")
	}
}

func FuzzParseToken(f *testing.F) {
	f.Add(NewToken(strings.Repeat("0", 64)).String())
	f.Add("abcdef.0123456789abcdef.sha256:" + strings.Repeat("f", 64))
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseToken(s)
		if err != nil {
			return
		}
		if again, err := ParseToken(tok.String()); err != nil || again != tok {
			t.Fatalf("accepted %q but its String() %q does not read back", s, tok.String())
		}
	})
}

func TestSecretMatches(t *testing.T) {
	h := HashSecret("s3cret")
	if !SecretMatches("s3cret", h) || SecretMatches("s3creT", h) || SecretMatches("", h) {
		t.Error("SecretMatches does not tell the secret from others")
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "c"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func TestPinnedTLS(t *testing.T) {
	cert := selfSigned(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()

	right := &http.Client{Transport: &http.Transport{TLSClientConfig: PinnedTLS(CertHash(cert.Leaf))}}
	if resp, err := right.Get(srv.URL); err != nil {
		t.Fatalf("pinned to the right key: %v", err)
	} else {
		resp.Body.Close()
	}
	other := selfSigned(t)
	wrong := &http.Client{Transport: &http.Transport{TLSClientConfig: PinnedTLS(CertHash(other.Leaf))}}
	_, err := wrong.Get(srv.URL)
	if !errors.Is(err, ErrPinMismatch) {
		t.Fatalf("pinned to another key: %v, want ErrPinMismatch", err)
	}
}

func TestStateAppliesIncrementalUpdates(t *testing.T) {
	st := NewState(Snapshot{Version: -1})
	vs := func(id, name string) VirtualService { return VirtualService{UUID: id, Name: name} }
	ch, err := st.Apply(Update{Version: 5, Full: true, VirtualServices: []VirtualService{vs("b", "beta"), vs("a", "alpha")}})
	if want := (Change{Version: 5, Changed: []VirtualService{vs("a", "alpha"), vs("b", "beta")}}); err != nil || !reflect.DeepEqual(ch, want) {
		t.Fatalf("full update: %+v %v, want %+v", ch, err, want)
	}
	ch, err = st.Apply(Update{Version: 7, BaseVersion: 5, VirtualServices: []VirtualService{vs("c", "gamma"), vs("a", "alpha2")}, Deleted: []string{"b", "b", "unknown"}})
	if want := (Change{Version: 7, Changed: []VirtualService{vs("a", "alpha2"), vs("c", "gamma")}, Removed: []string{"b"}}); err != nil || !reflect.DeepEqual(ch, want) {
		t.Fatalf("incremental update: %+v %v, want %+v", ch, err, want)
	}
	if snap := st.Snapshot(); snap.Version != 7 || !reflect.DeepEqual(snap.VirtualServices, []VirtualService{vs("a", "alpha2"), vs("c", "gamma")}) {
		t.Fatalf("after the incremental update: %+v", snap)
	}
	if _, err := st.Apply(Update{Version: 9, BaseVersion: 8}); !errors.Is(err, ErrBaseMismatch) || st.Version() != 7 {
		t.Fatalf("update from a version not held: %v, state at %d", err, st.Version())
	}
	// A full update says only what differs from what is held.
	ch, _ = st.Apply(Update{Version: 8, Full: true, VirtualServices: []VirtualService{vs("c", "gamma"), vs("d", "delta")}})
	if want := (Change{Version: 8, Changed: []VirtualService{vs("d", "delta")}, Removed: []string{"a"}}); !reflect.DeepEqual(ch, want) {
		t.Fatalf("full update: %+v, want %+v", ch, want)
	}
	if ch, err := st.Apply(Update{Version: 8, BaseVersion: 8, VirtualServices: []VirtualService{vs("c", "gamma")}}); err != nil || !ch.Empty() {
		t.Fatalf("an update that sends what is held: %+v %v, want no change", ch, err)
	}
	// A new stream starts whole.
	st.RequireFull()
	if _, err := st.Apply(Update{Version: 9, BaseVersion: 8}); !errors.Is(err, ErrBaseMismatch) {
		t.Fatalf("incremental update where a full one is required: %v, want ErrBaseMismatch", err)
	}
	if _, err := st.Apply(Update{Version: 9, Full: true}); err != nil || st.Len() != 0 {
		t.Fatalf("full update after RequireFull: %v, %d held", err, st.Len())
	}
	if _, err := st.Apply(Update{Version: 10, BaseVersion: 9}); err != nil {
		t.Fatalf("incremental update after the full one: %v", err)
	}
}

// TestStateMatchesAWholeSnapshot: through random updates (services added, renamed, changed in
// place, sent again unchanged, sent twice, deleted, names shared), the state holds what applying
// each update to a map of every service and sorting gives; each change, applied to the
// configuration before it, gives the one after; and the encoding reads back as that snapshot.
func TestStateMatchesAWholeSnapshot(t *testing.T) {
	rng := mathrand.New(mathrand.NewPCG(3, 4))
	st := NewState(Snapshot{Version: -1})
	model := map[string]VirtualService{}
	for version := int64(1); version < 300; version++ {
		before := maps.Clone(model)
		u := Update{Version: version, BaseVersion: st.Version(), Full: rng.IntN(20) == 0}
		if u.Full {
			clear(model)
		}
		for range rng.IntN(4) {
			u.Deleted = append(u.Deleted, fmt.Sprintf("vs-%d", rng.IntN(30)))
		}
		for _, id := range u.Deleted {
			delete(model, id)
		}
		for range rng.IntN(5) {
			v := VirtualService{UUID: fmt.Sprintf("vs-%d", rng.IntN(30)), Name: fmt.Sprintf("name-%d", rng.IntN(10)), Enabled: rng.IntN(2) == 0}
			u.VirtualServices = append(u.VirtualServices, v)
			model[v.UUID] = v
		}
		line, _ := json.Marshal(u)
		ch, err := st.ApplyJSON(line)
		if err != nil {
			t.Fatal(err)
		}
		want := Snapshot{Version: version, VirtualServices: slices.Collect(maps.Values(model))}
		slices.SortFunc(want.VirtualServices, func(a, b VirtualService) int {
			return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.UUID, b.UUID))
		})
		if len(want.VirtualServices) == 0 {
			want.VirtualServices = []VirtualService{}
		}
		if got := st.Snapshot(); !reflect.DeepEqual(got, want) {
			t.Fatalf("version %d: %+v, want %+v", version, got, want)
		}
		if got := slices.Collect(st.All()); len(got) != st.Len() || st.Len() != len(model) {
			t.Fatalf("version %d: All gives %d, Len %d, want %d", version, len(got), st.Len(), len(model))
		}
		for _, id := range ch.Removed {
			delete(before, id)
		}
		for _, v := range ch.Changed {
			if old, ok := before[v.UUID]; ok && reflect.DeepEqual(old, v) {
				t.Errorf("version %d: %+v reported changed, but it was held as it is", version, v)
			}
			before[v.UUID] = v
		}
		if !maps.EqualFunc(before, model, func(a, b VirtualService) bool { return reflect.DeepEqual(a, b) }) {
			t.Fatalf("version %d: the change %+v leads to %+v, want %+v", version, ch, before, model)
		}
		saved, err := ReadState(st.JSON())
		if err != nil {
			t.Fatal(err)
		}
		if got := saved.Snapshot(); got.Version != version || !reflect.DeepEqual(got.VirtualServices, st.Snapshot().VirtualServices) {
			t.Fatalf("version %d: encoded %s reads back as %+v", version, st.JSON(), got)
		}
	}
}

// TestStateJSON: the encoding holds the services received encoded as they came (spacing and
// all) and those applied decoded (Apply, NewState) encoded again; an update that cannot be read
// changes nothing.
func TestStateJSON(t *testing.T) {
	vs := func(id, name string) VirtualService { return VirtualService{UUID: id, Name: name} }
	st := NewState(Snapshot{Version: 3, VirtualServices: []VirtualService{vs("b", "beta"), vs("a", "alpha")}})
	raw := `{ "uuid": "c", "name": "gamma" }`
	if _, err := st.ApplyJSON([]byte(`{"version":4,"base_version":3,"virtual_services":[` + raw + `],"deleted":["b"]}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ApplyJSON([]byte(`{"version":5,"base_version":4,"virtual_services":[{"uuid":7}]}`)); err == nil || st.Version() != 4 {
		t.Fatalf("an update it cannot read: %v, state at %d, want an error and 4", err, st.Version())
	}
	var got Snapshot
	if err := json.Unmarshal(st.JSON(), &got); err != nil {
		t.Fatalf("%s: %v", st.JSON(), err)
	}
	if want := (Snapshot{Version: 4, VirtualServices: []VirtualService{vs("a", "alpha"), vs("c", "gamma")}}); !reflect.DeepEqual(got, want) {
		t.Errorf("encoded %+v, want %+v", got, want)
	}
	if !strings.Contains(string(st.JSON()), raw) {
		t.Errorf("%s: want c as received, %s", st.JSON(), raw)
	}
	if _, err := ReadState([]byte(`{"version":4,"virtual_services":[{"uuid":7}]}`)); err == nil {
		t.Error("ReadState of a virtual service it cannot read: no error")
	}
}

// BenchmarkStateUpdate is what one change costs an SE holding 1,000 virtual services of 10
// servers each: the update read and merged into what it holds.
func BenchmarkStateUpdate(b *testing.B) {
	st := NewState(Snapshot{Version: -1})
	var all []VirtualService
	for i := range 1000 {
		p := &Pool{UUID: fmt.Sprintf("pool-%d", i), Name: fmt.Sprintf("pool-%d", i)}
		for j := range 10 {
			p.Servers = append(p.Servers, Server{IP: fmt.Sprintf("10.0.%d.%d", i%250, j), Port: 8080, Enabled: true, Ratio: 1})
		}
		all = append(all, VirtualService{UUID: fmt.Sprintf("vs-%d", i), Name: fmt.Sprintf("vs-%d", i), Enabled: true, Pool: p})
	}
	line, _ := json.Marshal(Update{Version: 1, Full: true, VirtualServices: all})
	if _, err := st.ApplyJSON(line); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := range b.N {
		v := int64(i + 2)
		line, _ := json.Marshal(Update{Version: v, BaseVersion: v - 1, VirtualServices: []VirtualService{{UUID: fmt.Sprintf("change-%d", i), Name: fmt.Sprintf("change-%d", i)}}})
		if _, err := st.ApplyJSON(line); err != nil {
			b.Fatal(err)
		}
	}
}
