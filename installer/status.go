package installer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/avi-init/avi-init/installer/containerspec"
	"github.com/avi-init/avi-init/model/contract"
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
	// SetupToken is the controller's one-time setup token, while it is not set up.
	SetupToken string `json:"setup_token,omitempty"`
	// Cluster is the controller's place in its cluster, as it answers its own node.
	Cluster *contract.ClusterPing `json:"cluster,omitempty"`
}

// ParseStatus parses `avi-init status` flags and returns the output format. --help prints the
// flags and returns pflag.ErrHelp.
func ParseStatus(args []string) (string, error) {
	fs := pflag.NewFlagSet("avi-init status", pflag.ContinueOnError)
	format := fs.String("output", "text", "text or json")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return "", err
		}
		return "", &UsageError{Err: err}
	}
	if err := checkOutput(*format); err != nil {
		return "", usagef("status: %v", err)
	}
	return *format, nil
}

// Status reports what is installed and how it runs, for the controller and the SE. It changes
// nothing. It reports healthy when something is installed and everything installed answers.
func Status(ctx context.Context, env *Env, format string) (bool, error) {
	systemdRunning := false
	if h, err := env.Host.Read(); err == nil {
		systemdRunning = h.SystemdRunning
	}
	var all []RoleStatus
	healthy, installed := true, false
	for _, role := range []string{containerspec.RoleController, containerspec.RoleSE} {
		st, err := roleStatus(ctx, env, role, systemdRunning)
		if err != nil {
			return false, err
		}
		if st.Installed {
			installed = true
			healthy = healthy && st.Answering
		}
		all = append(all, st)
	}
	healthy = healthy && installed
	if format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return healthy, enc.Encode(map[string]any{"roles": all, "healthy": healthy})
	}
	w := env.Stdout
	for _, st := range all {
		if !st.Installed {
			if st.State == "absent" {
				fmt.Fprintf(w, "%s: not installed\n", st.Role)
				continue
			}
			fmt.Fprintf(w, "%s: not installed (a container %s is there)\n", st.Role, st.Container)
		} else {
			fmt.Fprintf(w, "%s: installed (%s)\n", st.Role, st.Image)
		}
		if st.Unit != "" {
			fmt.Fprintf(w, "  unit:      %s %s (enabled: %v)\n", st.Unit, st.UnitState, st.Enabled)
		}
		health := st.Health
		if health == "" {
			health = "-"
		}
		fmt.Fprintf(w, "  container: %s %s (engine health: %s)\n", st.Container, st.State, health)
		switch {
		case st.Answering && st.URL != "":
			fmt.Fprintf(w, "  answering: yes, %s\n", st.URL)
		case st.Answering:
			fmt.Fprintf(w, "  answering: yes\n")
		case st.Installed:
			fmt.Fprintf(w, "  answering: no\n")
		}
		if c := st.Cluster; c != nil {
			fmt.Fprintf(w, "  cluster:   %s, this node (%s) %s\n", c.ClusterState, c.Name, c.Role)
		}
		if st.SetupToken != "" {
			fmt.Fprintf(w, "  setup:     not done; setup token: %s (the setup wizard asks for it)\n", st.SetupToken)
		}
		if st.Detail != "" {
			fmt.Fprintf(w, "  detail:    %s\n", st.Detail)
		}
	}
	return healthy, nil
}

func roleStatus(ctx context.Context, env *Env, role string, systemdRunning bool) (RoleStatus, error) {
	st := RoleStatus{Role: role, Container: containerspec.ContainerName(role), State: "absent"}
	data, err := os.ReadFile(env.EnvFile(role))
	var s containerspec.Settings
	if err == nil {
		if s, err = settingsFromFile(data); err != nil {
			return st, fmt.Errorf("read %s: %w", env.EnvFile(role), err)
		}
		st.Installed, st.Image = true, s.Image
		if role == containerspec.RoleController {
			st.URL = controllerURL(s.ControllerIP, s.HTTPSPort)
			st.SetupToken, _ = contract.ReadSetupToken(s.DataDir)
		}
	}
	if systemdRunning {
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
		if role == containerspec.RoleController && st.Answering && env.Cluster != nil {
			if c, err := env.Cluster(ctx, s); err == nil {
				st.Cluster = &c
			}
		}
	}
	return st, nil
}
