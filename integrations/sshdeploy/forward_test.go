package sshdeploy

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/avi-init/avi-init/integrations/sshdeploy/sshdtest"
)

// streamLocalChannel is OpenSSH's channel to a unix socket on the server.
const streamLocalChannel = "direct-streamlocal@openssh.com"

// serveStreamLocal connects a direct-streamlocal channel to the socket it names, as sshd does.
func serveStreamLocal(nch ssh.NewChannel) {
	var req struct {
		SocketPath string
		Reserved0  string
		Reserved1  uint32
	}
	if err := ssh.Unmarshal(nch.ExtraData(), &req); err != nil {
		nch.Reject(ssh.ConnectionFailed, "bad direct-streamlocal request")
		return
	}
	uc, err := net.Dial("unix", req.SocketPath)
	if err != nil {
		nch.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		uc.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	pipe(ch, uc)
}

// pipe copies both ways until either side ends, then closes both.
func pipe(a, b io.ReadWriteCloser) {
	var wg sync.WaitGroup
	for _, p := range [][2]io.ReadWriteCloser{{a, b}, {b, a}} {
		wg.Go(func() {
			io.Copy(p[0], p[1])
			p[0].Close()
			p[1].Close()
		})
	}
	wg.Wait()
}

func TestDialUnix(t *testing.T) {
	f := newFixture(t, sshdtest.Signer(t))
	c, err := f.dial(t)
	if err != nil {
		t.Fatal(err)
	}
	sock := sshdtest.EchoSocket(t)
	ctx := context.Background()

	// Several streams at once over the one connection, as an HTTP client pools them.
	var streams []net.Conn
	for range 3 {
		s, err := c.DialUnix(ctx, sock)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		streams = append(streams, s)
	}
	for i, s := range streams {
		sshdtest.RoundTrip(t, s, strings.Repeat("x", i+1))
	}

	if _, err := c.DialUnix(ctx, filepath.Join(t.TempDir(), "missing.sock")); err == nil || !strings.Contains(err.Error(), "missing.sock") {
		t.Errorf("a missing socket: %v", err)
	}
	if _, err := c.DialUnix(ctx, "docker.sock"); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("a relative path: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.DialUnix(canceled, sock); !errors.Is(err, context.Canceled) {
		t.Errorf("a canceled context: %v", err)
	}
	// The connection still serves after the failures.
	s, err := c.DialUnix(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sshdtest.RoundTrip(t, s, "still")
}

// frozenProxy forwards TCP to target until freeze is called; from then on it passes nothing,
// as a host that vanished (powered off, cable cut) answers nothing and closes nothing.
func frozenProxy(t *testing.T, target int) (port int, freeze func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var frozen atomic.Bool
	done := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() {
		close(done)
		l.Close()
		wg.Wait()
	})
	pass := func(dst, src net.Conn) {
		defer dst.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			for frozen.Load() {
				select {
				case <-done:
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
			if n > 0 {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	wg.Go(func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(target)))
			if err != nil {
				in.Close()
				continue
			}
			wg.Go(func() { pass(out, in) })
			wg.Go(func() { pass(in, out) })
			wg.Go(func() {
				<-done
				in.Close()
				out.Close()
			})
		}
	})
	return l.Addr().(*net.TCPAddr).Port, func() { frozen.Store(true) }
}

func TestKeepAliveClosesAConnectionToAVanishedHost(t *testing.T) {
	f := newFixture(t, sshdtest.Signer(t))
	// Made before the proxy, so that cleaning up the proxy first ends the server's side of the
	// stream, which the echo server's cleanup waits for.
	sock := sshdtest.EchoSocket(t)
	port, freeze := frozenProxy(t, f.srv.port)
	c, err := f.d.Dial(context.Background(), "127.0.0.1", port, "avi", f.client)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.DialUnix(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	const interval = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ended := make(chan error, 1)
	go func() { ended <- c.KeepAlive(ctx, interval) }()
	// A host that answers keeps its connection through several rounds.
	time.Sleep(4 * interval)
	sshdtest.RoundTrip(t, s, "alive")
	select {
	case err := <-ended:
		t.Fatalf("KeepAlive ended on a host that answers: %v", err)
	default:
	}

	// The host vanishes: a reader blocked on a stream ends, within about two intervals.
	freeze()
	start := time.Now()
	readErr := make(chan error, 1)
	go func() {
		_, err := s.Read(make([]byte, 1))
		readErr <- err
	}()
	select {
	case err := <-ended:
		if err == nil || !strings.Contains(err.Error(), "did not answer") {
			t.Errorf("KeepAlive: %v, want it to say the host did not answer", err)
		}
	case <-time.After(20 * interval):
		t.Fatal("KeepAlive did not notice the host vanished")
	}
	select {
	case err := <-readErr:
		if err == nil {
			t.Errorf("a read on the dead connection returned no error")
		}
	case <-time.After(20 * interval):
		t.Fatal("a read blocked on the vanished host's stream was not ended")
	}
	if d := time.Since(start); d > 5*interval {
		t.Errorf("noticed after %v, want within about two intervals of %v", d, interval)
	}

	// Ending ctx ends KeepAlive with no error.
	c2, err := f.dial(t)
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { time.Sleep(3 * interval); cancel2() }()
	if err := c2.KeepAlive(ctx2, interval); err != nil {
		t.Errorf("KeepAlive after ctx ended: %v", err)
	}
}
