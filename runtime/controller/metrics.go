package controller

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/analytics"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// metricsSeries is GET /api/analytics/metrics/{virtualservice|pool}/{uuid}?metric_id=a,b&step=5&limit=N.
func (s *Server) metricsSeries(w http.ResponseWriter, r *http.Request, p *principal) {
	kind, uuid := avi.Kind(r.PathValue("kind")), r.PathValue("uuid")
	if kind != avi.KindVirtualService && kind != avi.KindPool {
		writeError(w, http.StatusNotFound, fmt.Sprintf("analytics are kept for %s and %s", avi.KindVirtualService, avi.KindPool))
		return
	}
	k, _ := kind.Info()
	if _, err := s.lookup(p, k, uuid); err != nil {
		storeError(w, err)
		return
	}
	q := r.URL.Query()
	ids := analytics.MetricIDs()
	if m := q.Get("metric_id"); m != "" {
		ids = strings.Split(m, ",")
	}
	step := analytics.CoarseStep
	switch q.Get("step") {
	case "", "300":
	case "5":
		step = analytics.RealtimeStep
	default:
		writeError(w, http.StatusBadRequest, "step: want 5 (realtime) or 300")
		return
	}
	limit := 72
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > analytics.RealtimeBuckets {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit: want 1 to %d", analytics.RealtimeBuckets))
			return
		}
		limit = n
	}
	series, err := s.analytics.Query(uuid, ids, step, limit)
	var unknown *analytics.UnknownMetricError
	if errors.As(err, &unknown) {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	bodies, nodes := s.fromPeers(r, p)
	series = mergeSeries(series, bodies)
	for i := range series {
		series[i].Data = series[i].Data[max(0, len(series[i].Data)-limit):]
	}
	writeJSON(w, http.StatusOK, map[string]any{"series": series, "cluster_nodes": nodes})
}

// clientLogs is GET /api/analytics/logs/virtualservice/{uuid}?page_size=N.
func (s *Server) clientLogs(w http.ResponseWriter, r *http.Request, p *principal) {
	uuid := r.PathValue("uuid")
	k, _ := avi.KindVirtualService.Info()
	if _, err := s.lookup(p, k, uuid); err != nil {
		storeError(w, err)
		return
	}
	n := 50
	if p := r.URL.Query().Get("page_size"); p != "" {
		v, err := strconv.Atoi(p)
		if err != nil || v < 1 || v > 1000 {
			writeError(w, http.StatusBadRequest, "page_size: want 1 to 1000")
			return
		}
		n = v
	}
	bodies, nodes := s.fromPeers(r, p)
	logs := mergeLogs(s.analytics.Logs(uuid, n), bodies, n)
	writeJSON(w, http.StatusOK, map[string]any{"count": len(logs), "results": logs, "cluster_nodes": nodes})
}

// vsSummary is one row of the dashboard.
type vsSummary struct {
	UUID              string                `json:"uuid"`
	Name              string                `json:"name"`
	HealthScore       *float64              `json:"health_score"` // null while disabled
	HealthReasons     []string              `json:"health_score_reasons,omitempty"`
	OperStatus        avi.OperationalStatus `json:"oper_status"`
	NotApplied        []seApply             `json:"not_applied,omitempty"` // the SEs it is placed on that do not serve it, and why
	RequestsPerSecond float64               `json:"requests_per_second"`
	P99LatencyMS      float64               `json:"p99_latency_ms"`
	ErrorRate         float64               `json:"error_rate"`
	Services          []avi.Service         `json:"services"`
	VIP               *avi.IPAddr           `json:"ip_address,omitempty"`
	Enabled           bool                  `json:"enabled"`
}

// seStates counts the service engines by operational state (OPER_UP, OPER_DOWN).
func (s *Server) seStates() map[string]int {
	states := map[string]int{avi.OperUp: 0, avi.OperDown: 0}
	for _, se := range store.List[*avi.ServiceEngine](s.store) {
		s.se.overlay(se)
		states[se.OperStatus.State]++
	}
	return states
}

