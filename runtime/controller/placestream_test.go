package controller

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/sechannel"
)

// testSE is an SE of a test, talking to a running controller's sysint port.
type testSE struct {
	uuid, cred string
	base       string
	client     *http.Client
}

func newTestSE(t *testing.T, s *Server, cfg Config, name string) *testSE {
	t.Helper()
	cred := sechannel.NewCredential()
	se := &avi.ServiceEngine{Meta: avi.Meta{Name: name}, CredentialHash: sechannel.HashSecret(cred)}
	if err := s.store.Create(se); err != nil {
		t.Fatal(err)
	}
	return &testSE{uuid: se.UUID, cred: cred, base: "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.SysintPort)),
		client: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}}
}

func (se *testSE) request(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, se.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set(sechannel.SEHeader, se.uuid)
	req.Header.Set("Authorization", "Bearer "+se.cred)
	return se.client.Do(req)
}

func (se *testSE) beat() error {
	resp, err := se.request(context.Background(), "POST", sechannel.HeartbeatPath, []byte(`{}`))
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// beatUntil heartbeats every half interval until stop is closed (a miss shows as a service not
// placed where the test expects it).
func (se *testSE) beatUntil(stop <-chan struct{}) {
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(sechannel.HeartbeatInterval / 2):
				se.beat()
			}
		}
	}()
}

// stream opens the SE's snapshot stream; the updates arrive on the channel until ctx ends.
func (se *testSE) stream(t *testing.T, ctx context.Context) <-chan sechannel.Update {
	t.Helper()
	resp, err := se.request(ctx, "GET", sechannel.SnapshotPath, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("snapshot stream: %v %v", resp, err)
	}
	out := make(chan sechannel.Update, 16)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var u sechannel.Update
			if len(sc.Bytes()) > 0 && json.Unmarshal(sc.Bytes(), &u) == nil {
				out <- u
			}
		}
	}()
	return out
}

// Each SE's stream carries only what is placed on it (after the controller settled: the first
// message waits for it): the north-south service on one SE, the
// east-west one on both. The primary's stream closes: the other SE's stream gets the
// north-south service within streamGrace and a placement check.
func TestStreamsCarryPlacementAndFailover(t *testing.T) {
	s, cfg := startControllerWith(t, t.TempDir(), defaultConnLimits)
	ns := &avi.VirtualService{Meta: avi.Meta{Name: "ns"}, IPAddress: &avi.IPAddr{Addr: "10.0.0.5", Type: "V4"}, Services: []avi.Service{{Port: 80}}}
	ew := &avi.VirtualService{Meta: avi.Meta{Name: "ew"}, Services: []avi.Service{{Port: 8080}}}
	for _, vs := range []*avi.VirtualService{ns, ew} {
		if err := s.store.Create(vs); err != nil {
			t.Fatal(err)
		}
	}
	a, b := newTestSE(t, s, cfg, "se-a"), newTestSE(t, s, cfg, "se-b")
	actx, closeA := context.WithCancel(context.Background())
	defer closeA()
	bctx, closeB := context.WithCancel(context.Background())
	defer closeB()
	if err := a.beat(); err != nil {
		t.Fatal(err)
	}
	stopA, stopB := make(chan struct{}), make(chan struct{})
	defer close(stopB)
	a.beatUntil(stopA)
	aUpdates := a.stream(t, actx)
	// se-a up first, so the primary: its heartbeat's answer came after the controller saw it up.
	if err := b.beat(); err != nil {
		t.Fatal(err)
	}
	b.beatUntil(stopB)
	bUpdates := b.stream(t, bctx)

	names := func(u sechannel.Update) map[string]bool {
		out := map[string]bool{}
		for _, v := range u.VirtualServices {
			out[v.Name] = true
		}
		return out
	}
	next := func(ch <-chan sechannel.Update, what string) sechannel.Update {
		t.Helper()
		select {
		case u := <-ch:
			return u
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no update within 5 s", what)
		}
		return sechannel.Update{}
	}
	// The first message holds what is placed at the time; se-b's stream may see ew first and
	// ns never, se-a's holds ns.
	heldA := names(next(aUpdates, "se-a's first snapshot"))
	for !heldA["ns"] || !heldA["ew"] {
		for n := range names(next(aUpdates, "se-a's snapshot")) {
			heldA[n] = true
		}
	}
	heldB := names(next(bUpdates, "se-b's first snapshot"))
	if heldB["ns"] {
		t.Fatalf("se-b holds the north-south service se-a holds: %v", heldB)
	}

	// se-a's stream closes while se-b beats: ns moves to se-b.
	closeA()
	start := time.Now()
	for !heldB["ns"] {
		u := next(bUpdates, "se-b after se-a's stream closed")
		for n := range names(u) {
			heldB[n] = true
		}
	}
	if took := time.Since(start); took > streamGrace+time.Second {
		t.Errorf("ns reached se-b %v after se-a's stream closed; want within %v", took, streamGrace+time.Second)
	} else {
		t.Logf("ns reached se-b %v after se-a's stream closed", took)
	}
}
