package controller

import (
	"reflect"
	"testing"
)

func TestHealthScore(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      healthInputs
		score   float64
		reasons []string
	}{
		{"all well", healthInputs{serversTotal: 2, requests: 100, latencyP99: 10, latencyUsual: 9, sesPlaced: 1, sesServing: 1}, 100, nil},
		{"one of two servers down", healthInputs{serversTotal: 2, serversDown: 1, sesPlaced: 1, sesServing: 1}, 50, []string{"1 of 2 servers down"}},
		{"all servers down", healthInputs{serversTotal: 2, serversDown: 2, sesPlaced: 1, sesServing: 1}, 0, []string{"2 of 2 servers down"}},
		{"errors", healthInputs{requests: 100, errors: 20, sesPlaced: 1, sesServing: 1}, 80, []string{"20% of requests errored"}},
		{"a few errors cost without a reason", healthInputs{requests: 1000, errors: 8, sesPlaced: 1, sesServing: 1}, 99, nil},
		{"slow against its own level", healthInputs{requests: 10, latencyP99: 80, latencyUsual: 10, sesPlaced: 1, sesServing: 1}, 50,
			[]string{"p99 latency 80 ms, 8.0x its recent 10 ms"}},
		{"a little slower is fine", healthInputs{requests: 10, latencyP99: 15, latencyUsual: 10, sesPlaced: 1, sesServing: 1}, 100, nil},
		{"not applied on one SE", healthInputs{sesPlaced: 2, sesServing: 1}, 50, []string{"not serving on 1 of 2 service engines"}},
		{"everything at once", healthInputs{serversTotal: 4, serversDown: 1, requests: 100, errors: 10, sesPlaced: 2, sesServing: 1}, 34,
			[]string{"not serving on 1 of 2 service engines", "1 of 4 servers down", "10% of requests errored"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			score, reasons := healthScore(tc.in)
			if score != tc.score || !reflect.DeepEqual(reasons, tc.reasons) {
				t.Errorf("healthScore(%+v) = %v %q, want %v %q", tc.in, score, reasons, tc.score, tc.reasons)
			}
		})
	}
}
