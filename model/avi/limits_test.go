package avi

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// servers is n distinct pool members.
func servers(n int) []Server {
	out := make([]Server, n)
	for i := range out {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		out[i] = Server{IP: IPAddr{Addr: a.String(), Type: "V4"}, Ratio: 1}
	}
	return out
}

func services(n int) []Service {
	out := make([]Service, n)
	for i := range out {
		out[i] = Service{Port: 1 + i}
	}
	return out
}

func hosts(n int) []LinuxHost {
	out := make([]LinuxHost, n)
	for i := range out {
		out[i] = LinuxHost{HostIP: IPAddr{Addr: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}).String(), Type: "V4"}}
	}
	return out
}

// validated is an object with its defaults, validated.
func validated(o Object) error {
	o.Defaults()
	return o.Validate()
}

// Every limit of docs/api.md: at the limit an object is accepted; past it the error names the
// field and the limit.
func TestLimits(t *testing.T) {
	pool := func(edit func(p *Pool)) func() Object {
		return func() Object {
			p := &Pool{Meta: Meta{Name: "p"}}
			edit(p)
			return p
		}
	}
	vs := func(n int) func() Object {
		return func() Object { return &VirtualService{Meta: Meta{Name: "v"}, Services: services(n)} }
	}
	linux := func(n int) func() Object {
		return func() Object {
			return &Cloud{Meta: Meta{Name: "c"}, Vtype: CloudLinuxServer, LinuxserverConfiguration: &LinuxServerConfiguration{SSHUserRef: "u", Hosts: hosts(n)}}
		}
	}
	docker := func(n int) func() Object {
		return func() Object {
			return &Cloud{Meta: Meta{Name: "c"}, Vtype: CloudDocker, DockerConfiguration: &DockerConfiguration{SSHUserRef: "u", Hosts: hosts(n)}}
		}
	}
	monitors := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "/api/healthmonitor/hm-" + strconv.Itoa(i)
		}
		return out
	}
	named := func(name string) func() Object {
		return func() Object { return &HealthMonitor{Meta: Meta{Name: name}, Type: HealthMonitorTCP} }
	}
	tenant := func(desc string) func() Object {
		return func() Object { return &Tenant{Meta: Meta{Name: "t"}, Description: desc} }
	}
	dns := func(n int) func() Object {
		return func() Object {
			list := make([]IPAddr, n)
			for i := range list {
				list[i] = IPAddr{Addr: "192.0.2.53", Type: "V4"}
			}
			return &SystemConfiguration{DNSConfiguration: &DNSConfiguration{ServerList: list}}
		}
	}
	cases := []struct {
		name      string
		ok, over  func() Object
		field     string
		limitText string
	}{
		{"servers per pool", pool(func(p *Pool) { p.Servers = servers(MaxServersPerPool) }), pool(func(p *Pool) { p.Servers = servers(MaxServersPerPool + 1) }), "servers", "5000"},
		{"health monitors per pool", pool(func(p *Pool) { p.HealthMonitorRefs = monitors(MaxHealthMonitorsPerPool) }),
			pool(func(p *Pool) { p.HealthMonitorRefs = monitors(MaxHealthMonitorsPerPool + 1) }), "health_monitor_refs", "20"},
		{"services per virtual service", vs(MaxServicesPerVirtualService), vs(MaxServicesPerVirtualService + 1), "services", "1024"},
		{"hosts per Linux server cloud", linux(MaxHostsPerCloud), linux(MaxHostsPerCloud + 1), "linuxserver_configuration.hosts", "1024"},
		{"hosts per Docker cloud", docker(MaxHostsPerCloud), docker(MaxHostsPerCloud + 1), "docker_configuration.hosts", "1024"},
		// Characters, not bytes: 256 two-byte characters are a valid name.
		{"name length", named(strings.Repeat("é", MaxNameLength)), named(strings.Repeat("a", MaxNameLength+1)), "name", "256"},
		{"description length", tenant(strings.Repeat("é", MaxDescriptionLength)), tenant(strings.Repeat("a", MaxDescriptionLength+1)), "description", "1024"},
		{"DNS servers", dns(MaxListItems), dns(MaxListItems + 1), "dns_configuration.server_list", "256"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := validated(c.ok()); err != nil {
				t.Fatalf("at the limit: %v", err)
			}
			err := validated(c.over())
			if got := fieldOf(t, err); got != c.field || !strings.Contains(err.Error(), c.limitText) {
				t.Errorf("over the limit: %v; want field %s and the limit %s", err, c.field, c.limitText)
			}
		})
	}
}

