package proxylabel

import (
	"fmt"
	"strings"

	"github.com/avi-init/avi-init/model/avi"
)

// FrontEnd is what a workload's labels ask for.
type FrontEnd struct {
	NorthSouth bool                 // FE-Proxy: yes
	VS         *LabelVirtualService // nil when the label sets none
	Pool       *LabelPool           // nil when the label sets none
}

// FrontEndOf reads the FE-Proxy and avi_proxy labels among labels. FE-Proxy: yes needs the
// label's VIP: a north-south service has no other address.
func FrontEndOf(labels map[string]string) (FrontEnd, error) {
	var fe FrontEnd
	if v, ok := labels[FEProxyLabelKey]; ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "yes":
			fe.NorthSouth = true
		case "no":
		default:
			return fe, fmt.Errorf("label %s is %q: want yes or no", FEProxyLabelKey, v)
		}
	}
	if v, ok := labels[LabelKey]; ok {
		l, err := Parse(v)
		if err != nil {
			return fe, err
		}
		fe.VS, fe.Pool = l.VirtualService, l.Pool
	}
	if fe.NorthSouth && (fe.VS == nil || fe.VS.IPAddress == nil) {
		return fe, fmt.Errorf("label %s is yes, but the avi_proxy label gives no virtualservice.ip_address", FEProxyLabelKey)
	}
	return fe, nil
}

// Services are the label's front-end ports, matched to the workload's ports in order.
func (fe FrontEnd) Services() []LabelService {
	if fe.VS == nil {
		return nil
	}
	return fe.VS.Services
}

// Note says what of the label goes unused, or is "".
func (fe FrontEnd) Note() string {
	if fe.VS != nil && !fe.NorthSouth && (fe.VS.IPAddress != nil || fe.VS.Subnet != nil) {
		return fmt.Sprintf("avi_proxy ip_address and subnet are used only with %s: yes", FEProxyLabelKey)
	}
	return ""
}

// VirtualService is the service of one front-end port, its pool named poolName: east-west on
// every SE unless the labels make it north-south on the label's VIP, with the label's settings.
func (fe FrontEnd) VirtualService(name string, port int, ssl bool, poolName, profile, cloudRef string) *avi.VirtualService {
	vs := &avi.VirtualService{
		Meta:                  avi.Meta{Name: name},
		Services:              []avi.Service{{Port: port, EnableSSL: ssl}},
		PoolRef:               avi.KindPool.NameRef(poolName),
		ApplicationProfileRef: avi.KindApplicationProfile.NameRef(profile),
		EastWestPlacement:     !fe.NorthSouth,
		CloudRef:              cloudRef,
	}
	if l := fe.VS; l != nil {
		vs.AnalyticsPolicy = cloneAnalytics(l.AnalyticsPolicy)
		vs.Enabled = clonePtr(l.Enabled)
		if fe.NorthSouth {
			vs.IPAddress, vs.Subnet = clonePtr(l.IPAddress), clonePtr(l.Subnet)
			vs.EastWestPlacement = l.EastWestPlacement != nil && *l.EastWestPlacement
		}
	}
	return vs
}

// ApplyPool sets the label's balancing on pool.
func (fe FrontEnd) ApplyPool(pool *avi.Pool) {
	if fe.Pool != nil {
		pool.LBAlgorithm, pool.LBAlgorithmHash = fe.Pool.LBAlgorithm, fe.Pool.LBAlgorithmHash
	}
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

func cloneAnalytics(a *avi.AnalyticsPolicy) *avi.AnalyticsPolicy {
	c := clonePtr(a)
	if c != nil {
		c.MetricsRealtimeUpdate = clonePtr(a.MetricsRealtimeUpdate)
		c.FullClientLogs = clonePtr(a.FullClientLogs)
	}
	return c
}
