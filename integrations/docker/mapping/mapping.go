// Package mapping turns the labelled containers of a Docker cloud's hosts into the controller's
// objects, the way marathon/mapping turns apps: containers are grouped into services (replicas
// of one compose or swarm service, or containers named <name>-<n>), and each published TCP port
// of a service becomes a virtual service with a pool of the service's running, healthy
// containers, at their host's address and published host port.
//
// Docker has no service ports, and a container's published host port is its host's own (the SE
// on that host could not listen on it too), so each port's front end comes from the avi_proxy
// label: its virtualservice.services match the service's published TCP container ports in
// ascending order. A port left without one is an error. The label FE-Proxy: yes makes the
// services north-south on the label's VIP; otherwise they are east-west, on every SE.
//
// A service that cannot be mapped (a broken label, containers that disagree on their labels,
// a port without a front end) is reported in its Result and maps to nothing; the others are
// unaffected. Docker health checks run in the container, so they map to no health monitor:
// the engine's verdict decides membership.
package mapping

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/avi-init/avi-init/integrations/docker"
	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/proxylabel"
)

// Labels that name a container's service.
const (
	ComposeProjectLabel = "com.docker.compose.project"
	ComposeServiceLabel = "com.docker.compose.service"
	SwarmServiceLabel   = "com.docker.swarm.service.name"
)

// Host is one host of the cloud and its labelled containers.
type Host struct {
	// Addr is the host's address, as the controller reaches it: the address of its
	// containers' pool members.
	Addr netip.Addr
	// Name, when set, is shown on the pool members of its containers.
	Name       string
	Containers []docker.AppContainer
}

// Result is what one service maps to. Objects come with defaults filled in and validated, and
// refer to each other by name. Notes tell what was left out of a service that otherwise mapped
// (a UDP port, a container whose port is not published at its host's address). Err, when set,
// says why the service maps to nothing; its message names the service.
type Result struct {
	Service         string
	Containers      []string // "<host>/<container name>", sorted
	VirtualServices []*avi.VirtualService
	Pools           []*avi.Pool
	Notes           []string
	Err             error
}

// Mapper maps the containers of one cloud.
type Mapper struct {
	// CloudRef is set on every virtual service and pool, marking them as the cloud's own.
	CloudRef string
}

// member is a container on its host.
type member struct {
	host *Host
	c    *docker.AppContainer
}

func (m member) String() string {
	return cmp.Or(m.host.Name, m.host.Addr.String()) + "/" + m.c.Name
}

