package controller

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"
)

// The generated certificate is a server certificate: not a CA, and usable only to serve TLS.
func TestCertificateIsNotACA(t *testing.T) {
	cert, err := loadOrCreateCert(t.TempDir(), []net.IP{net.ParseIP("192.0.2.10")}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if leaf.IsCA || !leaf.BasicConstraintsValid {
		t.Errorf("IsCA %v (basic constraints %v); want a certificate that says it is no CA", leaf.IsCA, leaf.BasicConstraintsValid)
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("key usage %b; want digital signature only", leaf.KeyUsage)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("extended key usage %v; want server auth only", leaf.ExtKeyUsage)
	}
}

// Every TLS port refuses a TLS 1.2 client that offers only CBC-SHA suites, and serves one that
// offers an AEAD suite.
func TestTLSOffersAEADOnly(t *testing.T) {
	cfg := startController(t, t.TempDir())
	for _, c := range []struct {
		name   string
		suites []uint16
		ok     bool
	}{
		{"RSA AES-128-CBC-SHA", []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}, false},
		{"RSA AES-256-CBC-SHA", []uint16{tls.TLS_RSA_WITH_AES_256_CBC_SHA}, false},
		{"ECDHE AES-128-CBC-SHA", []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}, false},
		{"ECDHE AES-256-CBC-SHA", []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA}, false},
		{"ECDHE AES-128-GCM", []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, true},
		{"ECDHE ChaCha20-Poly1305", []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}, true},
	} {
		for _, port := range []int{cfg.HTTPSPort, cfg.SysintPort} {
			conn, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), &tls.Config{
				InsecureSkipVerify: true, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, CipherSuites: c.suites,
			})
			if err == nil {
				conn.Close()
			}
			if (err == nil) != c.ok {
				t.Errorf("port %d, TLS 1.2 offering only %s: handshake error %v; want success %v", port, c.name, err, c.ok)
			}
		}
	}
}
