package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/avi-init/avi-init/model/contract"
	"github.com/avi-init/avi-init/model/sechannel"
)

// ALPN is the protocol raft's connections negotiate on the controller's HTTPS port: one port
// for the API, the SEs and the other controllers, and no second listener to secure.
const ALPN = "avi-raft/1"

// StreamLayer carries raft's connections between controllers: mutual TLS, each end showing its
// controller certificate and accepting only those of the cluster's nodes (trusted, by
// sechannel.CertHash: the pin SE join tokens carry too), over the
// HTTPS port (ServeConn takes them from its server).
type StreamLayer struct {
	addr    net.Addr
	cert    func() (*tls.Certificate, error)
	trusted func(certHash string) bool

	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

// NewStreamLayer is the layer of the node reached at addr (host:port), showing cert.
func NewStreamLayer(addr string, cert func() (*tls.Certificate, error), trusted func(certHash string) bool) (*StreamLayer, error) {
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cluster address %q: %w", addr, err)
	}
	return &StreamLayer{addr: a, cert: cert, trusted: trusted, conns: make(chan net.Conn), done: make(chan struct{})}, nil
}

// PeerServerName is the name (SNI) a controller asks for when it makes an HTTPS request of
// another node of its cluster (a write it forwards to the leader, a health check, a join): the
// server then asks for its certificate, by which the handler knows it for a node.
const PeerServerName = contract.PeerServerName

// ServerConfig is what a controller's TLS server answers the other nodes with: raft's
// protocol, or HTTPS, with the client's certificate required. Other clients, browsers among
// them, are not asked for one.
func ServerConfig(base *tls.Config) func(*tls.ClientHelloInfo) (*tls.Config, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		raft := slices.Contains(hello.SupportedProtos, ALPN)
		if !raft && hello.ServerName != PeerServerName {
			return nil, nil
		}
		c := base.Clone()
		if raft {
			c.NextProtos = []string{ALPN}
		}
		c.ClientAuth = tls.RequireAnyClientCert
		return c, nil
	}
}

// PeerTLS is the client side of a connection to another node: this node's certificate shown,
// the other's checked against its pin (sechannel.CertHash) by trusted.
func PeerTLS(cert *tls.Certificate, trusted func(certHash string) bool) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		ServerName:   PeerServerName,
		Certificates: []tls.Certificate{*cert},
		// Nodes have self-signed certificates; each is known by its pin instead.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) > 0 {
				if c, err := x509.ParseCertificate(raw[0]); err == nil && trusted(sechannel.CertHash(c)) {
					return nil
				}
			}
			return errors.New("the controller at the other end is not a node of this cluster")
		},
	}
}

// ServeConn is the HTTPS server's TLSNextProto handler for ALPN: a connection from a trusted
// node goes to raft, and the call returns once raft is done with it (the server then closes it).
func (l *StreamLayer) ServeConn(_ *http.Server, c *tls.Conn, _ http.Handler) {
	state := c.ConnectionState()
	if len(state.PeerCertificates) == 0 || !l.trusted(sechannel.CertHash(state.PeerCertificates[0])) {
		return
	}
	// The HTTP server's deadlines are for requests; raft's connections live on.
	c.SetDeadline(time.Time{})
	conn := &notifyConn{Conn: c, closed: make(chan struct{})}
	select {
	case l.conns <- conn:
	case <-l.done:
		return
	}
	select {
	case <-conn.closed:
	case <-l.done:
	}
}

// notifyConn tells when raft closes it.
type notifyConn struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *notifyConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// Accept returns the next connection from another node.
func (l *StreamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting.
func (l *StreamLayer) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

// Addr is where the other nodes reach this one.
func (l *StreamLayer) Addr() net.Addr { return l.addr }

// Dial connects to the node at address, which must show a trusted certificate.
func (l *StreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	cert, err := l.cert()
	if err != nil {
		return nil, err
	}
	conf := PeerTLS(cert, l.trusted)
	conf.NextProtos = []string{ALPN}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", string(address), conf)
	if err != nil {
		return nil, fmt.Errorf("connect to cluster node %s: %w", address, err)
	}
	if c.ConnectionState().NegotiatedProtocol != ALPN {
		c.Close()
		return nil, fmt.Errorf("connect to cluster node %s: it does not speak %s", address, ALPN)
	}
	return c, nil
}
