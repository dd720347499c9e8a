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

// Serve runs a whole service engine until ctx ends: the control channel (cfg, whose Apply and
// Report it fills in) driving the data plane, the VIPs it owns and its Prometheus metrics on
// metricsAddr (none when empty). On the way out its north-south services are handed over to
// other SEs, its VIPs go, then connections drain; the VIPs it added are recorded in its data
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
	// The VIPs go before the listeners: handed over, they are served elsewhere, and a client
	// that still reaches this host must not meet a closed port on one (a reset fails its
	// request; an address gone makes it try again and find the new holder).
	vips.Close()
	drain, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	dp.Close(drain)
	stopMetrics()
	metrics.Wait()
	return err
}
