// Package systemd owns avi-init's use of systemd: whether it runs, and unit control over D-Bus
// (daemon-reload, enable, start, restart, stop, disable), plus readiness notification for the
// supervisor. Nothing else in the project talks to systemd.
package systemd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/coreos/go-systemd/v22/dbus"
)

// Running reports whether systemd is the init system below root, the check sd_booted(3) makes.
func Running(root string) bool {
	fi, err := os.Lstat(filepath.Join(root, "run/systemd/system"))
	return err == nil && fi.IsDir()
}

// Manager is what the installer needs from systemd.
type Manager interface {
	Reload(ctx context.Context) error
	Enable(ctx context.Context, unitPath string) error
	Disable(ctx context.Context, unit string) error
	Start(ctx context.Context, unit string) error
	Restart(ctx context.Context, unit string) error
	Stop(ctx context.Context, unit string) error
	// State returns the unit's ActiveState (active, activating, failed, inactive) and whether
	// it is enabled.
	State(ctx context.Context, unit string) (active string, enabled bool, err error)
	Close()
}

// Bus is the Manager over D-Bus.
type Bus struct {
	conn *dbus.Conn
}

// Connect opens systemd's private socket (root only, no D-Bus daemon needed) and falls back to
// the system bus.
func Connect(ctx context.Context) (*Bus, error) {
	conn, err := dbus.NewSystemdConnectionContext(ctx)
	if err != nil {
		var busErr error
		conn, busErr = dbus.NewSystemConnectionContext(ctx)
		if busErr != nil {
			return nil, fmt.Errorf("connect to systemd: %w", errors.Join(err, busErr))
		}
	}
	return &Bus{conn: conn}, nil
}

// Close closes the connection.
func (b *Bus) Close() { b.conn.Close() }

// Reload is `systemctl daemon-reload`.
func (b *Bus) Reload(ctx context.Context) error {
	if err := b.conn.ReloadContext(ctx); err != nil {
		return fmt.Errorf("systemd daemon-reload: %w", err)
	}
	return nil
}

// Enable is `systemctl enable` of a unit file.
func (b *Bus) Enable(ctx context.Context, unitPath string) error {
	if _, _, err := b.conn.EnableUnitFilesContext(ctx, []string{filepath.Base(unitPath)}, false, true); err != nil {
		return fmt.Errorf("enable %s: %w", filepath.Base(unitPath), err)
	}
	return nil
}

// Disable is `systemctl disable`.
func (b *Bus) Disable(ctx context.Context, unit string) error {
	if _, err := b.conn.DisableUnitFilesContext(ctx, []string{unit}, false); err != nil {
		return fmt.Errorf("disable %s: %w", unit, err)
	}
	return nil
}

// job runs a unit job and waits for its result, as systemctl does without --no-block. For a
// Type=notify unit, start completes only once the service has sent READY=1.
func (b *Bus) job(ctx context.Context, verb, unit string, call func(context.Context, string, string, chan<- string) (int, error)) error {
	done := make(chan string, 1)
	if _, err := call(ctx, unit, "replace", done); err != nil {
		return fmt.Errorf("%s %s: %w", verb, unit, err)
	}
	select {
	case result := <-done:
		if result != "done" {
			return fmt.Errorf("%s %s: job %s", verb, unit, result)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s %s: %w", verb, unit, ctx.Err())
	}
}

// Start is `systemctl start`.
func (b *Bus) Start(ctx context.Context, unit string) error {
	return b.job(ctx, "start", unit, b.conn.StartUnitContext)
}

// Restart is `systemctl restart`.
func (b *Bus) Restart(ctx context.Context, unit string) error {
	return b.job(ctx, "restart", unit, b.conn.RestartUnitContext)
}

// Stop is `systemctl stop`.
func (b *Bus) Stop(ctx context.Context, unit string) error {
	return b.job(ctx, "stop", unit, b.conn.StopUnitContext)
}

// State reports the unit's active state and whether it is enabled.
func (b *Bus) State(ctx context.Context, unit string) (string, bool, error) {
	props, err := b.conn.GetUnitPropertiesContext(ctx, unit)
	if err != nil {
		return "", false, fmt.Errorf("state of %s: %w", unit, err)
	}
	active, _ := props["ActiveState"].(string)
	file, _ := props["UnitFileState"].(string)
	return active, file == "enabled", nil
}

// NotifyReady tells systemd the service is ready (READY=1). It reports false when the process
// was not started by systemd with a notify socket.
func NotifyReady() (bool, error) {
	return daemon.SdNotify(false, daemon.SdNotifyReady)
}
