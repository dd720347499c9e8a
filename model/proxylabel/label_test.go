package proxylabel

import (
	"reflect"
	"strings"
	"testing"

	"github.com/avi-init/avi-init/model/avi"
)

// designLabel is DESIGN.md's example.
const designLabel = `{"virtualservice": {"ip_address": {"addr": "198.51.100.7", "type": "V4"},
                    "services": [{"port": 8080}],
                    "analytics_policy": {"metrics_realtime_update": {"enabled": true, "duration": 30},
                                         "client_insights": "NO_INSIGHTS",
                                         "full_client_logs": {"enabled": false}}},
 "pool": {"lb_algorithm": "LB_ALGORITHM_ROUND_ROBIN"}}`

func TestParseDesignExample(t *testing.T) {
	l, err := Parse(designLabel)
	if err != nil {
		t.Fatal(err)
	}
	if l.VirtualService.IPAddress.Addr != "198.51.100.7" || l.VirtualService.Services[0].Port != 8080 || l.Pool.LBAlgorithm != avi.LBRoundRobin {
		t.Errorf("got %+v", l)
	}
}

func TestFrontEnd(t *testing.T) {
	fe, err := FrontEndOf(map[string]string{FEProxyLabelKey: " Yes ", LabelKey: designLabel})
	if err != nil {
		t.Fatal(err)
	}
	vs := fe.VirtualService("web-80", 8080, false, "web-80", avi.SystemL4, "/api/cloud/c1")
	if vs.EastWestPlacement || vs.IPAddress == nil || vs.IPAddress.Addr != "198.51.100.7" || vs.PoolRef != "/api/pool?name=web-80" || vs.CloudRef != "/api/cloud/c1" {
		t.Errorf("north-south %+v", vs)
	}
	// The objects own their settings: changing one leaves the label's alone.
	vs.AnalyticsPolicy.MetricsRealtimeUpdate.Duration = 1
	if fe.VS.AnalyticsPolicy.MetricsRealtimeUpdate.Duration != 30 {
		t.Error("the virtual service shares the label's analytics policy")
	}
	pool := &avi.Pool{}
	fe.ApplyPool(pool)
	if pool.LBAlgorithm != avi.LBRoundRobin || fe.Note() != "" {
		t.Errorf("pool %+v, note %q", pool, fe.Note())
	}

	ew, err := FrontEndOf(map[string]string{LabelKey: designLabel})
	if err != nil {
		t.Fatal(err)
	}
	vs = ew.VirtualService("web-80", 8080, true, "web-80", avi.SystemL4, "")
	if !vs.EastWestPlacement || vs.IPAddress != nil || !vs.Services[0].EnableSSL || !strings.Contains(ew.Note(), "only with FE-Proxy: yes") {
		t.Errorf("east-west %+v, note %q", vs, ew.Note())
	}

	none, err := FrontEndOf(nil)
	if err != nil || !reflect.DeepEqual(none, FrontEnd{}) || none.Services() != nil {
		t.Errorf("no labels: %+v, %v", none, err)
	}
}

func TestBadLabels(t *testing.T) {
	for want, labels := range map[string]map[string]string{
		"avi_proxy label: want a JSON object":                     {LabelKey: "[]"},
		"avi_proxy label: text after the JSON object":             {LabelKey: "{} {}"},
		`unknown field "name"`:                                    {LabelKey: `{"virtualservice": {"name": "x"}}`},
		"virtualservice.services.port: got a JSON string":         {LabelKey: `{"virtualservice": {"services": [{"port": "80"}]}}`},
		`label FE-Proxy is "1": want yes or no`:                   {FEProxyLabelKey: "1"},
		"but the avi_proxy label gives no virtualservice.ip_addr": {FEProxyLabelKey: "yes"},
	} {
		if _, err := FrontEndOf(labels); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: %v, want %q", labels, err, want)
		}
	}
}
