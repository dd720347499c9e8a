package controller

import (
	"fmt"
	"math"
)

// healthInputs are what a virtual service's health score is computed from.
type healthInputs struct {
	serversTotal, serversDown int     // enabled pool members that SEs report, and those down
	requests, errors          float64 // per second, in the current interval
	latencyP99                float64 // ms, the current interval
	latencyUsual              float64 // ms, the service's own recent level (0: none yet)
	sesPlaced, sesServing     int     // the SEs it is placed on, and those up that applied it
	unplaced                  string  // why it is placed on no SE ("": it is placed)
}

// Thresholds of the health score.
const (
	// errorRatioShown is the share of errored requests below which no reason is given.
	errorRatioShown = 0.01
	// latencySlowdown is how far above its usual level the p99 latency must be to cost health.
	latencySlowdown = 2.0
	// latencyFloor is the least the latency part leaves of the score: slow is not down.
	latencyFloor = 0.5
)

// healthScore is a virtual service's health, 0 to 100, and the reasons it is below 100. Each
// trouble scales the score down: the share of service engines not serving it, of servers down, of
// requests that errored, and a p99 latency well above the service's own recent level.
func healthScore(in healthInputs) (float64, []string) {
	if in.unplaced != "" {
		return 0, []string{in.unplaced}
	}
	score := 1.0
	var reasons []string
	if in.sesPlaced > 0 && in.sesServing < in.sesPlaced {
		score *= float64(in.sesServing) / float64(in.sesPlaced)
		reasons = append(reasons, fmt.Sprintf("not serving on %d of %d service engines", in.sesPlaced-in.sesServing, in.sesPlaced))
	}
	if in.serversTotal > 0 && in.serversDown > 0 {
		score *= 1 - float64(in.serversDown)/float64(in.serversTotal)
		reasons = append(reasons, fmt.Sprintf("%d of %d servers down", in.serversDown, in.serversTotal))
	}
	if in.requests > 0 && in.errors > 0 {
		ratio := math.Min(in.errors/in.requests, 1)
		score *= 1 - ratio
		if ratio >= errorRatioShown {
			reasons = append(reasons, fmt.Sprintf("%.0f%% of requests errored", ratio*100))
		}
	}
	if in.latencyUsual > 0 && in.latencyP99 > latencySlowdown*in.latencyUsual {
		score *= math.Max(latencySlowdown*in.latencyUsual/in.latencyP99, latencyFloor)
		reasons = append(reasons, fmt.Sprintf("p99 latency %.0f ms, %.1fx its recent %.0f ms", in.latencyP99, in.latencyP99/in.latencyUsual, in.latencyUsual))
	}
	return math.Round(score * 100), reasons
}
