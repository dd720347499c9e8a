// Package sshdtest holds what the SSH tests share, the unit tests' in-process server and the
// end-to-end tests' real sshd alike: keys, and a unix socket to forward to. Tests only: product
// code never imports it.
package sshdtest

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

// Key is a new ed25519 key, as a signer and in OpenSSH's PEM form (what a key file or the
// controller's store holds).
func Key(t testing.TB) (ssh.Signer, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, pem.EncodeToMemory(block)
}

// Signer is a new ed25519 key.
func Signer(t testing.TB) ssh.Signer {
	t.Helper()
	s, _ := Key(t)
	return s
}

// EchoSocket serves a line echo ("echo: <line>") on a unix socket in a new directory.
func EchoSocket(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "echo.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if _, err := io.WriteString(c, "echo: "+sc.Text()+"\n"); err != nil {
						return
					}
				}
			})
		}
	})
	return path
}

// RoundTrip sends a line on a stream to an EchoSocket and checks the echo.
func RoundTrip(t *testing.T, c net.Conn, line string) {
	t.Helper()
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != "echo: "+line+"\n" {
		t.Fatalf("echo of %q: %q, %v", line, got, err)
	}
}
