package dataplane

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/avi-init/avi-init/internal/testnet"
	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/sechannel"
)

// reset ends a member's side of a connection with a reset (SO_LINGER 0), as the kernel does for
// connections of a listener that closes or of a process that exits with bytes unread.
func reset(c net.Conn) {
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
}

// countingMember is a member that counts the connections it accepts.
func countingMember(t *testing.T, handle func(c net.Conn)) (sechannel.Server, *atomic.Int64) {
	var n atomic.Int64
	return tcpServer(t, func(c net.Conn) {
		n.Add(1)
		handle(c)
	}), &n
}

// answerLine reads a line and answers "ok", then ends the connection.
func answerLine(c net.Conn) {
	if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
		io.WriteString(c, "ok\n")
	}
}

// stayUp keeps a pool's members up whatever fails, so that every connection of a test meets
// the failing member as often as the policy picks it, not once.
func stayUp(d *Dataplane, pool string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, u := range d.pools[pool].members() {
		u.Health().SetThresholds(1, 1<<30)
	}
}

// TestL4MovesToAnotherMemberBeforeTheFirstByte runs many connections through a pool of a
// failing member and a healthy one. A member that fails before it answered (refuses, resets,
// closes) costs no connection: the client's bytes go to the other member. One that answered, or
// was sent more than the proxy keeps, is not tried again: the client sees its failure, and no
// connection reaches two members.
func TestL4MovesToAnotherMemberBeforeTheFirstByte(t *testing.T) {
	const conns = 200
	line := "ping\n"
	long := strings.Repeat("x", 2*maxReplay) + "\n"
	for _, tc := range []struct {
		name    string
		member  func(c net.Conn)
		refused bool
		request string
		retried bool
	}{
		{name: "refused", refused: true, request: line, retried: true},
		{name: "reset on accept", member: reset, request: line, retried: true},
		{name: "closed on accept", member: func(c net.Conn) {}, request: line, retried: true},
		{name: "reset after reading the request", member: func(c net.Conn) {
			bufio.NewReader(c).ReadString('\n')
			reset(c)
		}, request: line, retried: true},
		{name: "reset after answering", member: func(c net.Conn) {
			io.WriteString(c, "hello\n")
			time.Sleep(10 * time.Millisecond)
			reset(c)
		}, request: line},
		{name: "reset after more than the proxy keeps", member: func(c net.Conn) {
			bufio.NewReaderSize(c, len(long)).ReadString('\n')
			reset(c)
		}, request: long},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good, goodConns := countingMember(t, answerLine)
			bad := sechannel.Server{IP: "127.0.0.1", Port: testnet.FreePort(t), Enabled: true, Ratio: 1}
			badConns := new(atomic.Int64)
			if !tc.refused {
				bad, badConns = countingMember(t, tc.member)
			}
			d := newDP(t)
			port := testnet.FreePort(t)
			if err := d.Apply(sechannel.Snapshot{Version: 1, VirtualServices: []sechannel.VirtualService{vs("tcp", port, avi.ProfileL4, "p", bad, good)}}); err != nil {
				t.Fatal(err)
			}
			stayUp(d, "p")
			answers := map[string]int{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					for range conns / 4 {
						got, err := exchange(fmt.Sprintf("127.0.0.1:%d", port), tc.request)
						mu.Lock()
						switch {
						case err != nil:
							answers["error: "+err.Error()]++
						default:
							answers[got]++
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			t.Logf("answers %v; member connections: failing %d, healthy %d", answers, badConns.Load(), goodConns.Load())
			if tc.retried {
				if answers["ok\n"] != conns {
					t.Fatalf("%d of %d connections answered by the healthy member, want all: %v", answers["ok\n"], conns, answers)
				}
				if !tc.refused && badConns.Load() < conns/4 {
					t.Errorf("the failing member saw %d connections: the policy should have picked it about %d times", badConns.Load(), conns/2)
				}
				// What the SE reports of each member: the healthy one answered every
				// connection; the failing one answered none and failed those it accepted
				// (its connections include the probes that bring it back after a failure).
				metrics, _ := d.Report()
				counts := memberCounts(metrics)
				if got := counts[good.IP+":"+strconv.Itoa(good.Port)]; got != [4]int64{conns, 0, 0, 0} {
					t.Errorf("healthy member (answered, 4xx, 5xx, failed): %v; want [%d 0 0 0]", got, conns)
				}
				got := counts[bad.IP+":"+strconv.Itoa(bad.Port)]
				if failed := got[3]; got[0] != 0 || (!tc.refused && (failed < conns/4 || failed > badConns.Load())) || (tc.refused && failed != 0) {
					t.Errorf("failing member (answered, 4xx, 5xx, failed): %v; want none answered and each connection it accepted (%d with probes) failed", got, badConns.Load())
				}
				return
			}
			if n := goodConns.Load() + badConns.Load(); n != conns {
				t.Errorf("the members saw %d connections for %d: a connection was tried again after its member answered or the proxy let its bytes go", n, conns)
			}
			if answers["ok\n"] != int(goodConns.Load()) || badConns.Load() == 0 {
				t.Errorf("answers %v: want \"ok\" from each of the healthy member's %d connections and the failure of the other %d", answers, goodConns.Load(), badConns.Load())
			}
		})
	}
}

// exchange sends a request over a new connection and reads the answer to its end.
func exchange(addr, request string) (string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		return "", err
	}
	var got bytes.Buffer
	_, err = io.Copy(&got, c)
	return got.String(), err
}

// TestPassiveFailureTakesAMemberOutForAWhile: in a pool without monitors, a member that refused
// a connection is marked down, and up again once it accepts connections again (while down, the
// only member is still tried: see lb.Fallback).
func TestPassiveFailureTakesAMemberOutForAWhile(t *testing.T) {
	port := testnet.FreePort(t)
	member := sechannel.Server{IP: "127.0.0.1", Port: port, Enabled: true, Ratio: 1}
	d := newDP(t)
	vsPort := testnet.FreePort(t)
	if err := d.Apply(sechannel.Snapshot{Version: 1, VirtualServices: []sechannel.VirtualService{vs("tcp", vsPort, avi.ProfileL4, "p", member)}}); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", vsPort)
	if got, _ := exchange(addr, "ping\n"); got != "" {
		t.Fatalf("answer %q with the only member refusing", got)
	}
	d.mu.Lock()
	u := d.pools["p"].members()[0]
	d.mu.Unlock()
	if u.Health().Up() {
		t.Fatal("the member that refused is still up")
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	serve(t, l, answerLine)
	start := time.Now()
	for deadline := start.Add(10 * reviveInterval); ; time.Sleep(100 * time.Millisecond) {
		if got, _ := exchange(addr, "ping\n"); got == "ok\n" && u.Health().Up() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the member accepts again, and is still out after %v", time.Since(start))
		}
	}
	t.Logf("the member is up and serves again %v after it listens", time.Since(start).Round(10*time.Millisecond))
}