// Control characters, NUL first, are refused in names, in what health monitors send, in pool
// members' addresses and host names, and in what SEs and join tokens carry.
func TestControlCharactersRefused(t *testing.T) {
	hm := func(edit func(h *HealthMonitor)) Object {
		h := &HealthMonitor{Meta: Meta{Name: "hm"}, Type: HealthMonitorTCP}
		edit(h)
		return h
	}
	member := func(s Server) Object {
		s.Ratio = 1
		return &Pool{Meta: Meta{Name: "p"}, Servers: []Server{s}}
	}
	for _, bad := range []string{"\x00", "\x01", "\x1b[31m", "\x7f", "\u0085"} {
		cases := []struct {
			name  string
			obj   Object
			field string
		}{
			{"name", hm(func(h *HealthMonitor) { h.Name = "hm" + bad }), "name"},
			{"http_request", hm(func(h *HealthMonitor) {
				h.Type = HealthMonitorHTTP
				h.HTTPMonitor = &HTTPMonitor{HTTPRequest: "GET /" + bad + " HTTP/1.0"}
			}), "http_monitor.http_request"},
			{"tcp_request", hm(func(h *HealthMonitor) { h.TCPMonitor = &TCPMonitor{TCPRequest: "PING" + bad} }), "tcp_monitor.tcp_request"},
			{"tcp_response", hm(func(h *HealthMonitor) { h.TCPMonitor = &TCPMonitor{TCPResponse: "PONG" + bad} }), "tcp_monitor.tcp_response"},
			{"DNS pool member", member(Server{IP: IPAddr{Addr: "web" + bad + ".example", Type: "DNS"}}), "servers[0].ip.addr"},
			{"pool member host name", member(Server{IP: IPAddr{Addr: "192.0.2.1", Type: "V4"}, Hostname: "web" + bad}), "servers[0].hostname"},
			{"SE host name", &ServiceEngine{Meta: Meta{Name: "se"}, Hostname: "h" + bad}, "hostname"},
			{"SE version", &ServiceEngine{Meta: Meta{Name: "se"}, Version: "1.0" + bad}, "version"},
			{"join token description", &JoinToken{Meta: Meta{Name: "t"}, Description: "rack" + bad}, "description"},
			{"tenant description", &Tenant{Meta: Meta{Name: "t"}, Description: "x" + bad}, "description"},
		}
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s %q", c.name, bad), func(t *testing.T) {
				if got := fieldOf(t, validated(c.obj)); got != c.field {
					t.Errorf("%v: want field %s", validated(c.obj), c.field)
				}
			})
		}
	}
	// Line-based protocols need CR LF in what a TCP monitor sends and expects.
	redis := &HealthMonitor{Meta: Meta{Name: "redis"}, Type: HealthMonitorTCP, TCPMonitor: &TCPMonitor{TCPRequest: "PING\r\n", TCPResponse: "+PONG\r\n"}}
	if err := validated(redis); err != nil {
		t.Errorf("a TCP monitor sending PING CR LF: %v", err)
	}
	long := &HealthMonitor{Meta: Meta{Name: "long"}, Type: HealthMonitorTCP, TCPMonitor: &TCPMonitor{TCPRequest: strings.Repeat("a", MaxMonitorDataLength+1)}}
	if err := validated(long); fieldOf(t, err) != "tcp_monitor.tcp_request" || !strings.Contains(err.Error(), "1024") {
		t.Errorf("a TCP request of %d bytes: %v", MaxMonitorDataLength+1, err)
	}
}

// A password longer than bcrypt reads is refused, never cut: on a write with a 400 naming the
// field and the limit, and at login, where a longer password sharing the first 72 bytes of the
// real one does not pass.
func TestPasswordByteLimit(t *testing.T) {
	base := "Aa1-" + strings.Repeat("x", MaxPasswordBytes-4)
	u := &User{Username: "u", Password: base}
	u.Defaults()
	if err := u.Prepare(nil); err != nil {
		t.Fatalf("a %d-byte password: %v", len(base), err)
	}
	if !u.CheckPassword(base) || u.CheckPassword(base+"tail") {
		t.Errorf("the %d-byte password must log in, the same with more bytes after it must not", len(base))
	}
	over := &User{Username: "v", Password: base + "y"}
	err := over.Prepare(nil)
	if fieldOf(t, err) != "password" || !strings.Contains(err.Error(), "72") {
		t.Errorf("a %d-byte password: %v; want password: ... 72", len(base)+1, err)
	}
	// Bytes, not characters: 25 three-byte characters are 75 bytes.
	if err := CheckPasswordStrength("Aa1" + strings.Repeat("€", 25)); err == nil || !strings.Contains(err.Error(), "72") {
		t.Errorf("a 78-byte password of 28 characters: %v", err)
	}
	// A hash made by another bcrypt of a longer password (as an import may hold) lets no
	// password in through its first 72 bytes.
	h, err := bcrypt.GenerateFromPassword([]byte(base), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if (&User{PasswordHash: string(h)}).CheckPassword(base + "z") {
		t.Error("a 73-byte password logged in with the hash of its first 72 bytes")
	}
}

// Cloud connector users are the users the controller logs in to hosts as: only Linux user
// names, the rule the host install script and the SSH deployer check.
func TestCloudConnectorUserNames(t *testing.T) {
	for name, ok := range map[string]bool{
		"ops": true, "_svc": true, "avi-init": true, "a" + strings.Repeat("b", 31): true,
		"Ops": false, "ops;reboot": false, "o'p": false, "$(id)": false, "1ops": false, "-ops": false,
		"a" + strings.Repeat("b", 32): false, "ops\n": false, "": false,
	} {
		if ValidLinuxUser(name) != ok {
			t.Errorf("ValidLinuxUser(%q) = %v, want %v", name, !ok, ok)
		}
		c := &CloudConnectorUser{Meta: Meta{Name: name}, PublicKey: "ssh-ed25519 AAAA"}
		err := c.Validate()
		if ok && err != nil {
			t.Errorf("cloudconnectoruser %q: %v", name, err)
		}
		if !ok && (err == nil || fieldOf(t, err) != "name") {
			t.Errorf("cloudconnectoruser %q: %v, want a name error", name, err)
		}
	}
}
