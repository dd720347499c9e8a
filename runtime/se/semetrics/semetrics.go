// Package semetrics is the service engine's Prometheus /metrics: cumulative counters per
// virtual service and the health of each pool member, built from the same interval reports the
// SE sends its controller, so the two never disagree. Values move at each report (the heartbeat
// interval), and keep moving while the controller is away.
package semetrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/avi-init/avi-init/model/sechannel"
)

// Exporter accumulates interval reports into totals.
type Exporter struct {
	mu      sync.Mutex
	version int64
	names   map[string]string // virtual service uuid -> name, from the running configuration
	applied map[string]bool   // virtual service uuid -> whether the SE could apply it
	vs      map[string]*totals
	members map[memberKey]bool // up
}

type totals struct {
	requests, failed, conns, bytesIn, bytesOut int64
	open                                       int64
	status                                     [5]int64 // 1xx..5xx
	p50, p90, p99                              float64  // of the last interval
}

type memberKey struct{ vs, server string }

// New makes an exporter with nothing observed yet.
func New() *Exporter {
	return &Exporter{names: map[string]string{}, applied: map[string]bool{}, vs: map[string]*totals{}, members: map[memberKey]bool{}}
}

// Configured tells the exporter the running configuration: names for labels, which virtual
// services still exist (the others' series go away), and which of them the SE could not apply.
func (e *Exporter) Configured(snap sechannel.Snapshot, notApplied []sechannel.ServiceError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.version = snap.Version
	e.names, e.applied = map[string]string{}, map[string]bool{}
	for _, vs := range snap.VirtualServices {
		if vs.Enabled {
			e.names[vs.UUID] = vs.Name
			e.applied[vs.UUID] = true
		}
	}
	for _, ne := range notApplied {
		e.applied[ne.VSUUID] = false
	}
	for uuid := range e.vs {
		if _, ok := e.names[uuid]; !ok {
			delete(e.vs, uuid)
		}
	}
	for k := range e.members {
		if _, ok := e.names[k.vs]; !ok {
			delete(e.members, k)
		}
	}
}

// Observe adds one interval's report.
func (e *Exporter) Observe(ms []sechannel.Metrics) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range ms {
		if _, ok := e.names[m.VSUUID]; !ok {
			continue
		}
		if m.Server != "" {
			if m.Up != nil {
				e.members[memberKey{m.VSUUID, m.Server}] = *m.Up
			}
			continue
		}
		t := e.vs[m.VSUUID]
		if t == nil {
			t = &totals{}
			e.vs[m.VSUUID] = t
		}
		t.requests += m.Requests
		t.failed += m.Failed
		t.conns += m.NewConns
		t.bytesIn += m.BytesIn
		t.bytesOut += m.BytesOut
		t.open = m.OpenConns
		for i, n := range []int64{m.Resp1xx, m.Resp2xx, m.Resp3xx, m.Resp4xx, m.Resp5xx} {
			t.status[i] += n
		}
		if m.Requests > 0 {
			t.p50, t.p90, t.p99 = m.LatencyP50, m.LatencyP90, m.LatencyP99
		}
	}
}

