package controller

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/analytics"
	"github.com/avi-init/avi-init/runtime/controller/placement"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// seSnap is one SE's runtime state as one request sees it.
type seSnap struct {
	se        *avi.ServiceEngine
	up        bool
	connected bool
	// placed is the virtual services placed on it: the placer's map, which it replaces whole.
	placed  map[string]bool
	seState // a copy; its maps are replaced, never changed, by heartbeats
}

// runtimeView is what the runtime of virtual services, pools and SEs is computed from, read
// once per request: the stored configuration's version, the SEs with their state and what is
// placed on each.
type runtimeView struct {
	version int64
	ses     []seSnap
	pools   map[string]*avi.Pool
	placed  placement.Placement // the placer's, which it replaces whole: read only
	now     time.Time
}

func (s *Server) runtimeView() *runtimeView {
	rv := &runtimeView{}
	var ses []*avi.ServiceEngine
	var bySE map[string]map[string]bool
	rv.placed, bySE = s.placement()
	s.store.View(func(v store.View) {
		rv.version = v.Version()
		rv.pools = byURL(store.List[*avi.Pool](v))
		ses = store.List[*avi.ServiceEngine](v)
	})
	s.se.mu.Lock()
	defer s.se.mu.Unlock()
	rv.now = s.se.now()
	for _, se := range ses {
		st := s.se.state(se.UUID)
		up := s.se.up(st)
		rv.ses = append(rv.ses, seSnap{se: se, up: up, connected: up && st.streams > 0, placed: bySE[se.UUID], seState: *st})
	}
	return rv
}

// seApply is a virtual service on one SE it is placed on: whether it serves it, and why not.
type seApply struct {
	UUID          string `json:"uuid"`
	Name          string `json:"name"`
	Connected     bool   `json:"connected"`
	Applied       bool   `json:"applied"`
	Reason        string `json:"reason,omitempty"`
	ConfigVersion int64  `json:"config_version"`       // the configuration version the SE holds
	IsPrimary     bool   `json:"is_primary,omitempty"` // holds the address (north-south)
	IsStandby     bool   `json:"is_standby,omitempty"` // takes the address if the primary goes down
}

// vipSummary is one address of a virtual service and the SEs that hold it.
type vipSummary struct {
	VIPID         string      `json:"vip_id"`
	IPAddress     *avi.IPAddr `json:"ip_address,omitempty"` // none: east-west, on every SE placed
	ServiceEngine []seApply   `json:"service_engine"`
}

// vsRuntime is GET /api/virtualservice/{uuid}/runtime.
type vsRuntime struct {
	UUID                 string                `json:"uuid"`
	Name                 string                `json:"name"`
	OperStatus           avi.OperationalStatus `json:"oper_status"`
	HealthScore          float64               `json:"health_score"`
	HealthReasons        []string              `json:"health_score_reasons,omitempty"`
	CurrentConfigVersion int64                 `json:"current_config_version"`
	VIPSummary           []vipSummary          `json:"vip_summary"`
	ServersUp            int                   `json:"servers_up"`
	ServersTotal         int                   `json:"servers_total"`
}

// applyOn is how a virtual service stands on one SE it is placed on.
func (rv *runtimeView) applyOn(sn *seSnap, vsUUID string) seApply {
	a := seApply{UUID: sn.se.UUID, Name: sn.se.Name, Connected: sn.connected, ConfigVersion: sn.configVersion}
	switch reason, notApplied := sn.notApplied[vsUUID]; {
	case !sn.up:
		a.Reason = "service engine down"
	case notApplied:
		a.Reason = reason
	case sn.serving[vsUUID]:
		a.Applied = true
	case sn.configError != "":
		a.Reason = "configuration rejected: " + sn.configError
	case sn.configVersion < rv.version:
		a.Reason = fmt.Sprintf("not yet applied: the service engine holds configuration version %d of %d", sn.configVersion, rv.version)
	default:
		a.Reason = "the service engine does not report serving it"
	}
	return a
}

