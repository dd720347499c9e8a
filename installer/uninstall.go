package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/avi-init/avi-init/installer/containerspec"
)

// UninstallOptions are the flags of `avi-init uninstall`.
type UninstallOptions struct {
	Purge, Yes bool
}

// ParseUninstall parses `avi-init uninstall` flags.
func ParseUninstall(args []string) (*UninstallOptions, error) {
	o := &UninstallOptions{}
	fs := pflag.NewFlagSet("avi-init uninstall", pflag.ContinueOnError)
	fs.BoolVar(&o.Purge, "purge", false, "also delete the data directories (asks first, unless --yes)")
	fs.BoolVar(&o.Yes, "yes", false, "do not ask before purging")
	fs.Usage = func() {}
	fs.SetOutput(new(strings.Builder))
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, err
		}
		return nil, usagef("uninstall: %v", err)
	}
	if fs.NArg() > 0 {
		return nil, usagef("uninstall: unexpected argument %q", fs.Arg(0))
	}
	return o, nil
}

// UninstallUsage is `avi-init uninstall --help`.
const UninstallUsage = `Usage: sudo avi-init uninstall [--purge [--yes]]

Stops and removes the avi-init units and containers, the env files and the installed binary.
Data directories are kept unless --purge is given; --purge asks first unless --yes is given.
`

// Uninstall removes what Install made. Data is deleted only with --purge, after confirmation.
func Uninstall(ctx context.Context, env *Env, o *UninstallOptions) error {
	if env.Euid != 0 {
		return fmt.Errorf("uninstall must run as root (run it with sudo)")
	}
	// The SE first: it depends on the controller, not the other way round.
	roles := []string{containerspec.RoleSE, containerspec.RoleController}
	var dataDirs []string
	for _, role := range roles {
		data, err := os.ReadFile(env.EnvFile(role))
		if err != nil {
			continue
		}
		if s, err := settingsFromFile(data); err == nil {
			for _, d := range []string{s.DataDir, s.MetricsDir, s.LogsDir} {
				if d != "" {
					dataDirs = append(dataDirs, d)
				}
			}
		}
	}
	if o.Purge && !o.Yes {
		if env.Asker == nil {
			return usagef("uninstall --purge deletes %s: there is no terminal to confirm on, so pass --yes", strings.Join(dataDirs, ", "))
		}
		ans, err := env.Asker.Ask(fmt.Sprintf("Delete the data directories %s? This cannot be undone [y/n]", strings.Join(dataDirs, ", ")), "n", func(s string) error {
			if s != "y" && s != "n" && s != "yes" && s != "no" {
				return fmt.Errorf("answer y or n")
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !strings.HasPrefix(ans, "y") {
			return fmt.Errorf("uninstall cancelled: nothing was removed")
		}
	}
	for _, role := range roles {
		if err := uninstallRole(ctx, env, role); err != nil {
			return err
		}
	}
	if err := removeFile(env.Stdout, env.path(BinaryPath)); err != nil {
		return err
	}
	w := env.Stdout
	if !o.Purge {
		for _, d := range dataDirs {
			fmt.Fprintf(w, "kept data in %s (uninstall --purge deletes it)\n", d)
		}
		return nil
	}
	for _, d := range dataDirs {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("purge %s: %w", d, err)
		}
		fmt.Fprintf(w, "deleted %s\n", d)
	}
	return nil
}

// uninstallRole stops and removes a role's unit, container and env file.
func uninstallRole(ctx context.Context, env *Env, role string) error {
	w := env.Stdout
	unit, unitFile := containerspec.UnitName(role), env.UnitFile(role)
	if _, err := os.Stat(unitFile); err == nil {
		mgr, err := env.Systemd(ctx)
		if err != nil {
			return err
		}
		defer mgr.Close()
		if err := mgr.Stop(ctx, unit); err != nil {
			return err
		}
		if err := mgr.Disable(ctx, unit); err != nil {
			return err
		}
		if err := os.Remove(unitFile); err != nil {
			return fmt.Errorf("remove %s: %w", unitFile, err)
		}
		if err := mgr.Reload(ctx); err != nil {
			return err
		}
		fmt.Fprintf(w, "removed unit %s\n", unit)
	}
	if env.Engine == nil {
		return fmt.Errorf("cannot remove the containers: %v", env.EngineErr)
	}
	name := containerspec.ContainerName(role)
	c, err := env.Engine.Container(ctx, name)
	if err != nil {
		return err
	}
	if c != nil {
		if c.Labels[containerspec.Label] == "" {
			fmt.Fprintf(w, "left container %s alone: avi-init did not create it\n", name)
		} else {
			if err := env.Engine.Stop(ctx, name, 20*time.Second); err != nil {
				return err
			}
			if err := env.Engine.Remove(ctx, name); err != nil {
				return err
			}
			fmt.Fprintf(w, "removed container %s\n", name)
		}
	}
	return removeFile(w, env.EnvFile(role))
}

// removeFile removes a file the installer wrote and says so; a file already gone is no error.
func removeFile(w io.Writer, path string) error {
	if err := os.Remove(path); err == nil {
		fmt.Fprintf(w, "removed %s\n", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}
