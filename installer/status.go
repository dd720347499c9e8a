package installer

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/avi-init/avi-init/containerspec"
)

// RoleStatus is what `avi-init status` reports of one role.
type RoleStatus struct {
	Role      string `json:"role"`
	Installed bool   `json:"installed"`
	Image     string `json:"image,omitempty"`
	Unit      string `json:"unit,omitempty"`
	UnitState string `json:"unit_state,omitempty"`
	Enabled   bool   `json:"enabled"`
	Container string `json:"container"`
	State     string `json:"state"`            // running, exited, ..., or absent
	Health    string `json:"health,omitempty"` // the engine's health check
	Answering bool   `json:"answering"`        // the runtime answered avi-init's own probe
	Detail    string `json:"detail,omitempty"`
	URL       string `json:"url,omitempty"`
}

// Status reports what is installed and how it runs. It changes nothing.
func Status(ctx context.Context, env *Env, format string) (bool, error) {
	role := containerspec.RoleController
	st := RoleStatus{Role: role, Container: containerspec.ContainerName(role), State: "absent"}
	data, err := os.ReadFile(env.EnvFile(role))
	var s containerspec.Settings
	if err == nil {
		if s, err = settingsFromFile(data); err != nil {
			return false, fmt.Errorf("read %s: %w", env.EnvFile(role), err)
		}
		st.Installed, st.Image = true, s.Image
		st.URL = controllerURL(s.ControllerIP, s.HTTPSPort)
	}
	if h, err := env.Host.Read(); err == nil && h.SystemdRunning {
		if _, err := os.Stat(env.UnitFile(role)); err == nil {
			st.Unit = containerspec.UnitName(role)
			if mgr, err := env.Systemd(ctx); err == nil {
				st.UnitState, st.Enabled, _ = mgr.State(ctx, st.Unit)
				mgr.Close()
			}
		}
	}
	if env.Engine == nil {
		st.Detail = fmt.Sprintf("Docker engine not reachable: %v", env.EngineErr)
	} else if c, err := env.Engine.Container(ctx, st.Container); err != nil {
		st.Detail = err.Error()
	} else if c != nil {
		st.State, st.Health = c.Status, c.Health
		st.Enabled = st.Enabled || st.Unit == ""
	}
	if st.Installed && st.State == "running" {
		if err := env.Ready(ctx, s); err != nil {
			st.Detail = err.Error()
		} else {
			st.Answering = true
		}
	}
	healthy := st.Installed && st.Answering
	if format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return healthy, enc.Encode(map[string]any{"roles": []RoleStatus{st}, "healthy": healthy})
	}
	w := env.Stdout
	if !st.Installed {
		fmt.Fprintf(w, "controller: not installed\n")
	} else {
		fmt.Fprintf(w, "controller: installed (%s)\n", st.Image)
	}
	if st.Unit != "" {
		fmt.Fprintf(w, "  unit:      %s %s (enabled: %v)\n", st.Unit, st.UnitState, st.Enabled)
	}
	health := st.Health
	if health == "" {
		health = "-"
	}
	fmt.Fprintf(w, "  container: %s %s (engine health: %s)\n", st.Container, st.State, health)
	if st.Answering {
		fmt.Fprintf(w, "  answering: yes, %s\n", st.URL)
	} else if st.Installed {
		fmt.Fprintf(w, "  answering: no\n")
	}
	if st.Detail != "" {
		fmt.Fprintf(w, "  detail:    %s\n", st.Detail)
	}
	return healthy, nil
}

// controllerURL is where an operator points a browser.
func controllerURL(ip string, port int) string {
	host := net.JoinHostPort(ip, strconv.Itoa(port))
	if port == 443 {
		host = ip
		if strings.Contains(ip, ":") {
			host = "[" + ip + "]"
		}
	}
	return "https://" + host + "/"
}
