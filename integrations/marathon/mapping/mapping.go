// Package mapping turns Marathon apps into the controller's objects: for each port of an app a
// virtual service, a pool of the app's running, healthy tasks, and health monitors from the
// app's Marathon health checks. Names derive from the app ID and service port, so the same app
// list always maps to the same objects and a re-sync changes nothing that did not change.
//
// By default a port becomes an east-west virtual service on its service port, on every SE. The
// avi_proxy label refines it; the label FE-Proxy: yes makes it north-south, on the label's VIP.
// An app that cannot be mapped (a broken label, a port without a service port) is reported in
// its Result and maps to nothing; the other apps are unaffected.
package mapping

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/avi-init/avi-init/integrations/marathon"
	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/proxylabel"
)

// Resolver finds the address of a task's host.
type Resolver func(ctx context.Context, host string) (netip.Addr, error)

// DNS resolves with the system resolver, preferring IPv4.
func DNS(ctx context.Context, host string) (netip.Addr, error) {
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("%s has no address", host)
	}
	for _, a := range addrs {
		if a.Unmap().Is4() {
			return a.Unmap(), nil
		}
	}
	return addrs[0], nil
}

// Mapper maps the apps of one cloud.
type Mapper struct {
	// CloudRef is set on every virtual service and pool, marking them as the cloud's own.
	CloudRef string
	// Resolve finds task hosts' addresses (DNS when nil). Each host is resolved once per Map.
	Resolve Resolver
}

// Result is what one app maps to. Objects come with defaults filled in and validated, and
// refer to each other by name (/api/pool?name=...). Notes tell what was left out of an app
// that otherwise mapped (a COMMAND health check, a task whose host does not resolve). Err, when
// set, says why the app maps to nothing; its message names the app.
type Result struct {
	AppID           string
	VirtualServices []*avi.VirtualService
	Pools           []*avi.Pool
	HealthMonitors  []*avi.HealthMonitor
	Notes           []string
	Err             error
}

// Map maps each app, returning one Result per app in the apps' order.
func (m *Mapper) Map(ctx context.Context, apps []marathon.App) []Result {
	resolve := m.Resolve
	if resolve == nil {
		resolve = DNS
	}
	resolve = cached(resolve)
	results := make([]Result, len(apps))
	for i := range apps {
		results[i] = m.mapApp(ctx, &apps[i], resolve)
	}
	claimNames(results)
	return results
}

func cached(resolve Resolver) Resolver {
	type answer struct {
		addr netip.Addr
		err  error
	}
	seen := map[string]answer{}
	return func(ctx context.Context, host string) (netip.Addr, error) {
		if a, ok := seen[host]; ok {
			return a.addr, a.err
		}
		addr, err := resolve(ctx, host)
		seen[host] = answer{addr, err}
		return addr, err
	}
}

// claimNames gives each object name to one app. App IDs map to names many-to-one ("/a/b" and
// "/a-b" both give "a-b-<port>"); the app first in ID order keeps the name, so that which one
// does not depend on Marathon's list order. Apps that failed claim nothing.
func claimNames(results []Result) {
	order := make([]int, len(results))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(results[a].AppID, results[b].AppID) })
	owner := map[string]string{}
	for _, i := range order {
		r := &results[i]
		if r.Err != nil {
			continue
		}
		keys := r.objectKeys()
		for _, k := range keys {
			if other, taken := owner[k]; taken {
				*r = Result{AppID: r.AppID, Err: fmt.Errorf("app %s: %s is already the name of an object of app %s", r.AppID, k, other)}
				break
			}
		}
		if r.Err == nil {
			for _, k := range keys {
				owner[k] = r.AppID
			}
		}
	}
}

func (r *Result) objectKeys() []string {
	var keys []string
	for _, o := range r.VirtualServices {
		keys = append(keys, "virtualservice "+o.Name)
	}
	for _, o := range r.Pools {
		keys = append(keys, "pool "+o.Name)
	}
	for _, o := range r.HealthMonitors {
		keys = append(keys, "healthmonitor "+o.Name)
	}
	return keys
}

