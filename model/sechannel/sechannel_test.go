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
	snap, err := st.Apply(Update{Version: 5, Full: true, VirtualServices: []VirtualService{vs("b", "beta"), vs("a", "alpha")}})
	if err != nil || snap.Version != 5 || len(snap.VirtualServices) != 2 || snap.VirtualServices[0].Name != "alpha" {
		t.Fatalf("full update: %+v %v", snap, err)
	}
	snap, err = st.Apply(Update{Version: 7, BaseVersion: 5, VirtualServices: []VirtualService{vs("c", "gamma"), vs("a", "alpha2")}, Deleted: []string{"b"}})
	if err != nil || snap.Version != 7 || len(snap.VirtualServices) != 2 || snap.VirtualServices[0].Name != "alpha2" || snap.VirtualServices[1].Name != "gamma" {
		t.Fatalf("incremental update: %+v %v", snap, err)
	}
	if _, err := st.Apply(Update{Version: 9, BaseVersion: 8}); !errors.Is(err, ErrBaseMismatch) || st.Version() != 7 {
		t.Fatalf("update from a version not held: %v, state at %d", err, st.Version())
	}
	snap, _ = st.Apply(Update{Version: 10, Full: true, VirtualServices: []VirtualService{vs("d", "delta")}})
	if len(snap.VirtualServices) != 1 || snap.VirtualServices[0].UUID != "d" {
		t.Fatalf("a full update replaces everything: %+v", snap)
	}
}

// TestStateMatchesAWholeSnapshot: through random updates (services added, renamed, sent twice,
// deleted, names shared), the state holds what applying each update to a map of every service
// and sorting gives, and its encoding reads back as that snapshot.
func TestStateMatchesAWholeSnapshot(t *testing.T) {
	rng := mathrand.New(mathrand.NewPCG(3, 4))
	st := NewState(Snapshot{Version: -1})
	model := map[string]VirtualService{}
	for version := int64(1); version < 300; version++ {
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
			v := VirtualService{UUID: fmt.Sprintf("vs-%d", rng.IntN(30)), Name: fmt.Sprintf("name-%d", rng.IntN(10)), Enabled: true}
			u.VirtualServices = append(u.VirtualServices, v)
			model[v.UUID] = v
		}
		line, _ := json.Marshal(u)
		snap, err := st.ApplyJSON(line)
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
		if !reflect.DeepEqual(snap, want) {
			t.Fatalf("version %d: %+v, want %+v", version, snap, want)
		}
		var saved Snapshot
		if err := json.Unmarshal(st.Held().JSON(), &saved); err != nil || !reflect.DeepEqual(saved, want) {
			t.Fatalf("version %d: encoded %s (%v), want %+v", version, st.Held().JSON(), err, want)
		}
	}
}

// TestHeldKeepsItsVersion: a Held taken before an update encodes what was held then; one taken
// after encodes the services received encoded as they came (spacing and all) and those applied
// decoded (Apply, NewState) encoded again; an update that cannot be read changes nothing.
func TestHeldKeepsItsVersion(t *testing.T) {
	vs := func(id, name string) VirtualService { return VirtualService{UUID: id, Name: name} }
	st := NewState(Snapshot{Version: 3, VirtualServices: []VirtualService{vs("b", "beta"), vs("a", "alpha")}})
	before := st.Held()
	raw := `{ "uuid": "c", "name": "gamma" }`
	if _, err := st.ApplyJSON([]byte(`{"version":4,"base_version":3,"virtual_services":[` + raw + `],"deleted":["b"]}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ApplyJSON([]byte(`{"version":5,"base_version":4,"virtual_services":[{"uuid":7}]}`)); err == nil || st.Version() != 4 {
		t.Fatalf("an update it cannot read: %v, state at %d, want an error and 4", err, st.Version())
	}
	after := st.Held()
	read := func(h Held) Snapshot {
		t.Helper()
		var s Snapshot
		if err := json.Unmarshal(h.JSON(), &s); err != nil || s.Version != h.Version() {
			t.Fatalf("%s: %v, version %d, want %d", h.JSON(), err, s.Version, h.Version())
		}
		return s
	}
	if got, want := read(before), (Snapshot{Version: 3, VirtualServices: []VirtualService{vs("a", "alpha"), vs("b", "beta")}}); !reflect.DeepEqual(got, want) {
		t.Errorf("held before the update: %+v, want %+v", got, want)
	}
	if got, want := read(after), (Snapshot{Version: 4, VirtualServices: []VirtualService{vs("a", "alpha"), vs("c", "gamma")}}); !reflect.DeepEqual(got, want) {
		t.Errorf("held after the update: %+v, want %+v", got, want)
	}
	if !strings.Contains(string(after.JSON()), raw) {
		t.Errorf("%s: want c as received, %s", after.JSON(), raw)
	}
}
