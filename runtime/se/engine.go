package se

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/avi-init/avi-init/model/sechannel"
	"github.com/avi-init/avi-init/runtime/se/dataplane"
	"github.com/avi-init/avi-init/runtime/se/semetrics"
	"github.com/avi-init/avi-init/runtime/se/vip"
)

// drainTimeout bounds how long a stopping SE lets connections in flight finish: with the
// hand-over (handOverTimeout) it stays within the 20 s avi-init supervise gives the container
// before it kills it.
const drainTimeout = 15 * time.Second

// vipHold bounds how long a stopping SE keeps its VIPs while connections drain: long enough
// for requests in flight to be answered (without its address the host cannot send their
// responses), short enough that a client which missed the new holder's announcements soon
// finds it (a closed port here fails its request; an address gone makes it ask again).
const vipHold = 2 * time.Second

// drainConnections closes the listeners and lets connections in flight finish (closeDP, up to
// drainTimeout) while the VIPs stay until they are done or vipHold has passed (closeVIPs).
func drainConnections(closeDP func(context.Context) error, closeVIPs func()) {
	drain, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		closeDP(drain)
	}()
	select {
	case <-drained:
	case <-time.After(vipHold):
	}
	closeVIPs()
	<-drained
}

// Serve runs a whole service engine until ctx ends: the control channel (cfg, whose Apply and
// Report it fills in) driving the data plane, the VIPs it owns and its Prometheus metrics on
// metricsAddr (none when empty). On the way out its north-south services are handed over to
// other SEs, its listeners close and connections drain, the VIPs going once they are done (or vipHold has passed); the VIPs it added are recorded in its data
// directory, so that after a crash the next start removes those it no longer serves.
func Serve(ctx context.Context, cfg Config, metricsAddr string) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	dp := dataplane.New(log)
	vips := vip.New(vip.Netlink{}, vip.DefaultGratuitous, filepath.Join(cfg.DataDir, vip.StateFile), log)
	defer vips.Close()
	exp := semetrics.New()
	apply := exp.WrapApply(vips.Wrap(dp.Apply))
	// The data plane applies whole configurations.
	cfg.Apply = func(_ sechannel.Change, all *sechannel.State) []sechannel.ServiceError { return apply(all.Snapshot()) }
	cfg.Report = exp.WrapReport(dp.Report)
	rt, err := New(ctx, cfg)
	if err != nil {
		return err
	}
	if rt.Version() < 0 {
		// No configuration to serve yet: the VIPs an earlier run of this SE added (and a crash
		// left behind) go now rather than at the first snapshot, which may be long in coming.
		apply(sechannel.Snapshot{Version: -1})
	}
	metricsCtx, stopMetrics := context.WithCancel(ctx)
	var metrics sync.WaitGroup
	if metricsAddr != "" {
		metrics.Go(func() {
			// Traffic matters more than its counters: a busy metrics port is logged, not fatal.
			if err := exp.Serve(metricsCtx, metricsAddr); err != nil {
				log.Error("metrics not served", "err", err)
			}
		})
	}
	err = rt.Run(ctx)
	drainConnections(dp.Close, vips.Close)
	stopMetrics()
	metrics.Wait()
	return err
}
