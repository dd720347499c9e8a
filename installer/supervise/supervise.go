// Package supervise runs one role's container under systemd: it creates the container from the
// settings systemd passes in its env file, streams the container's output to the journal, says
// READY=1 once the runtime answers, and stops the container when systemd stops the service.
package supervise

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/avi-init/avi-init/installer/containerspec"
	"github.com/avi-init/avi-init/integrations/docker"
)

// Config wires the supervisor to the outside world.
type Config struct {
	Settings containerspec.Settings
	Engine   docker.Engine
	// Ready returns nil once the runtime in the container answers.
	Ready func(ctx context.Context) error
	// Notify tells the service manager the service is ready.
	Notify func()
	Logs   io.Writer
	Logger *slog.Logger
	// StartTimeout bounds the wait for Ready.
	StartTimeout time.Duration
	// Exited, when set, runs once the container has exited on its own, before systemd restarts
	// it: what the runtime left on the host that nothing serves any more is cleared there.
	Exited func()
}

// Run supervises the container until ctx ends (the service is stopped: the container is
// stopped and removed; nil) or the container exits on its own (an error, so that systemd's
// Restart= applies). A container that fails to become ready is left in place so its logs can be
// read; the next start replaces it.
func Run(ctx context.Context, cfg Config) error {
	log, eng, s := cfg.Logger, cfg.Engine, cfg.Settings
	spec := s.Spec(s.Hash())
	if err := eng.Remove(ctx, spec.Name); err != nil {
		return err
	}
	if err := eng.Create(ctx, spec); err != nil {
		return err
	}
	if err := eng.Start(ctx, spec.Name); err != nil {
		return err
	}
	log.Info("container started", "container", spec.Name, "image", spec.Image)

	// The log follower and the waiter end when the container stops or when logCtx ends.
	logCtx, stopLogs := context.WithCancel(context.Background())
	defer stopLogs()
	go eng.Logs(logCtx, spec.Name, 0, true, cfg.Logs)
	exited := make(chan int64, 1)
	go func() {
		code, err := eng.Wait(logCtx, spec.Name)
		if err != nil {
			code = -1
		}
		exited <- code
	}()

	if err := waitReady(ctx, cfg, exited); err != nil {
		return fmt.Errorf("%s did not become ready: %w", spec.Name, err)
	}
	cfg.Notify()
	log.Info("ready", "container", spec.Name)

	select {
	case code := <-exited:
		if cfg.Exited != nil {
			cfg.Exited()
		}
		return fmt.Errorf("%s exited with code %d", spec.Name, code)
	case <-ctx.Done():
	}
	log.Info("stopping", "container", spec.Name)
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := eng.Stop(stopCtx, spec.Name, 20*time.Second); err != nil {
		return err
	}
	return eng.Remove(stopCtx, spec.Name)
}

// waitReady polls Ready until it answers, the container exits, or the start timeout passes.
func waitReady(ctx context.Context, cfg Config, exited <-chan int64) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = cfg.Ready(ctx); last == nil {
			return nil
		}
		select {
		case code := <-exited:
			return fmt.Errorf("container exited with code %d before it answered", code)
		case <-ctx.Done():
			return fmt.Errorf("no answer within %s: %w", cfg.StartTimeout, last)
		case <-tick.C:
		}
	}
}
