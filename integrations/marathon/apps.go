// Package marathon is the one package that talks to Marathon. A Client reads the app list
// (GET /v2/apps?embed=apps.tasks) and follows the event stream (GET /v2/events) over one or more
// Marathon URLs; an AppSource hands the two to a list-watch loop (internal/listwatch): the list is
// the truth, an event only says when to read it again.
//
// The App type decodes the fields the integration needs from both API shapes: before Marathon
// 1.5 (container.docker.portMappings, container.docker.network, ipAddress) and from 1.5 on
// (container.portMappings, networks). Other fields are ignored.
package marathon

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// App is one Marathon app as the app list shows it, with its tasks.
type App struct {
	ID              string            `json:"id"`
	Labels          map[string]string `json:"labels"`
	Container       *Container        `json:"container"`
	PortDefinitions []PortDefinition  `json:"portDefinitions"`
	// Ports is the service port list of Marathons older than portDefinitions (before 0.16).
	Ports []int `json:"ports"`
	// IPAddress, when set, asks for IP-per-task networking before Marathon 1.5.
	IPAddress *IPAddressSpec `json:"ipAddress"`
	// Networks replaces IPAddress and container.docker.network from Marathon 1.5.
	Networks     []Network     `json:"networks"`
	HealthChecks []HealthCheck `json:"healthChecks"`
	Tasks        []Task        `json:"tasks"`

	// Err is why the app's definition could not be read. Such an app carries only its ID, so
	// that it can be reported; the other apps of the list are unaffected.
	Err error `json:"-"`
}

// Container is the app's container; Docker holds the pre-1.5 networking fields.
type Container struct {
	Docker       *Docker       `json:"docker"`
	PortMappings []PortMapping `json:"portMappings"`
}

// Docker is the Docker part of a container.
type Docker struct {
	Network      string        `json:"network"` // BRIDGE, HOST or USER (before 1.5)
	PortMappings []PortMapping `json:"portMappings"`
}

// PortMapping maps a container port to a host port and a service port.
type PortMapping struct {
	ContainerPort int    `json:"containerPort"`
	HostPort      int    `json:"hostPort"`
	ServicePort   int    `json:"servicePort"`
	Protocol      string `json:"protocol"`
	Name          string `json:"name"`
}

// PortDefinition is a service port of an app on host networking.
type PortDefinition struct {
	Port     int    `json:"port"`
	Protocol string `json:"protocol"`
	Name     string `json:"name"`
}

// IPAddressSpec is the pre-1.5 IP-per-task request; its discovery ports are the task's ports
// when the Mesos containerizer runs it.
type IPAddressSpec struct {
	Discovery *Discovery `json:"discovery"`
}

// Discovery lists the ports a task offers on its own address.
type Discovery struct {
	Ports []DiscoveryPort `json:"ports"`
}

// DiscoveryPort is one port of Discovery.
type DiscoveryPort struct {
	Number   int    `json:"number"`
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
}

// Network is one network of a 1.5+ app: mode host, container/bridge or container.
type Network struct {
	Mode string `json:"mode"`
}

// HealthCheck is a Marathon health check. Zero values mean Marathon's defaults. Its grace
// period needs no field here: a task counts only once Marathon reports it alive, which it does
// not before the task has passed a check.
type HealthCheck struct {
	Protocol               string `json:"protocol"`
	Path                   string `json:"path"`
	PortIndex              int    `json:"portIndex"`
	Port                   int    `json:"port"`
	IntervalSeconds        int    `json:"intervalSeconds"`
	TimeoutSeconds         int    `json:"timeoutSeconds"`
	MaxConsecutiveFailures *int   `json:"maxConsecutiveFailures"`
}

// Task is one instance of an app.
type Task struct {
	ID          string   `json:"id"`
	Host        string   `json:"host"`
	Ports       []int    `json:"ports"`
	IPAddresses []TaskIP `json:"ipAddresses"`
	// State is set from Marathon 1.5; older lists show launched tasks only, with StartedAt
	// empty while staging.
	State              string         `json:"state"`
	StartedAt          string         `json:"startedAt"`
	HealthCheckResults []HealthResult `json:"healthCheckResults"`
}

// TaskIP is one address of a task.
type TaskIP struct {
	IPAddress string `json:"ipAddress"`
}

// HealthResult is the state of one health check of a task.
type HealthResult struct {
	Alive bool `json:"alive"`
}

