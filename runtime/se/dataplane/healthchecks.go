package dataplane

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/se/lb"
)

// monitors run a pool's active health monitors against every member, each send_interval, and
// move the members' health: a member is up while all its pool's monitors pass. A pool without
// monitors has its members brought back from passive failures instead (see revive). They stop
// when the pool is replaced or the data plane closes.
type monitors struct {
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// reviveInterval is how often a pool without monitors tries the members that passive failures
// (refused or reset connections) took down.
const reviveInterval = 2 * time.Second

// reviveCheck is revive's check: the member accepts a connection.
var reviveCheck = avi.HealthMonitor{Meta: avi.Meta{Name: "passive"}, Type: avi.HealthMonitorTCP, ReceiveTimeout: 1}

func startMonitors(p *pool) *monitors {
	hms := p.hms
	ctx, cancel := context.WithCancel(context.Background())
	m := &monitors{cancel: cancel}
	if len(hms) == 0 {
		m.done.Go(func() { revive(ctx, p.members()) })
		return m
	}
	interval := time.Duration(hms[0].SendInterval) * time.Second
	for _, hm := range hms[1:] {
		interval = min(interval, time.Duration(hm.SendInterval)*time.Second)
	}
	interval = max(interval, 100*time.Millisecond)
	for _, u := range p.members() {
		u.Health().SetThresholds(hms[0].SuccessfulChecks, hms[0].FailedChecks)
		m.done.Add(1)
		go func() {
			defer m.done.Done()
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				checkMember(ctx, u, hms)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	return m
}

// revive brings back the members of a pool without monitors that passive failures took down, as
// soon as they accept connections again: nothing else would, and a member that failed once must
// not stay out for good (Avi's passive monitor never takes a member out by itself).
func revive(ctx context.Context, ups []*lb.Upstream) {
	t := time.NewTicker(reviveInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, u := range ups {
			if !u.Health().Up() && probe(ctx, u.Addr, reviveCheck) == nil {
				u.Health().Success()
			}
		}
	}
}

func (m *monitors) stop() {
	m.cancel()
	m.done.Wait()
}

// checkMember runs every monitor once and records the outcome.
func checkMember(ctx context.Context, u *lb.Upstream, hms []avi.HealthMonitor) {
	for _, hm := range hms {
		if err := probe(ctx, u.Addr, hm); err != nil {
			if ctx.Err() == nil {
				u.Health().Failure(hm.Name + ": " + err.Error())
			}
			return
		}
	}
	u.Health().Success()
}

// probe is one check of one member.
func probe(ctx context.Context, addr string, hm avi.HealthMonitor) error {
	timeout := time.Duration(max(hm.ReceiveTimeout, 1)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	switch hm.Type {
	case avi.HealthMonitorHTTP:
		return probeHTTP(c, addr, hm.HTTPMonitor)
	case avi.HealthMonitorTCP:
		if t := hm.TCPMonitor; t != nil && t.TCPRequest != "" {
			if _, err := io.WriteString(c, t.TCPRequest); err != nil {
				return err
			}
			if t.TCPResponse != "" {
				buf := make([]byte, 4096)
				n, err := c.Read(buf)
				if !strings.Contains(string(buf[:n]), t.TCPResponse) {
					return fmt.Errorf("response lacks %q (%v)", t.TCPResponse, err)
				}
			}
		}
	}
	return nil
}

// probeHTTP sends the monitor's request line and checks the status class of the answer.
func probeHTTP(c net.Conn, addr string, m *avi.HTTPMonitor) error {
	reqLine, codes := "HEAD / HTTP/1.0", []string{"HTTP_2XX", "HTTP_3XX"}
	if m != nil {
		if m.HTTPRequest != "" {
			reqLine = m.HTTPRequest
		}
		if len(m.HTTPResponseCode) > 0 {
			codes = m.HTTPResponseCode
		}
	}
	host, _, _ := net.SplitHostPort(addr)
	if _, err := fmt.Fprintf(c, "%s\r\nHost: %s\r\nUser-Agent: avi-init-monitor\r\nConnection: close\r\n\r\n", reqLine, host); err != nil {
		return err
	}
	status, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no status line: %w", err)
	}
	f := strings.Fields(status)
	if len(f) < 2 {
		return fmt.Errorf("malformed status line %q", strings.TrimSpace(status))
	}
	code, err := strconv.Atoi(f[1])
	if err != nil {
		return fmt.Errorf("malformed status line %q", strings.TrimSpace(status))
	}
	class := fmt.Sprintf("HTTP_%dXX", code/100)
	for _, want := range codes {
		if want == "HTTP_ANY" || want == class {
			return nil
		}
	}
	return fmt.Errorf("answered %d, want %s", code, strings.Join(codes, " or "))
}