// vsRuntime computes a virtual service's runtime: where it is applied, its members, its health.
func (s *Server) vsRuntime(rv *runtimeView, vs *avi.VirtualService) vsRuntime {
	out := vsRuntime{UUID: vs.UUID, Name: vs.Name, CurrentConfigVersion: rv.version}
	var placed []seApply
	serving, upPlaced := 0, 0
	for i := range rv.ses {
		if !rv.ses[i].placed[vs.UUID] {
			continue
		}
		a := rv.applyOn(&rv.ses[i], vs.UUID)
		placed = append(placed, a)
		if rv.ses[i].up {
			upPlaced++
		}
		if a.Applied {
			serving++
		}
	}
	vip := vipSummary{VIPID: "0", IPAddress: vs.IPAddress, ServiceEngine: slices.Clone(placed)}
	if vs.IPAddress != nil {
		for i := range vip.ServiceEngine {
			vip.ServiceEngine[i].IsPrimary = true
		}
		if sb := rv.placed[vs.UUID].Standby; sb != "" {
			for i := range rv.ses {
				if sn := &rv.ses[i]; sn.se.UUID == sb {
					vip.ServiceEngine = append(vip.ServiceEngine, seApply{UUID: sb, Name: sn.se.Name, Connected: sn.connected,
						ConfigVersion: sn.configVersion, IsStandby: true, Reason: "standby"})
				}
			}
		}
	}
	if vip.ServiceEngine == nil {
		vip.ServiceEngine = []seApply{}
	}
	out.VIPSummary = []vipSummary{vip}

	var servers []serverRuntime
	if p, ok := rv.pools[vs.PoolRef]; ok {
		servers = rv.poolServers(p)
	}
	down := 0
	for _, sv := range servers {
		switch sv.OperStatus.State {
		case avi.OperUp:
			out.ServersUp++
			out.ServersTotal++
		case avi.OperDown:
			down++
			out.ServersTotal++
		}
	}

	var state string
	var reasons []string
	switch {
	case !vs.IsEnabled():
		state = avi.OperDisabled
	case len(placed) == 0 && !anyUp(rv.ses):
		state, reasons = avi.OperDown, []string{"no service engine is up"}
	case len(placed) == 0:
		state, reasons = avi.OperResources, []string{"no service engine to place it on"}
	case upPlaced == 0:
		state, reasons = avi.OperDown, []string{"no service engine it is placed on is up"}
	case serving == 0:
		state = avi.OperDown
		reasons = notServing(placed)
	case serving < upPlaced:
		state = avi.OperPartitioned
		reasons = notServing(placed)
	case out.ServersTotal > 0 && out.ServersUp == 0:
		state, reasons = avi.OperDown, []string{fmt.Sprintf("all %d servers down", out.ServersTotal)}
	default:
		state = avi.OperUp
	}
	out.OperStatus = avi.OperationalStatus{State: state, Reason: reasons, LastChangedTime: avi.TimeStampOf(s.se.mark(vs.UUID, state, rv.now))}

	in := healthInputs{serversTotal: out.ServersTotal, serversDown: down, sesPlaced: len(placed), sesServing: serving}
	if len(placed) == 0 && len(reasons) > 0 {
		in.unplaced = reasons[0]
	}
	in.requests, _ = s.analytics.Latest(vs.UUID, "l7_client.avg_complete_responses")
	in.errors, _ = s.analytics.Latest(vs.UUID, "l7_client.avg_error_responses")
	in.latencyP99, _ = s.analytics.Latest(vs.UUID, "l7_client.pct_latency_p99")
	in.latencyUsual = s.usualLatency(vs.UUID)
	if vs.IsEnabled() {
		out.HealthScore, out.HealthReasons = healthScore(in)
	}
	return out
}

// anyUp reports whether any SE is up.
func anyUp(ses []seSnap) bool {
	for _, se := range ses {
		if se.up {
			return true
		}
	}
	return false
}

// notServing names the SEs a virtual service is placed on but not served by, with why.
func notServing(placed []seApply) []string {
	var out []string
	for _, a := range placed {
		if !a.Applied {
			out = append(out, "not applied on "+a.Name+": "+a.Reason)
		}
	}
	return out
}

