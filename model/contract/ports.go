package contract

// Default ports. The installer's flags and the runtimes' own flags both default to these, so a
// runtime started by hand listens where an installed one would.
const (
	DefaultHTTPSPort  = 443  // controller UI and API
	DefaultHTTPPort   = 80   // controller, redirects to HTTPS
	DefaultSysintPort = 8443 // controller port SEs connect to
	DefaultDNSPort    = 53   // reserved for the controller: no DNS is served yet
	// DefaultSEMetricsPort is where the SE serves its Prometheus /metrics, on loopback.
	DefaultSEMetricsPort = 9180
)