func (m *Mapper) mapApp(ctx context.Context, app *marathon.App, resolve Resolver) Result {
	if app.Err != nil {
		return Result{AppID: app.ID, Err: app.Err}
	}
	fail := func(err error) Result {
		return Result{AppID: app.ID, Err: fmt.Errorf("app %s: %w", app.ID, err)}
	}
	fe, err := proxylabel.FrontEndOf(app.Labels)
	if err != nil {
		return fail(err)
	}
	ports := app.PortList()
	services := fe.Services()
	switch {
	case fe.NorthSouth && len(ports) == 0:
		return fail(fmt.Errorf("label %s is yes, but the app has no ports", proxylabel.FEProxyLabelKey))
	case len(services) > len(ports):
		return fail(fmt.Errorf("the avi_proxy label lists %d services for the app's %d ports", len(services), len(ports)))
	}

	r := Result{AppID: app.ID}
	if note := fe.Note(); note != "" {
		r.Notes = append(r.Notes, note)
	}
	checks := checksByPort(app, len(ports), &r.Notes)
	tasks := liveTasks(ctx, app, resolve, &r.Notes)
	base := strings.ReplaceAll(strings.Trim(app.ID, "/"), "/", "-")
	seen := map[int]bool{}
	for i, p := range ports {
		if !p.TCP() {
			r.Notes = append(r.Notes, fmt.Sprintf("port %d: protocol %q is not balanced (the SE proxies TCP)", i, p.Protocol))
			continue
		}
		front, ssl := p.ServicePort, false
		if i < len(services) {
			front, ssl = services[i].Port, services[i].EnableSSL
		}
		// The service port names the objects, since it identifies the port across changes to
		// the label; only a port without one is named by the label's.
		key := cmp.Or(p.ServicePort, front)
		if key == 0 {
			return fail(fmt.Errorf("port %d has no service port (Marathon assigns one when it deploys the app) and the avi_proxy label gives none", i))
		}
		if seen[key] {
			return fail(fmt.Errorf("two ports have service port %d", key))
		}
		seen[key] = true
		name := fmt.Sprintf("%s-%d", base, key)

		pool := &avi.Pool{Meta: avi.Meta{Name: name}, Servers: servers(tasks, i, p, app.IPPerTask(), &r.Notes), CloudRef: m.CloudRef}
		fe.ApplyPool(pool)
		httpCheck := false
		for _, k := range checks[i] {
			hm, note := monitor(app.HealthChecks[k], k, fmt.Sprintf("%s-hc%d", name, k))
			if note != "" {
				r.Notes = append(r.Notes, note)
			}
			if hm == nil {
				continue
			}
			httpCheck = httpCheck || hm.Type == avi.HealthMonitorHTTP
			pool.HealthMonitorRefs = append(pool.HealthMonitorRefs, avi.KindHealthMonitor.NameRef(hm.Name))
			r.HealthMonitors = append(r.HealthMonitors, hm)
		}
		r.Pools = append(r.Pools, pool)

		// An HTTP proxy would break a port that does not speak plain HTTP, so only ports known
		// to (an HTTP health check, a name such as "http" or "http-api") get the HTTP profile.
		profile := avi.SystemL4
		if name := strings.ToLower(p.Name); httpCheck || (strings.HasPrefix(name, "http") && !strings.HasPrefix(name, "https")) {
			profile = avi.SystemHTTP
		}
		vs := fe.VirtualService(name, front, ssl, name, profile, m.CloudRef)
		r.VirtualServices = append(r.VirtualServices, vs)
	}
	if err := cmp.Or(avi.Complete(r.HealthMonitors...), avi.Complete(r.Pools...), avi.Complete(r.VirtualServices...)); err != nil {
		return fail(err)
	}
	return r
}

