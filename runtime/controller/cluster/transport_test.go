package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/contract"
	"github.com/avi-init/avi-init/model/sechannel"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

func selfSigned(t testing.TB) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// trustSet is the certificates a test cluster's nodes accept.
type trustSet struct {
	mu     sync.Mutex
	hashes map[string]bool
}

func (s *trustSet) add(c *tls.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hashes[sechannel.CertHash(c.Leaf)] = true
}

func (s *trustSet) trusted(h string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hashes[h]
}

// tlsNode is a controller's HTTPS port as Serve sets it up: the API, and raft beside it.
type tlsNode struct {
	addr   string
	cert   *tls.Certificate
	stream *StreamLayer
}

func serveTLS(t testing.TB, trust *trustSet) *tlsNode {
	t.Helper()
	cert := selfSigned(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stream, err := NewStreamLayer(l.Addr().String(), func() (*tls.Certificate, error) { return cert, nil }, trust.trusted)
	if err != nil {
		t.Fatal(err)
	}
	base := &tls.Config{Certificates: []tls.Certificate{*cert}}
	base.GetConfigForClient = ServerConfig(base)
	srv := &http.Server{
		Handler:      http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "the API") }),
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){ALPN: stream.ServeConn},
		ReadTimeout:  time.Second, // raft's connections outlive the server's request deadlines
	}
	go srv.Serve(tls.NewListener(l, base))
	t.Cleanup(func() { srv.Close(); stream.Close() })
	return &tlsNode{addr: l.Addr().String(), cert: cert, stream: stream}
}

// Two controllers replicate over their HTTPS ports, each knowing the other by its certificate;
// the port still serves the API, asking browsers for no certificate.
func TestRaftOverTheHTTPSPort(t *testing.T) {
	trust := &trustSet{hashes: map[string]bool{}}
	a, b := serveTLS(t, trust), serveTLS(t, trust)
	trust.add(a.cert)
	trust.add(b.cert)

	open := func(n *tlsNode, dir string, join bool, key []byte) (*store.Store, *Node) {
		if key != nil {
			if err := os.WriteFile(filepath.Join(dir, contract.SecretsKeyFile), key, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		st, err := store.Open(filepath.Join(dir, contract.StoreFile))
		if err != nil {
			t.Fatal(err)
		}
		node, err := Open(Config{Dir: filepath.Join(dir, "raft"), ID: n.addr, Addr: n.addr, Stream: n.stream, Join: join,
			HeartbeatTimeout: heartbeat, RaftLog: io.Discard}, st)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { node.Close(); st.Close() })
		return st, node
	}
	dirA, dirB := t.TempDir(), t.TempDir()
	stA, nodeA := open(a, dirA, false, nil)
	waitFor(t, "a to lead", 10*time.Second, nodeA.IsLeader)
	key, err := os.ReadFile(filepath.Join(dirA, contract.SecretsKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	stB, _ := open(b, dirB, true, key)
	if err := nodeA.Add(b.addr, b.addr); err != nil {
		t.Fatal(err)
	}
	if err := create(stA, "replicated"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to hold the write", 10*time.Second, func() bool {
		_, err := store.GetByName[*avi.HealthMonitor](stB, "replicated")
		return err == nil
	})
	// Past the server's read timeout, the connections still carry writes.
	time.Sleep(1500 * time.Millisecond)
	if err := create(stA, "later"); err != nil {
		t.Fatalf("a write after the server's read timeout: %v", err)
	}

	// The API on the same port, as a browser reaches it.
	conn, err := tls.Dial("tcp", a.addr, &tls.Config{InsecureSkipVerify: true,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			t.Error("the server asked a browser for a certificate")
			return &tls.Certificate{}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	body, _ := io.ReadAll(conn)
	conn.Close()
	if !strings.Contains(string(body), "the API") {
		t.Errorf("the API on the raft port answered %q", body)
	}
}

// A controller that is not a node of the cluster is turned away, both ways.
func TestRaftRefusesStrangers(t *testing.T) {
	trust := &trustSet{hashes: map[string]bool{}}
	node := serveTLS(t, trust)
	trust.add(node.cert)
	stranger := selfSigned(t)

	// A stranger dialling a node: its handshake is answered, then the connection is dropped.
	strangerLayer, err := NewStreamLayer("127.0.0.1:1", func() (*tls.Certificate, error) { return stranger, nil }, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	c, err := strangerLayer.Dial(raft.ServerAddress(node.addr), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("a stranger's connection: read %d, %v; want it closed (EOF)", n, err)
	}
	c.Close()

	// A node dialling a stranger's port: refused before a byte of raft is sent.
	other := serveTLS(t, &trustSet{hashes: map[string]bool{}})
	if _, err := node.stream.Dial(raft.ServerAddress(other.addr), 5*time.Second); err == nil || !strings.Contains(err.Error(), "not a node of this cluster") {
		t.Errorf("dial a controller outside the cluster: %v; want refused", err)
	}
}
