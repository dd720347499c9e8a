package dataplane

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/avi-init/avi-init/model/sechannel"
)

// latencyBounds are the upper bounds (ms) of the latency histogram's buckets; the last bucket
// holds everything slower.
var latencyBounds = [...]float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000}

// maxPendingLogs bounds the client logs an SE holds between two heartbeats.
const maxPendingLogs = 1000

// sampleEvery is how many ordinary requests pass between two sampled client logs when full
// client logs are off (errors are always logged).
const sampleEvery = 100

// vsStats are one virtual service's counters since the last report. The hot path only adds to
// atomics; Report swaps them out.
type vsStats struct {
	uuid     string
	fullLogs atomic.Bool

	requests, failed, newConns, open, bytesIn, bytesOut atomic.Int64
	status                                              [6]atomic.Int64 // by class: 1xx..5xx at 1..5
	latency                                             [len(latencyBounds) + 1]atomic.Int64

	sample atomic.Int64
	logMu  sync.Mutex
	logs   []sechannel.ClientLog
}

func (s *vsStats) observe(d time.Duration) {
	ms := float64(d) / float64(time.Millisecond)
	i := 0
	for i < len(latencyBounds) && ms > latencyBounds[i] {
		i++
	}
	s.latency[i].Add(1)
}

// wantLog reports whether a request's client log is kept: every one with full client logs,
// otherwise errors and a sample. Asked first, so that logs not kept cost nothing to build.
func (s *vsStats) wantLog(significant bool) bool {
	return s.fullLogs.Load() || significant || s.sample.Add(1)%sampleEvery == 1
}

// log keeps a client log.
func (s *vsStats) log(l sechannel.ClientLog) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if len(s.logs) < maxPendingLogs {
		s.logs = append(s.logs, l)
	}
}

// percentile reads a percentile (0-1) off histogram counts.
func percentile(counts []int64, total int64, q float64) float64 {
	if total == 0 {
		return 0
	}
	rank := int64(float64(total)*q + 0.5)
	var seen int64
	for i, c := range counts {
		seen += c
		if seen >= rank {
			if i < len(latencyBounds) {
				return latencyBounds[i]
			}
			return latencyBounds[len(latencyBounds)-1] * 2
		}
	}
	return latencyBounds[len(latencyBounds)-1] * 2
}

// stats returns the counters of a virtual service, kept across configurations.
func (d *Dataplane) statsFor(uuid string) *vsStats {
	d.statsMu.Lock()
	defer d.statsMu.Unlock()
	s, ok := d.stats[uuid]
	if !ok {
		s = &vsStats{uuid: uuid}
		d.stats[uuid] = s
	}
	return s
}

// Report returns, and resets, every virtual service's counters and pending client logs, and the
// health of every pool member: what the SE's heartbeat carries to the controller.
func (d *Dataplane) Report() ([]sechannel.Metrics, []sechannel.ClientLog) {
	now := time.Now()
	d.statsMu.Lock()
	secs := now.Sub(d.lastReport).Seconds()
	d.lastReport = now
	all := make([]*vsStats, 0, len(d.stats))
	for _, s := range d.stats {
		all = append(all, s)
	}
	d.statsMu.Unlock()

	var metrics []sechannel.Metrics
	var logs []sechannel.ClientLog
	for _, s := range all {
		m := sechannel.Metrics{VSUUID: s.uuid, Seconds: secs,
			Requests: s.requests.Swap(0), Failed: s.failed.Swap(0), NewConns: s.newConns.Swap(0), OpenConns: s.open.Load(),
			BytesIn: s.bytesIn.Swap(0), BytesOut: s.bytesOut.Swap(0),
			Resp1xx: s.status[1].Swap(0), Resp2xx: s.status[2].Swap(0), Resp3xx: s.status[3].Swap(0),
			Resp4xx: s.status[4].Swap(0), Resp5xx: s.status[5].Swap(0)}
		var counts [len(latencyBounds) + 1]int64
		var total int64
		for i := range s.latency {
			counts[i] = s.latency[i].Swap(0)
			total += counts[i]
		}
		m.LatencyP50, m.LatencyP90, m.LatencyP99 = percentile(counts[:], total, 0.5), percentile(counts[:], total, 0.9), percentile(counts[:], total, 0.99)
		metrics = append(metrics, m)
		s.logMu.Lock()
		logs = append(logs, s.logs...)
		s.logs = nil
		s.logMu.Unlock()
	}
	d.mu.Lock()
	for _, p := range d.pools {
		for _, u := range p.members() {
			up, reason, open, n := u.Available(), u.Health().Reason(), u.Conns(), u.TakeCounts()
			for i, vs := range p.vsUUIDs {
				m := sechannel.Metrics{VSUUID: vs, PoolUUID: p.uuid, Server: u.Addr, Seconds: secs, Up: &up, Reason: reason, OpenConns: open}
				// The member's outcomes go with the first service only: the controller adds
				// every report of a member up, and a pool two services share has one count.
				if i == 0 {
					m.Requests, m.Resp4xx, m.Resp5xx, m.Failed = n.Requests, n.Resp4xx, n.Resp5xx, n.Failed
				}
				metrics = append(metrics, m)
			}
		}
	}
	d.mu.Unlock()
	return metrics, logs
}

// clientLog describes one request for the controller's client logs. Built only for the logs
// kept, it may allocate.
func clientLog(vs string, clientIP []byte, clientPort int, method, target []byte, status int, server string, took time.Duration, reqBytes, respBytes int64) sechannel.ClientLog {
	path, _, _ := strings.Cut(string(target), "?")
	if p, err := url.PathUnescape(path); err == nil {
		path = p
	}
	l := sechannel.ClientLog{VSUUID: vs, Timestamp: time.Now().UTC().Format(time.RFC3339Nano), ClientIP: string(clientIP), ClientPort: clientPort,
		Method: string(method), URIPath: path, ResponseCode: status, TotalTime: float64(took) / float64(time.Millisecond),
		RequestLength: reqBytes, ResponseLength: respBytes, Significant: status >= 400 || status == 0}
	if host, port, err := net.SplitHostPort(server); err == nil {
		l.ServerIP = host
		l.ServerPort, _ = strconv.Atoi(port)
	}
	return l
}