// Map maps the hosts' containers, one Result per service, in service order.
func (m *Mapper) Map(hosts []Host) []Result {
	groups := map[string][]member{}
	for i := range hosts {
		h := &hosts[i]
		for j := range h.Containers {
			c := &h.Containers[j]
			key := ServiceKey(c)
			groups[key] = append(groups[key], member{h, c})
		}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	results := make([]Result, 0, len(keys))
	for _, k := range keys {
		results = append(results, m.mapService(k, groups[k]))
	}
	return results
}

// replicaSuffix is the number Docker tools append to a replica's name: web-1, web_2.
var replicaSuffix = regexp.MustCompile(`[-_.][0-9]+$`)

// ServiceKey names the service a container belongs to: its compose project and service, its
// swarm service, or its name without a replica number.
func ServiceKey(c *docker.AppContainer) string {
	if s := c.Labels[ComposeServiceLabel]; s != "" {
		if p := c.Labels[ComposeProjectLabel]; p != "" {
			return p + "-" + s
		}
		return s
	}
	if s := c.Labels[SwarmServiceLabel]; s != "" {
		return s
	}
	if k := replicaSuffix.ReplaceAllString(c.Name, ""); k != "" {
		return k
	}
	return c.Name
}

func (m *Mapper) mapService(key string, members []member) Result {
	slices.SortFunc(members, func(a, b member) int { return cmp.Compare(a.String(), b.String()) })
	r := Result{Service: key}
	for _, mb := range members {
		r.Containers = append(r.Containers, mb.String())
	}
	fail := func(err error) Result {
		return Result{Service: key, Containers: r.Containers, Err: fmt.Errorf("service %s: %w", key, err)}
	}
	// Replicas share their labels; while they do not (an update half done), which one is
	// meant is unknown, so the service keeps what it had until they agree.
	first := members[0]
	for _, mb := range members[1:] {
		for _, l := range []string{proxylabel.LabelKey, proxylabel.FEProxyLabelKey} {
			if mb.c.Labels[l] != first.c.Labels[l] {
				return fail(fmt.Errorf("containers %s and %s have different %s labels", first, mb, l))
			}
		}
	}
	fe, err := proxylabel.FrontEndOf(first.c.Labels)
	if err != nil {
		return fail(err)
	}
	if note := fe.Note(); note != "" {
		r.Notes = append(r.Notes, note)
	}
	ports := tcpPorts(members, &r.Notes)
	services := fe.Services()
	switch {
	case len(ports) == 0:
		return fail(errors.New("no container publishes a TCP port (publish the service's ports; host networking is not balanced)"))
	case len(services) > len(ports):
		return fail(fmt.Errorf("the avi_proxy label lists %d services for the %d published TCP ports", len(services), len(ports)))
	case len(services) < len(ports):
		return fail(fmt.Errorf("container port %d/tcp has no front-end port: list one per published TCP port, in container port order, in the avi_proxy label's virtualservice.services", ports[len(services)]))
	}
	seen := map[int]bool{}
	for i, cport := range ports {
		front, ssl := services[i].Port, services[i].EnableSSL
		if seen[front] {
			return fail(fmt.Errorf("two ports have front-end port %d", front))
		}
		seen[front] = true
		name := fmt.Sprintf("%s-%d", key, front)
		pool := &avi.Pool{Meta: avi.Meta{Name: name}, Servers: servers(members, cport, &r.Notes), CloudRef: m.CloudRef}
		fe.ApplyPool(pool)
		r.Pools = append(r.Pools, pool)
		r.VirtualServices = append(r.VirtualServices, fe.VirtualService(name, front, ssl, name, avi.SystemL4, m.CloudRef))
	}
	if err := cmp.Or(avi.Complete(r.Pools...), avi.Complete(r.VirtualServices...)); err != nil {
		return fail(err)
	}
	return r
}

// tcpPorts are the TCP container ports the members publish, ascending; others are noted.
func tcpPorts(members []member, notes *[]string) []int {
	var tcp []int
	other := map[docker.ContainerPort]bool{}
	for _, mb := range members {
		for _, p := range mb.c.Publishes {
			if p.Protocol != "tcp" {
				other[p] = true
			} else if !slices.Contains(tcp, p.Port) {
				tcp = append(tcp, p.Port)
			}
		}
	}
	slices.Sort(tcp)
	var skipped []string
	for p := range other {
		skipped = append(skipped, fmt.Sprintf("%d/%s", p.Port, p.Protocol))
	}
	slices.Sort(skipped)
	if len(skipped) > 0 {
		*notes = append(*notes, fmt.Sprintf("ports %s are not balanced (the SE proxies TCP)", strings.Join(skipped, ", ")))
	}
	return tcp
}

// servers are the pool members for container port cport: each running container that is
// healthy (or has no health check), at its host's address and the host port the port is
// published on there, sorted so that the same containers always give the same pool.
func servers(members []member, cport int, notes *[]string) []avi.Server {
	type server struct {
		ap   netip.AddrPort
		host string
	}
	var found []server
	for _, mb := range members {
		if !mb.c.Running() || (mb.c.Health != "" && mb.c.Health != "healthy") {
			continue
		}
		addr := mb.host.Addr.Unmap()
		hostPort := 0
		for _, p := range mb.c.Ports {
			if p.ContainerPort == cport && p.Protocol == "tcp" && p.ReachableAt(addr) && (hostPort == 0 || p.HostPort < hostPort) {
				hostPort = p.HostPort
			}
		}
		if hostPort == 0 {
			*notes = append(*notes, fmt.Sprintf("container %s: port %d/tcp is not published at its host's address %s; left out of its pool", mb, cport, addr))
			continue
		}
		s := server{netip.AddrPortFrom(addr, uint16(hostPort)), mb.host.Name}
		if !slices.ContainsFunc(found, func(f server) bool { return f.ap == s.ap }) {
			found = append(found, s)
		}
	}
	slices.SortFunc(found, func(a, b server) int { return a.ap.Compare(b.ap) })
	var out []avi.Server
	for _, s := range found {
		out = append(out, avi.Server{IP: avi.IPOf(s.ap.Addr()), Port: int(s.ap.Port()), Hostname: s.host})
	}
	return out
}
