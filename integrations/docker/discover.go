package docker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// DialFunc opens a connection to an engine's API socket.
type DialFunc func(ctx context.Context) (net.Conn, error)

// ConnectVia returns a client of the engine that dial reaches. The controller dials a host's
// engine socket through its SSH connection (sshdeploy.Conn.DialUnix), so that no engine API is
// ever exposed on the network. The API version is negotiated, as with Connect.
func ConnectVia(dial DialFunc) (*Client, error) {
	api, err := client.New(
		// The address the client would dial is its default socket's; dial alone decides.
		client.WithDialContext(func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) }),
	)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return &Client{api: api}, nil
}

// AppContainer is an application container as discovery sees it: what mapping it to a virtual
// service and a pool member needs.
type AppContainer struct {
	ID     string
	Name   string // without Docker's leading "/"
	Labels map[string]string
	State  string // created, running, paused, restarting, exited, dead
	// Stopping is set by a follower of the engine's events that saw the container sent SIGTERM
	// or SIGKILL (Event.Stopping): it may still run, draining, but takes no new work.
	Stopping bool
	Health   string // starting, healthy, unhealthy, or "" without a health check
	// Publishes lists the container ports it is configured to publish, running or not, sorted:
	// what its virtual services are made of, so that a stopped container keeps them.
	Publishes []ContainerPort
	// Ports are the bindings of the running container's ports to host ports, sorted by
	// container port, protocol, host address and host port. A stopped container has none.
	Ports []PublishedPort
}

// ContainerPort is a port of a container.
type ContainerPort struct {
	Port     int
	Protocol string // tcp, udp or sctp
}

// PublishedPort is a container port bound to a port of the host.
type PublishedPort struct {
	ContainerPort int
	Protocol      string // tcp, udp or sctp
	HostIP        string // the host address it is bound to, as the engine says: 0.0.0.0, ::, an address, or ""
	HostPort      int
}

// Running reports whether the container runs and takes work (a paused or stopping one does not).
func (c *AppContainer) Running() bool { return c.State == "running" && !c.Stopping }