// summaries are the dashboard's rows of the virtual services keep accepts (nil: all), each with
// its runtime state and health as GET /api/virtualservice/{uuid}/runtime computes them.
func (s *Server) summaries(keep func(*avi.VirtualService) bool) []vsSummary {
	rv := s.runtimeView()
	out := []vsSummary{}
	vss := store.List[*avi.VirtualService](s.store)
	exists := make(map[string]bool, len(vss))
	for _, vs := range vss {
		exists[vs.UUID] = true
		if keep != nil && !keep(vs) {
			continue
		}
		rt := s.vsRuntime(rv, vs)
		sum := vsSummary{UUID: vs.UUID, Name: vs.Name, Services: vs.Services, VIP: vs.IPAddress, Enabled: vs.IsEnabled(),
			OperStatus: rt.OperStatus, HealthReasons: rt.HealthReasons}
		if vs.IsEnabled() {
			sum.HealthScore = &rt.HealthScore
		}
		for _, a := range rt.VIPSummary[0].ServiceEngine {
			if !a.Applied {
				sum.NotApplied = append(sum.NotApplied, a)
			}
		}
		sum.RequestsPerSecond, _ = s.analytics.Latest(vs.UUID, "l7_client.avg_complete_responses")
		sum.P99LatencyMS, _ = s.analytics.Latest(vs.UUID, "l7_client.pct_latency_p99")
		sum.ErrorRate, _ = s.analytics.Latest(vs.UUID, "l7_client.avg_error_responses")
		out = append(out, sum)
	}
	s.se.forgetMarks(exists)
	return out
}

// inventory is GET /api/virtualservice-inventory: the dashboard's table.
func (s *Server) inventory(w http.ResponseWriter, r *http.Request, p *principal) {
	k, _ := avi.KindVirtualService.Info()
	rows := s.summaries(func(vs *avi.VirtualService) bool { return p.visible(k, vs) })
	writeJSON(w, http.StatusOK, map[string]any{"count": len(rows), "results": rows})
}

// collector exposes the controller's state to Prometheus at scrape time.
type collector struct{ s *Server }

var (
	descVersion = prometheus.NewDesc("avi_config_version", "Configuration version: grows with every committed change.", nil, nil)
	descObjects = prometheus.NewDesc("avi_objects", "Configuration objects by kind.", []string{"kind"}, nil)
	descSEs     = prometheus.NewDesc("avi_service_engines", "Service engines by operational state.", []string{"state"}, nil)
	descRPS     = prometheus.NewDesc("avi_virtualservice_requests_per_second", "Requests per second over the current 5-minute bucket.", []string{"virtualservice", "uuid"}, nil)
	descErrors  = prometheus.NewDesc("avi_virtualservice_errors_per_second", "4xx, 5xx and failed requests per second.", []string{"virtualservice", "uuid"}, nil)
	descP99     = prometheus.NewDesc("avi_virtualservice_latency_p99_milliseconds", "99th percentile latency.", []string{"virtualservice", "uuid"}, nil)
	descHealth  = prometheus.NewDesc("avi_virtualservice_health_score", "Health score, 0 to 100.", []string{"virtualservice", "uuid"}, nil)
	descDropped = prometheus.NewDesc("avi_serviceengine_reports_dropped_total", "Metrics and client logs an SE sent for virtual services not placed on it, dropped.", []string{"serviceengine", "uuid"}, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descVersion, descObjects, descSEs, descRPS, descErrors, descP99, descHealth, descDropped} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	ch <- prometheus.MustNewConstMetric(descVersion, prometheus.GaugeValue, float64(s.store.Version()))
	for _, k := range avi.Kinds {
		ch <- prometheus.MustNewConstMetric(descObjects, prometheus.GaugeValue, float64(len(s.store.List(k.Kind))), string(k.Kind))
	}
	for st, n := range s.seStates() {
		ch <- prometheus.MustNewConstMetric(descSEs, prometheus.GaugeValue, float64(n), strings.ToLower(strings.TrimPrefix(st, "OPER_")))
	}
	for _, se := range store.List[*avi.ServiceEngine](s.store) {
		s.se.overlay(se)
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(se.ReportsDropped), se.Name, se.UUID)
	}
	for _, v := range s.summaries(nil) {
		ch <- prometheus.MustNewConstMetric(descRPS, prometheus.GaugeValue, v.RequestsPerSecond, v.Name, v.UUID)
		ch <- prometheus.MustNewConstMetric(descErrors, prometheus.GaugeValue, v.ErrorRate, v.Name, v.UUID)
		ch <- prometheus.MustNewConstMetric(descP99, prometheus.GaugeValue, v.P99LatencyMS, v.Name, v.UUID)
		if v.HealthScore != nil {
			ch <- prometheus.MustNewConstMetric(descHealth, prometheus.GaugeValue, *v.HealthScore, v.Name, v.UUID)
		}
	}
}

// prometheus is GET /metrics.
func (s *Server) prometheus(w http.ResponseWriter, r *http.Request, _ *principal) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{s})
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{Timeout: 10 * time.Second}).ServeHTTP(w, r)
}