var (
	vsLabels     = []string{"virtualservice", "uuid"}
	descVersion  = prometheus.NewDesc("avi_se_config_version", "Configuration version the SE runs.", nil, nil)
	descRequests = prometheus.NewDesc("avi_se_virtualservice_requests_total", "HTTP requests served (L7).", vsLabels, nil)
	descStatus   = prometheus.NewDesc("avi_se_virtualservice_responses_total", "HTTP responses by status class.", append(vsLabels, "class"), nil)
	descFailed   = prometheus.NewDesc("avi_se_virtualservice_failed_total", "Connections or requests that got no response.", vsLabels, nil)
	descConns    = prometheus.NewDesc("avi_se_virtualservice_connections_total", "Client connections accepted (L4).", vsLabels, nil)
	descOpen     = prometheus.NewDesc("avi_se_virtualservice_open_connections", "Client connections open (L4).", vsLabels, nil)
	descBytes    = prometheus.NewDesc("avi_se_virtualservice_bytes_total", "Bytes from clients (in) and to clients (out).", append(vsLabels, "direction"), nil)
	descLatency  = prometheus.NewDesc("avi_se_virtualservice_latency_milliseconds", "Request latency quantiles over the last report interval.", append(vsLabels, "quantile"), nil)
	descApplied  = prometheus.NewDesc("avi_se_virtualservice_applied", "Whether the SE applied the virtual service (1) or could not (0; the heartbeat says why).", vsLabels, nil)
	descMember   = prometheus.NewDesc("avi_se_pool_member_up", "Whether a pool member takes traffic (1) or is down (0).", append(vsLabels, "server"), nil)
	classes      = []string{"1xx", "2xx", "3xx", "4xx", "5xx"}
)

// Describe implements prometheus.Collector.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descVersion, descRequests, descStatus, descFailed, descConns, descOpen, descBytes, descLatency, descApplied, descMember} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(descVersion, prometheus.GaugeValue, float64(e.version))
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for uuid, t := range e.vs {
		name := e.names[uuid]
		counter(descRequests, t.requests, name, uuid)
		counter(descFailed, t.failed, name, uuid)
		counter(descConns, t.conns, name, uuid)
		counter(descBytes, t.bytesIn, name, uuid, "in")
		counter(descBytes, t.bytesOut, name, uuid, "out")
		for i, c := range classes {
			counter(descStatus, t.status[i], name, uuid, c)
		}
		ch <- prometheus.MustNewConstMetric(descOpen, prometheus.GaugeValue, float64(t.open), name, uuid)
		for _, q := range []struct {
			q string
			v float64
		}{{"0.5", t.p50}, {"0.9", t.p90}, {"0.99", t.p99}} {
			ch <- prometheus.MustNewConstMetric(descLatency, prometheus.GaugeValue, q.v, name, uuid, q.q)
		}
	}
	for uuid, ok := range e.applied {
		ch <- prometheus.MustNewConstMetric(descApplied, prometheus.GaugeValue, gauge(ok), e.names[uuid], uuid)
	}
	for k, isUp := range e.members {
		ch <- prometheus.MustNewConstMetric(descMember, prometheus.GaugeValue, gauge(isUp), e.names[k.vs], k.vs, k.server)
	}
}

// gauge is a yes/no as a gauge's 1/0.
func gauge(yes bool) float64 {
	if yes {
		return 1
	}
	return 0
}

// Handler serves the exposition format.
func (e *Exporter) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(e)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// WrapApply follows the configurations apply runs and the virtual services it leaves out.
func (e *Exporter) WrapApply(apply func(sechannel.Snapshot) []sechannel.ServiceError) func(sechannel.Snapshot) []sechannel.ServiceError {
	return func(snap sechannel.Snapshot) []sechannel.ServiceError {
		notApplied := apply(snap)
		e.Configured(snap, notApplied)
		return notApplied
	}
}

// WrapReport observes every report on its way to the controller.
func (e *Exporter) WrapReport(report func() ([]sechannel.Metrics, []sechannel.ClientLog)) func() ([]sechannel.Metrics, []sechannel.ClientLog) {
	return func() ([]sechannel.Metrics, []sechannel.ClientLog) {
		ms, logs := report()
		e.Observe(ms)
		return ms, logs
	}
}

// Serve answers GET /metrics on addr until ctx ends. The SE uses the host network, so the
// default address is the host's loopback: the counters carry no secrets, but exposing them
// beyond the host is the operator's choice.
func (e *Exporter) Serve(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("SE metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", e.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	defer context.AfterFunc(ctx, func() { srv.Close() })()
	err = srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("SE metrics: %w", err)
}