// ListLabeled lists the containers that carry the label key, running or not, in ID order. A
// container removed while the list is read is left out.
func (c *Client) ListLabeled(ctx context.Context, key string) ([]AppContainer, error) {
	list, err := c.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", key)})
	if err != nil {
		return nil, fmt.Errorf("list containers labelled %s: %w", key, err)
	}
	// The list's summaries carry no health, so each container is inspected: the inspection is
	// the truth, the same as `docker inspect` shows.
	out := make([]AppContainer, 0, len(list.Items))
	for _, s := range list.Items {
		res, err := c.api.ContainerInspect(ctx, s.ID, client.ContainerInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("inspect container %s: %w", s.ID, err)
		}
		out = append(out, fromInspect(res.Container))
	}
	slices.SortFunc(out, func(a, b AppContainer) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// DecodeInspect reads `docker inspect` output (a JSON array) the way ListLabeled reads the
// engine's answers: recorded containers, in fixtures or from an operator, map as live ones do.
func DecodeInspect(data []byte) ([]AppContainer, error) {
	var list []container.InspectResponse
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("docker inspect output: %w", err)
	}
	out := make([]AppContainer, 0, len(list))
	for _, in := range list {
		out = append(out, fromInspect(in))
	}
	return out, nil
}

func fromInspect(in container.InspectResponse) AppContainer {
	out := AppContainer{ID: in.ID, Name: strings.TrimPrefix(in.Name, "/")}
	if st := in.State; st != nil {
		out.State = string(st.Status)
		if st.Health != nil {
			out.Health = string(st.Health.Status)
		}
	}
	if in.Config != nil {
		out.Labels = in.Config.Labels
	}
	out.Publishes = publishes(in)
	if in.NetworkSettings != nil {
		out.Ports = publishedPorts(in.NetworkSettings.Ports)
	}
	return out
}

// publishes is what the container's configuration publishes: its port bindings, or every port
// its image exposes under --publish-all.
func publishes(in container.InspectResponse) []ContainerPort {
	var ports []network.Port
	if in.HostConfig != nil {
		for p := range in.HostConfig.PortBindings {
			ports = append(ports, p)
		}
		if in.HostConfig.PublishAllPorts && in.Config != nil {
			for p := range in.Config.ExposedPorts {
				ports = append(ports, p)
			}
		}
	}
	var out []ContainerPort
	for _, p := range ports {
		cp := ContainerPort{Port: int(p.Num()), Protocol: string(p.Proto())}
		if cp.Port > 0 && !slices.Contains(out, cp) {
			out = append(out, cp)
		}
	}
	slices.SortFunc(out, func(a, b ContainerPort) int {
		return cmp.Or(cmp.Compare(a.Port, b.Port), cmp.Compare(a.Protocol, b.Protocol))
	})
	return out
}

// publishedPorts flattens the engine's port map. A port published on every address may be
// bound twice, on 0.0.0.0 and on ::, and then to different host ports: each binding is kept,
// for the mapping to pick the one reachable at the host's address.
func publishedPorts(m network.PortMap) []PublishedPort {
	var out []PublishedPort
	for port, bindings := range m {
		cport, proto := int(port.Num()), string(port.Proto())
		for _, b := range bindings {
			hport, err := strconv.Atoi(b.HostPort)
			if err != nil || hport <= 0 || hport > 65535 || cport <= 0 {
				continue
			}
			p := PublishedPort{ContainerPort: cport, Protocol: proto, HostIP: hostIP(b.HostIP), HostPort: hport}
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	slices.SortFunc(out, func(a, b PublishedPort) int {
		return cmp.Or(cmp.Compare(a.ContainerPort, b.ContainerPort), cmp.Compare(a.Protocol, b.Protocol),
			cmp.Compare(a.HostIP, b.HostIP), cmp.Compare(a.HostPort, b.HostPort))
	})
	return out
}

// hostIP is a binding's host address as the engine wrote it: "" when it wrote none.
func hostIP(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// ReachableAt reports whether the binding accepts connections to the host address addr: it is
// bound to addr, or to every address of addr's family ("" is every address of both).
func (p PublishedPort) ReachableAt(addr netip.Addr) bool {
	if p.HostIP == "" {
		return true
	}
	bound, err := netip.ParseAddr(p.HostIP)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	if bound.IsUnspecified() {
		return bound.Is4() == addr.Is4()
	}
	return bound.Unmap() == addr
}

// Event is a change to a labelled container that discovery follows.
type Event struct {
	ContainerID string
	// Action is the engine's: start, kill, die, stop, pause, unpause, rename, destroy, or
	// "health_status: healthy" (and unhealthy) when the container's health changes.
	Action string
	// Signal is the signal a kill event sent, as the engine names it (15 for SIGTERM).
	Signal string
	Time   time.Time
}

// Stopping reports whether the event says the container is being stopped: the engine sent it
// SIGTERM or SIGKILL (docker stop, docker kill). It still runs, maybe draining, but is on its
// way out, and should take no new work.
func (e Event) Stopping() bool {
	if e.Action != "kill" {
		return false
	}
	switch e.Signal {
	case "15", "SIGTERM", "9", "SIGKILL":
		return true
	}
	return false
}

// watchedActions are the container events that change what a container maps to: whether it
// runs (or is being stopped), its health, its name (a service key), or whether it exists.
var watchedActions = []string{"start", "kill", "die", "stop", "pause", "unpause", "health_status", "rename", "destroy"}

// WatchEvents calls fn with each event of a container carrying the label key, in order, until
// ctx is done (it then returns ctx's error) or the stream breaks (it returns why: the caller
// reads the list again, since events may have been missed, and watches anew).
func (c *Client) WatchEvents(ctx context.Context, key string, fn func(Event)) error {
	ctx, cancel := context.WithCancel(ctx)
	// Ends the SDK's reading goroutine when fn's caller leaves early.
	defer cancel()
	args := make(client.Filters).Add("type", string(events.ContainerEventType)).Add("label", key).Add("event", watchedActions...)
	stream := c.api.Events(ctx, client.EventsListOptions{Filters: args})
	for {
		select {
		case m := <-stream.Messages:
			fn(Event{ContainerID: m.Actor.ID, Action: string(m.Action), Signal: m.Actor.Attributes["signal"], Time: time.Unix(0, m.TimeNano)})
		case err := <-stream.Err:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err == nil {
				err = errors.New("stream closed")
			}
			return fmt.Errorf("docker events: %w", err)
		}
	}
}