// Port is one port of an app, whichever field Marathon keeps it in.
type Port struct {
	ServicePort int
	// ContainerPort is the port on the task's own address under IP-per-task networking.
	ContainerPort int
	Protocol      string
	Name          string
}

// TCP reports whether the port carries TCP (Marathon's default protocol).
func (p Port) TCP() bool {
	if p.Protocol == "" {
		return true
	}
	for _, proto := range strings.Split(p.Protocol, ",") {
		if strings.EqualFold(strings.TrimSpace(proto), "tcp") {
			return true
		}
	}
	return false
}

// PortList is the app's ports in Marathon's order, which task ports and health checks' port
// indexes follow: 1.5+ container port mappings, pre-1.5 Docker port mappings, port
// definitions, the legacy ports list, or the discovery ports of pre-1.5 IP-per-task apps.
func (a *App) PortList() []Port {
	var out []Port
	fromMappings := func(ms []PortMapping) {
		for _, m := range ms {
			out = append(out, Port{ServicePort: m.ServicePort, ContainerPort: m.ContainerPort, Protocol: m.Protocol, Name: m.Name})
		}
	}
	switch c := a.Container; {
	case c != nil && len(c.PortMappings) > 0:
		fromMappings(c.PortMappings)
	case c != nil && c.Docker != nil && len(c.Docker.PortMappings) > 0:
		fromMappings(c.Docker.PortMappings)
	case len(a.PortDefinitions) > 0:
		for _, d := range a.PortDefinitions {
			out = append(out, Port{ServicePort: d.Port, Protocol: d.Protocol, Name: d.Name})
		}
	case len(a.Ports) > 0:
		for _, p := range a.Ports {
			out = append(out, Port{ServicePort: p})
		}
	case a.IPAddress != nil && a.IPAddress.Discovery != nil:
		for _, d := range a.IPAddress.Discovery.Ports {
			out = append(out, Port{ContainerPort: d.Number, Protocol: d.Protocol, Name: d.Name})
		}
	}
	return out
}

// IPPerTask reports whether each task has an address of its own, reached on container ports,
// rather than host ports on its agent. Bridge networking also gives tasks addresses, but those
// are private to the agent, so it counts as host networking.
func (a *App) IPPerTask() bool {
	for _, n := range a.Networks {
		if n.Mode == "container" {
			return true
		}
	}
	if a.IPAddress == nil || len(a.Networks) > 0 {
		return false
	}
	// Before 1.5, Docker needed network USER as well; the Mesos containerizer only ipAddress.
	c := a.Container
	return c == nil || c.Docker == nil || c.Docker.Network == "" || c.Docker.Network == "USER"
}

// Running reports whether the task is running: state TASK_RUNNING, or, before Marathon 1.5
// reported states, started.
func (t *Task) Running() bool {
	if t.State != "" {
		return t.State == "TASK_RUNNING"
	}
	return t.StartedAt != ""
}

// Healthy reports whether the task passes the app's health checks, as Marathon judges them: an
// app without checks has only healthy tasks; with checks, a task needs results, all alive. A
// task in its grace period has no results yet and does not count.
func (a *App) Healthy(t *Task) bool {
	if len(a.HealthChecks) == 0 {
		return true
	}
	if len(t.HealthCheckResults) == 0 {
		return false
	}
	for _, r := range t.HealthCheckResults {
		if !r.Alive {
			return false
		}
	}
	return true
}

// DecodeApps reads a GET /v2/apps response. A response that is not an app list is an error; an
// app in it that cannot be read is returned with Err set, so that one bad app does not hide
// the others.
func DecodeApps(data []byte) ([]App, error) {
	var list struct {
		Apps *[]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("decode app list: %w", err)
	}
	// An answer without the field is not an empty list: taking it for one would remove every
	// virtual service.
	if list.Apps == nil {
		return nil, errors.New("decode app list: no \"apps\" field")
	}
	apps := make([]App, 0, len(*list.Apps))
	for i, raw := range *list.Apps {
		var a App
		err := json.Unmarshal(raw, &a)
		if err == nil && a.ID == "" {
			err = errors.New("no id")
		}
		if err != nil {
			id := a.ID
			if id == "" {
				id = fmt.Sprintf("apps[%d]", i)
			}
			apps = append(apps, App{ID: id, Err: fmt.Errorf("decode app %s: %w", id, err)})
			continue
		}
		apps = append(apps, a)
	}
	return apps, nil
}
