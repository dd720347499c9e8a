package controller

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/sechannel"
)

// A client that sends a request head and then its body a byte at a time is disconnected once
// the read timeout has passed, on the UI/API port and on the SE channel alike.
func TestSlowBodyIsDisconnected(t *testing.T) {
	limits := defaultConnLimits
	limits.readHeader, limits.read = 3*time.Second, 3*time.Second
	_, cfg := startControllerWith(t, t.TempDir(), limits)
	for _, path := range []string{"/login", "/se/join"} {
		t.Run(path, func(t *testing.T) {
			conn, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.HTTPSPort)), &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			head := "POST " + path + " HTTP/1.1\r\nHost: avi\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
			if _, err := io.WriteString(conn, head); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			trickled := make(chan struct{})
			go func() {
				defer close(trickled)
				for range 40 {
					select {
					case <-stop:
						return
					case <-time.After(500 * time.Millisecond):
					}
					if _, err := io.WriteString(conn, " "); err != nil {
						return
					}
				}
			}()
			defer func() { close(stop); <-trickled }()

			start := time.Now()
			conn.SetReadDeadline(start.Add(20 * time.Second))
			_, err = io.Copy(io.Discard, conn)
			if elapsed := time.Since(start); err != nil || elapsed > 12*time.Second {
				t.Errorf("slow body still connected after %v (read: %v); want closed after the %v read timeout", elapsed.Round(time.Second), err, limits.read)
			}
		})
	}
}

// No address holds more than its cap of connections, counted over all the controller's ports;
// a connection closed makes room for another.
func TestConnectionCapPerAddress(t *testing.T) {
	limits := defaultConnLimits
	limits.perAddr = 3
	_, cfg := startControllerWith(t, t.TempDir(), limits)
	// From an address of its own: the start-up probe may still hold a connection from 127.0.0.1.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	dial := func(port int) net.Conn {
		t.Helper()
		c, err := d.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// open reports whether the controller keeps a silent connection open (its header timeout is
	// seconds away), or has closed it.
	open := func(c net.Conn) bool {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(time.Second))
		_, err := c.Read(make([]byte, 1))
		return errors.Is(err, os.ErrDeadlineExceeded)
	}
	// closed reports whether the controller closes a connection within half its header
	// timeout: at once when it is over the cap, however busy the machine.
	closed := func(c net.Conn) bool {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(limits.readHeader / 2))
		_, err := c.Read(make([]byte, 1))
		return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
	}
	held := []net.Conn{dial(cfg.HTTPSPort), dial(cfg.SysintPort), dial(cfg.HTTPPort)}
	for i, c := range held {
		if !open(c) {
			t.Fatalf("connection %d of %d closed", i+1, limits.perAddr)
		}
	}
	for _, port := range []int{cfg.HTTPSPort, cfg.HTTPPort} {
		if !closed(dial(port)) {
			t.Errorf("port %d: a connection over the cap of %d was kept open", port, limits.perAddr)
		}
	}
	held[0].Close()
	deadline := time.Now().Add(10 * time.Second)
	for !open(dial(cfg.HTTPSPort)) {
		if time.Now().After(deadline) {
			t.Fatal("closing a connection made no room for another within 10 s")
		}
	}
}

// An SE's snapshot stream outlives the read and write timeouts: an update made after both have
// passed still reaches it.
func TestSnapshotStreamOutlivesTimeouts(t *testing.T) {
	limits := defaultConnLimits
	limits.readHeader, limits.read, limits.write = 2*time.Second, 2*time.Second, 2*time.Second
	s, cfg := startControllerWith(t, t.TempDir(), limits)
	cred := sechannel.NewCredential()
	se := &avi.ServiceEngine{Meta: avi.Meta{Name: "se-stream"}, CredentialHash: sechannel.HashSecret(cred)}
	if err := s.store.Create(se); err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.SysintPort)), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "GET " + sechannel.SnapshotPath + " HTTP/1.1\r\nHost: avi\r\n" + sechannel.SEHeader + ": " + se.UUID + "\r\nAuthorization: Bearer " + cred + "\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	rd := bufio.NewReader(conn)
	status, err := rd.ReadString('\n')
	if err != nil || status != "HTTP/1.1 200 OK\r\n" {
		t.Fatalf("snapshot stream: %q %v", status, err)
	}
	// Past the head and the whole first snapshot (chunked, so read up to its JSON line).
	line := func() string {
		t.Helper()
		for {
			l, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("snapshot stream cut: %v", err)
			}
			if len(l) > 1 && l[0] == '{' {
				return l
			}
		}
	}
	line()
	time.Sleep(3 * limits.read / 2)
	if err := s.store.Create(&avi.ServiceEngine{Meta: avi.Meta{Name: "se-other"}}); err != nil {
		t.Fatal(err)
	}
	if l := line(); !strings.Contains(l, "version") {
		t.Errorf("update after the timeouts: %q", l)
	}
}
