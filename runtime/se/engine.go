package se

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/avi-init/avi-init/runtime/se/dataplane"
	"github.com/avi-init/avi-init/runtime/se/semetrics"
	"github.com/avi-init/avi-init/runtime/se/vip"
)

// drainTimeout bounds how long a stopping SE lets connections in flight finish.
const drainTimeout = 20 * time.Second

// Serve runs a whole service engine until ctx ends: the control channel (cfg, whose Apply and
// Report it fills in) driving the data plane, the VIPs it owns and its Prometheus metrics on
// metricsAddr (none when empty). On the way out connections drain, then the VIPs go.
func Serve(ctx context.Context, cfg Config, metricsAddr string) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	dp := dataplane.New(log)
	vips := vip.New(vip.Netlink{}, log)
	defer vips.Close()
	exp := semetrics.New()
	cfg.Apply, cfg.Report = exp.WrapApply(vips.Wrap(dp.Apply)), exp.WrapReport(dp.Report)
	rt, err := New(ctx, cfg)
	if err != nil {
		return err
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
	drain, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	dp.Close(drain)
	stopMetrics()
	metrics.Wait()
	return err
}