// checksByPort sorts the app's health checks by the port they check. A check of a fixed port
// (port rather than portIndex) or of a port the app does not have is noted and left out.
func checksByPort(app *marathon.App, ports int, notes *[]string) map[int][]int {
	out := map[int][]int{}
	for k, hc := range app.HealthChecks {
		switch {
		case strings.EqualFold(hc.Protocol, "COMMAND"):
			// Has no port; monitor notes it.
			out[0] = append(out[0], k)
		case hc.Port != 0:
			*notes = append(*notes, fmt.Sprintf("health check %d checks fixed port %d, not one of the app's ports; not mapped", k, hc.Port))
		case hc.PortIndex < 0 || hc.PortIndex >= ports:
			*notes = append(*notes, fmt.Sprintf("health check %d checks port index %d; the app has %d ports; not mapped", k, hc.PortIndex, ports))
		default:
			out[hc.PortIndex] = append(out[hc.PortIndex], k)
		}
	}
	return out
}

// liveTask is a running, healthy task and its address.
type liveTask struct {
	task *marathon.Task
	addr netip.Addr
}

// liveTasks lists the app's running, healthy tasks with their addresses: their own under
// IP-per-task networking, their host's otherwise.
func liveTasks(ctx context.Context, app *marathon.App, resolve Resolver, notes *[]string) []liveTask {
	var out []liveTask
	ipPerTask := app.IPPerTask()
	unresolved := map[string]bool{}
	for i := range app.Tasks {
		t := &app.Tasks[i]
		if !t.Running() || !app.Healthy(t) {
			continue
		}
		if ipPerTask {
			addr, ok := taskIP(t)
			if !ok {
				*notes = append(*notes, fmt.Sprintf("task %s has no IP address yet; left out", t.ID))
				continue
			}
			out = append(out, liveTask{t, addr})
			continue
		}
		addr, err := netip.ParseAddr(t.Host)
		if err != nil {
			addr, err = resolve(ctx, t.Host)
		}
		if err != nil {
			if !unresolved[t.Host] {
				unresolved[t.Host] = true
				*notes = append(*notes, fmt.Sprintf("tasks on host %q left out: %v", t.Host, err))
			}
			continue
		}
		out = append(out, liveTask{t, addr.Unmap().WithZone("")})
	}
	return out
}

// taskIP is a task's own address, IPv4 first.
func taskIP(t *marathon.Task) (netip.Addr, bool) {
	var found netip.Addr
	for _, ip := range t.IPAddresses {
		addr, err := netip.ParseAddr(ip.IPAddress)
		if err != nil {
			continue
		}
		addr = addr.Unmap().WithZone("")
		if addr.Is4() {
			return addr, true
		}
		if !found.IsValid() {
			found = addr
		}
	}
	return found, found.IsValid()
}

// servers are the pool members for port index i, sorted so that the same tasks always give
// the same pool.
func servers(tasks []liveTask, i int, p marathon.Port, ipPerTask bool, notes *[]string) []avi.Server {
	type member struct {
		ap   netip.AddrPort
		host string
	}
	var members []member
	seen := map[netip.AddrPort]bool{}
	for _, lt := range tasks {
		port := p.ContainerPort
		if !ipPerTask {
			if i >= len(lt.task.Ports) {
				*notes = append(*notes, fmt.Sprintf("task %s has no port %d; left out of its pool", lt.task.ID, i))
				continue
			}
			port = lt.task.Ports[i]
		}
		if port <= 0 || port > 65535 {
			*notes = append(*notes, fmt.Sprintf("task %s has no usable port %d (%d); left out of its pool", lt.task.ID, i, port))
			continue
		}
		ap := netip.AddrPortFrom(lt.addr, uint16(port))
		if !seen[ap] {
			seen[ap] = true
			// The host name helps a reader of the pool; an address would only repeat itself.
			host := lt.task.Host
			if _, err := netip.ParseAddr(host); err == nil {
				host = ""
			}
			members = append(members, member{ap, host})
		}
	}
	slices.SortFunc(members, func(a, b member) int { return a.ap.Compare(b.ap) })
	var out []avi.Server
	for _, m := range members {
		out = append(out, avi.Server{IP: avi.IPOf(m.ap.Addr()), Port: int(m.ap.Port()), Hostname: m.host})
	}
	return out
}
