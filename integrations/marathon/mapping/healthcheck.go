package mapping

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/avi-init/avi-init/integrations/marathon"
	"github.com/avi-init/avi-init/model/avi"
)

// Marathon's health check defaults, for fields an app leaves out.
const (
	defaultIntervalSeconds        = 60
	defaultTimeoutSeconds         = 20
	defaultMaxConsecutiveFailures = 3
)

// monitor maps one Marathon health check to a health monitor named name. It returns nil and a
// note for a check the SE cannot run; Marathon's own result for it still decides which tasks
// are pool members.
//
// Marathon checks every intervalSeconds, waits timeoutSeconds, and counts a task healthy after
// one success; Avi wants the timeout below the interval, so a longer timeout is shortened.
// maxConsecutiveFailures becomes the failures that take a member down (0, "never kill", is 1:
// Marathon reports the task unhealthy at the first failure). The grace period needs no
// setting: a task joins the pool only once Marathon reports it alive.
func monitor(hc marathon.HealthCheck, index int, name string) (*avi.HealthMonitor, string) {
	interval := clamp(orMarathonDefault(hc.IntervalSeconds, defaultIntervalSeconds), 1, 3600)
	failures := defaultMaxConsecutiveFailures
	if hc.MaxConsecutiveFailures != nil {
		failures = *hc.MaxConsecutiveFailures
	}
	m := &avi.HealthMonitor{
		Meta:             avi.Meta{Name: name},
		SendInterval:     interval,
		ReceiveTimeout:   clamp(orMarathonDefault(hc.TimeoutSeconds, defaultTimeoutSeconds), 1, max(1, interval-1)),
		SuccessfulChecks: 1,
		FailedChecks:     clamp(failures, 1, 50),
	}
	protocol := strings.ToUpper(cmp.Or(hc.Protocol, "HTTP"))
	kind, ok := monitorKinds[protocol]
	switch {
	case protocol == "COMMAND":
		return nil, fmt.Sprintf("health check %d: COMMAND checks run in the task; not mapped", index)
	case !ok:
		return nil, fmt.Sprintf("health check %d: unknown protocol %q; not mapped", index, hc.Protocol)
	}
	m.Type = kind.monitorType
	if kind.monitorType == avi.HealthMonitorHTTP {
		path := cmp.Or(hc.Path, "/")
		if !strings.HasPrefix(path, "/") || strings.ContainsFunc(path, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return nil, fmt.Sprintf("health check %d: path %q is not a plain URL path; not mapped", index, path)
		}
		// Marathon counts 2xx and 3xx answers as healthy.
		m.HTTPMonitor = &avi.HTTPMonitor{HTTPRequest: "GET " + path + " HTTP/1.0", HTTPResponseCode: []string{"HTTP_2XX", "HTTP_3XX"}}
	}
	if kind.standIn {
		return m, fmt.Sprintf("health check %d: %s is checked as TCP (the SE has no HTTPS monitor)", index, protocol)
	}
	return m, ""
}

// monitorKinds maps Marathon's health check protocols to monitor types. Until the SE can run
// an HTTPS monitor, checking that the port accepts connections is the closest it can do.
var monitorKinds = map[string]struct {
	monitorType string
	standIn     bool // a weaker check than Marathon's, noted
}{
	"HTTP":        {monitorType: avi.HealthMonitorHTTP},
	"MESOS_HTTP":  {monitorType: avi.HealthMonitorHTTP},
	"TCP":         {monitorType: avi.HealthMonitorTCP},
	"MESOS_TCP":   {monitorType: avi.HealthMonitorTCP},
	"HTTPS":       {monitorType: avi.HealthMonitorTCP, standIn: true},
	"MESOS_HTTPS": {monitorType: avi.HealthMonitorTCP, standIn: true},
}

func orMarathonDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func clamp(v, lo, hi int) int {
	return min(max(v, lo), hi)
}