// usualLatency is a virtual service's recent p99 latency: the mean of the last hour's 5-minute
// intervals before the current one that had traffic (0: none yet).
func (s *Server) usualLatency(vsUUID string) float64 {
	series, err := s.analytics.Query(vsUUID, []string{"l7_client.pct_latency_p99"}, analytics.CoarseStep, 13)
	if err != nil || len(series) == 0 || len(series[0].Data) < 2 {
		return 0
	}
	past := series[0].Data[:len(series[0].Data)-1]
	sum, n := 0.0, 0
	for _, p := range past {
		if p.Value > 0 {
			sum += p.Value
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// mark records the state a virtual service is shown in and returns since when it has been.
func (r *seRuntime) mark(vsUUID, state string, now time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.oper[vsUUID]
	if !ok || m.state != state {
		m = operMark{state: state, since: now}
		r.oper[vsUUID] = m
	}
	return m.since
}

// forgetMarks drops the states kept for virtual services that no longer exist.
func (r *seRuntime) forgetMarks(exists map[string]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range r.oper {
		if !exists[id] {
			delete(r.oper, id)
		}
	}
}

// serverSE is one SE's view of a pool member.
type serverSE struct {
	UUID   string `json:"uuid"`
	Name   string `json:"name"`
	Up     bool   `json:"up"`
	Reason string `json:"reason,omitempty"`
}

// serverRuntime is one member of GET /api/pool/{uuid}/runtime/server.
type serverRuntime struct {
	IPAddr            avi.IPAddr            `json:"ip_addr"`
	Port              int                   `json:"port"`
	Hostname          string                `json:"hostname,omitempty"`
	Enabled           bool                  `json:"enabled"`
	OperStatus        avi.OperationalStatus `json:"oper_status"`
	LastCheck         *avi.TimeStamp        `json:"last_check,omitempty"` // the newest SE report of it
	OpenConns         int64                 `json:"open_conns"`
	RequestsPerSecond float64               `json:"requests_per_second"`
	ErrorsPerSecond   float64               `json:"errors_per_second"`
	ServiceEngines    []serverSE            `json:"service_engine"`
}

// poolServers is each member of a pool as the SEs that are up report it. A member is down when
// any of them reports it down (the reason is that SE's: the failing monitor and its last result),
// and since when its state has held, as the SEs saw it change.
func (rv *runtimeView) poolServers(p *avi.Pool) []serverRuntime {
	out := []serverRuntime{}
	for _, sv := range p.Servers {
		port := sv.Port
		if port == 0 {
			port = p.DefaultServerPort
		}
		addr := net.JoinHostPort(sv.IP.Addr, strconv.Itoa(port))
		r := serverRuntime{IPAddr: sv.IP, Port: port, Hostname: sv.Hostname, Enabled: sv.Enabled == nil || *sv.Enabled, ServiceEngines: []serverSE{}}
		var downSince, upSince, seen time.Time
		var reasons []string
		for i := range rv.ses {
			sn := &rv.ses[i]
			rep, ok := sn.members[analytics.MemberKey(p.UUID, addr)]
			if !sn.up || !ok {
				continue
			}
			r.ServiceEngines = append(r.ServiceEngines, serverSE{UUID: sn.se.UUID, Name: sn.se.Name, Up: rep.up, Reason: rep.reason})
			r.OpenConns += rep.openConns
			rps, eps := rep.rates()
			r.RequestsPerSecond += rps
			r.ErrorsPerSecond += eps
			if rep.seen.After(seen) {
				seen = rep.seen
			}
			if rep.up {
				// Up everywhere since the last SE saw it come up.
				if rep.since.After(upSince) {
					upSince = rep.since
				}
				continue
			}
			// Down since the first SE saw it go down.
			if downSince.IsZero() || rep.since.Before(downSince) {
				downSince = rep.since
			}
			reason := rep.reason
			if reason == "" {
				reason = "down"
			}
			reasons = append(reasons, reason)
		}
		switch {
		case !r.Enabled:
			r.OperStatus = avi.OperationalStatus{State: avi.OperDisabled}
		case len(r.ServiceEngines) == 0:
			r.OperStatus = avi.OperationalStatus{State: avi.OperUnknown, Reason: []string{"no service engine that is up reports it"}}
		case len(reasons) > 0:
			sort.Strings(reasons)
			r.OperStatus = avi.OperationalStatus{State: avi.OperDown, Reason: compact(reasons), LastChangedTime: avi.TimeStampOf(downSince)}
		default:
			r.OperStatus = avi.OperationalStatus{State: avi.OperUp, LastChangedTime: avi.TimeStampOf(upSince)}
		}
		if !seen.IsZero() {
			r.LastCheck = avi.TimeStampOf(seen)
		}
		out = append(out, r)
	}
	return out
}

// compact drops repeats from a sorted list.
func compact(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// vsRuntimeHandler is GET /api/virtualservice/{uuid}/runtime.
func (s *Server) vsRuntimeHandler(w http.ResponseWriter, r *http.Request, p *principal) {
	k, _ := avi.KindVirtualService.Info()
	o, err := s.lookup(p, k, r.PathValue("uuid"))
	if err != nil {
		storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.vsRuntime(s.runtimeView(), o.(*avi.VirtualService)))
}

// poolServersHandler is GET /api/pool/{uuid}/runtime/server.
func (s *Server) poolServersHandler(w http.ResponseWriter, r *http.Request, p *principal) {
	k, _ := avi.KindPool.Info()
	o, err := s.lookup(p, k, r.PathValue("uuid"))
	if err != nil {
		storeError(w, err)
		return
	}
	pool := o.(*avi.Pool)
	servers := s.runtimeView().poolServers(pool)
	writeJSON(w, http.StatusOK, map[string]any{"count": len(servers), "results": servers})
}

// notAppliedVS is a virtual service an SE could not apply.
type notAppliedVS struct {
	VSUUID string `json:"vs_uuid"`
	Name   string `json:"name,omitempty"`
	Reason string `json:"reason"`
}

// seRuntimeInfo is GET /api/serviceengine/{uuid}/runtime.
type seRuntimeInfo struct {
	UUID                 string                `json:"uuid"`
	Name                 string                `json:"name"`
	SEConnected          bool                  `json:"se_connected"`
	OperStatus           avi.OperationalStatus `json:"oper_status"`
	LastHeartbeat        string                `json:"last_heartbeat,omitempty"`
	ConfigVersion        int64                 `json:"config_version"`
	CurrentConfigVersion int64                 `json:"current_config_version"`
	ConfigError          string                `json:"config_error,omitempty"`
	NotApplied           []notAppliedVS        `json:"not_applied"`
	ReportsDropped       int64                 `json:"reports_dropped"`
}

// seRuntimeHandler is GET /api/serviceengine/{uuid}/runtime.
func (s *Server) seRuntimeHandler(w http.ResponseWriter, r *http.Request, p *principal) {
	k, _ := avi.KindServiceEngine.Info()
	o, err := s.lookup(p, k, r.PathValue("uuid"))
	if err != nil {
		storeError(w, err)
		return
	}
	se := o.(*avi.ServiceEngine)
	s.se.overlay(se)
	out := seRuntimeInfo{UUID: se.UUID, Name: se.Name, SEConnected: se.SEConnected, LastHeartbeat: se.LastHeartbeat,
		ConfigVersion: se.ConfigVersion, CurrentConfigVersion: s.store.Version(), ConfigError: se.ConfigError,
		ReportsDropped: se.ReportsDropped, NotApplied: []notAppliedVS{}}
	out.OperStatus = avi.OperationalStatus{State: se.OperStatus.State}
	if se.OperStatus.Reason != "" {
		out.OperStatus.Reason = []string{se.OperStatus.Reason}
	}
	s.se.mu.Lock()
	notApplied := s.se.state(se.UUID).notApplied
	s.se.mu.Unlock()
	names := map[string]string{}
	for _, vs := range store.List[*avi.VirtualService](s.store) {
		names[vs.UUID] = vs.Name
	}
	for id, reason := range notApplied {
		out.NotApplied = append(out.NotApplied, notAppliedVS{VSUUID: id, Name: names[id], Reason: reason})
	}
	sort.Slice(out.NotApplied, func(i, j int) bool { return out.NotApplied[i].Name < out.NotApplied[j].Name })
	writeJSON(w, http.StatusOK, out)
}
