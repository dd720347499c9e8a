package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/avi-init/avi-init/installer/containerspec"
	"github.com/avi-init/avi-init/templates"
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
The directories kept are recorded in /etc/avi-init/kept-data, so a later --purge deletes them.
`

// Uninstall removes what Install made. Data is deleted only with --purge, after confirmation.
// The data directories it keeps are recorded, so that a later --purge, with the env files that
// named them gone, still finds them.
func Uninstall(ctx context.Context, env *Env, o *UninstallOptions) error {
	if env.Euid != 0 {
		return fmt.Errorf("uninstall must run as root (run it with sudo)")
	}
	// The SE first: it depends on the controller, not the other way round.
	roles := []string{containerspec.RoleSE, containerspec.RoleController}
	dataDirs, err := readKeptData(env)
	if err != nil {
		return err
	}
	for _, role := range roles {
		data, err := os.ReadFile(env.EnvFile(role))
		if err != nil {
			continue
		}
		if s, err := settingsFromFile(data); err == nil {
			for _, d := range []string{s.DataDir, s.MetricsDir, s.LogsDir} {
				if d != "" && !slices.Contains(dataDirs, d) {
					dataDirs = append(dataDirs, d)
				}
			}
		}
	}
	if o.Purge && len(dataDirs) == 0 {
		return errNothingToPurge(env)
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
		if err := writeKeptData(env, dataDirs); err != nil {
			return err
		}
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
	return removeFile(w, env.KeptDataFile())
}

// KeptDataFile lists, one a line, the data directories an uninstall kept.
func (e *Env) KeptDataFile() string { return e.path(filepath.Join(ConfigDir, "kept-data")) }

// readKeptData returns the data directories earlier uninstalls kept.
func readKeptData(env *Env) ([]string, error) {
	path := env.KeptDataFile()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var dirs []string
	for _, d := range strings.Fields(string(data)) {
		// A line that is not a clean absolute path was not written here: never delete by it.
		if err := templates.ValidatePath("data directory", d); err != nil || d == "/" {
			return nil, fmt.Errorf("%s holds %q, not a data directory: correct or delete the file", path, d)
		}
		dirs = append(dirs, d)
	}
	return dirs, nil
}

// writeKeptData records the data directories an uninstall keeps (0600: it names where data is).
func writeKeptData(env *Env, dirs []string) error {
	if len(dirs) == 0 {
		return nil
	}
	return writePrivate(env.KeptDataFile(), []byte(strings.Join(dirs, "\n")+"\n"), 0o600)
}

// errNothingToPurge says why --purge found nothing to delete, and names the directories an
// earlier avi-init (which kept no record) would have used by default, if they exist.
func errNothingToPurge(env *Env) error {
	h, err := env.Host.Read()
	if err != nil {
		h = &Host{} // no disks known: the defaults on /
	}
	var found []string
	for _, role := range []string{containerspec.RoleController, containerspec.RoleSE} {
		if d := env.path(DefaultDataDir(h, role)); exists(d) {
			found = append(found, d)
		}
	}
	msg := "uninstall --purge: nothing installed here and no data directories recorded in " + env.KeptDataFile() + ": nothing was deleted"
	if len(found) > 0 {
		msg += "; " + strings.Join(found, " and ") + " (the default data directories) exist: delete them by hand if they are avi-init's"
	}
	return errors.New(msg)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
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
