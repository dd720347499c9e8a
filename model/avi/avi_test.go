package avi

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/ssh"
)

// fieldOf returns the field a validation error names, failing the test when err is not a
// *FieldError.
func fieldOf(t *testing.T, err error) string {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T): want a *FieldError", err, err)
	}
	if fe.Error() != fe.Field+": "+fe.Reason || fe.Reason == "" {
		t.Errorf("FieldError %q: want \"<field>: <reason>\"", fe.Error())
	}
	return fe.Field
}

func TestIPAddrValidate(t *testing.T) {
	cases := []struct {
		addr, typ string
		field     string // "" when valid
	}{
		{"192.0.2.1", "V4", ""},
		{"0.0.0.0", "V4", ""},
		{"2001:db8::1", "V6", ""},
		{"::1", "V6", ""},
		{"pool.ntp.org", "DNS", ""},
		{"leader.mesos", "DNS", ""},
		{"192.0.2.256", "V4", "f.addr"},
		{"2001:db8::1", "V4", "f.addr"},
		{"", "V4", "f.addr"},
		{"192.0.2.1", "V6", "f.addr"},
		{"::ffff:192.0.2.1", "V6", "f.addr"}, // an IPv4-mapped address is IPv4
		{"not an ip", "V6", "f.addr"},
		{"", "DNS", "f.addr"},
		{"bad host", "DNS", "f.addr"},
		{"a/b", "DNS", "f.addr"},
		{"192.0.2.1", "", "f.type"},
		{"192.0.2.1", "v4", "f.type"},
		{"192.0.2.1", "IPV4", "f.type"},
	}
	for _, c := range cases {
		err := IPAddr{Addr: c.addr, Type: c.typ}.validate("f")
		if c.field == "" {
			if err != nil {
				t.Errorf("%q %q: %v, want valid", c.addr, c.typ, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%q %q: valid, want an error on %s", c.addr, c.typ, c.field)
			continue
		}
		if f := fieldOf(t, err); f != c.field {
			t.Errorf("%q %q: error on %q (%v), want %q", c.addr, c.typ, f, err, c.field)
		}
	}
}

func TestCheckPasswordStrength(t *testing.T) {
	cases := []struct {
		pw string
		ok bool
	}{
		{"", false},
		{"Ab1!", false},
		{"Ab1!xyz", false},      // 7 characters
		{"Ab1!xyzw", true},      // 8, four kinds
		{"abcdefgh", false},     // one kind
		{"abcdefgh1234", false}, // two kinds
		{"ABCDEFGH1234", false}, // two kinds
		{"abcd!@#$", false},     // two kinds
		{"abcdEFGH1", true},     // lower, upper, digit
		{"abcd1234!", true},     // lower, digit, other
		{"ABCD1234!", true},     // upper, digit, other
		{"abcdEFGH!", true},     // lower, upper, other
		{"abcd efg1", true},     // a space is an other character
		{"Пароль123", true},     // Unicode letters count by case
		{"пароль123", false},    // lower and digits only
		{"correct horse battery staple", false},
		{"Correct horse battery staple", true},
	}
	for _, c := range cases {
		err := CheckPasswordStrength(c.pw)
		if (err == nil) != c.ok {
			t.Errorf("CheckPasswordStrength(%q) = %v, want ok=%v", c.pw, err, c.ok)
		}
	}
}

func TestPasswordLengthCountsCharacters(t *testing.T) {
	if err := CheckPasswordStrength("Éééééé1"); err == nil {
		t.Error("a 7-character password passed the 8-character rule")
	}
}

func TestHealthMonitorDefaultsAndValidate(t *testing.T) {
	h := &HealthMonitor{Meta: Meta{Name: "hm"}, Type: HealthMonitorHTTP}
	h.Defaults()
	if h.SendInterval != 10 || h.ReceiveTimeout != 4 || h.SuccessfulChecks != 2 || h.FailedChecks != 2 {
		t.Errorf("defaults %+v: want send_interval 10, receive_timeout 4, checks 2/2", h)
	}
	if h.HTTPMonitor == nil || h.HTTPMonitor.HTTPRequest != "HEAD / HTTP/1.0" || strings.Join(h.HTTPMonitor.HTTPResponseCode, ",") != "HTTP_2XX,HTTP_3XX" {
		t.Errorf("http_monitor defaults %+v", h.HTTPMonitor)
	}
	if err := h.Validate(); err != nil {
		t.Errorf("defaulted HTTP monitor: %v", err)
	}
	tcp := &HealthMonitor{Meta: Meta{Name: "tcp"}, Type: HealthMonitorTCP}
	tcp.Defaults()
	if tcp.HTTPMonitor != nil {
		t.Errorf("a TCP monitor got an http_monitor: %+v", tcp.HTTPMonitor)
	}
	// Values given are kept.
	g := &HealthMonitor{Meta: Meta{Name: "g"}, Type: HealthMonitorHTTP, SendInterval: 5, ReceiveTimeout: 3, HTTPMonitor: &HTTPMonitor{HTTPRequest: "GET /health HTTP/1.1"}}
	g.Defaults()
	if g.SendInterval != 5 || g.ReceiveTimeout != 3 || g.HTTPMonitor.HTTPRequest != "GET /health HTTP/1.1" {
		t.Errorf("defaults overwrote given values: %+v %+v", g, g.HTTPMonitor)
	}

	cases := []struct {
		name  string
		edit  func(h *HealthMonitor)
		field string
	}{
		{"valid", func(h *HealthMonitor) {}, ""},
		{"no name", func(h *HealthMonitor) { h.Name = "" }, "name"},
		{"blank name", func(h *HealthMonitor) { h.Name = "  " }, "name"},
		{"control character in name", func(h *HealthMonitor) { h.Name = "a\nb" }, "name"},
		{"long name", func(h *HealthMonitor) { h.Name = strings.Repeat("x", 257) }, "name"},
		{"bad type", func(h *HealthMonitor) { h.Type = "HEALTH_MONITOR_PING" }, "type"},
		{"send_interval 0", func(h *HealthMonitor) { h.SendInterval = 0 }, "send_interval"},
		{"send_interval too big", func(h *HealthMonitor) { h.SendInterval = 3601 }, "send_interval"},
		{"receive_timeout equals send_interval", func(h *HealthMonitor) { h.SendInterval, h.ReceiveTimeout = 5, 5 }, "receive_timeout"},
		{"receive_timeout above send_interval", func(h *HealthMonitor) { h.SendInterval, h.ReceiveTimeout = 5, 9 }, "receive_timeout"},
		{"successful_checks 51", func(h *HealthMonitor) { h.SuccessfulChecks = 51 }, "successful_checks"},
		{"failed_checks 0", func(h *HealthMonitor) { h.FailedChecks = 0 }, "failed_checks"},
		{"bad request line", func(h *HealthMonitor) { h.HTTPMonitor.HTTPRequest = "GET" }, "http_monitor.http_request"},
		{"request without path", func(h *HealthMonitor) { h.HTTPMonitor.HTTPRequest = "GET index HTTP/1.0" }, "http_monitor.http_request"},
		{"header injection", func(h *HealthMonitor) { h.HTTPMonitor.HTTPRequest = "GET / HTTP/1.0\r\nHost: x" }, "http_monitor.http_request"},
		{"bad response code", func(h *HealthMonitor) { h.HTTPMonitor.HTTPResponseCode = []string{"HTTP_2XX", "HTTP_200"} }, "http_monitor.http_response_code[1]"},
		{"tcp_monitor on HTTP", func(h *HealthMonitor) { h.TCPMonitor = &TCPMonitor{} }, "tcp_monitor"},
		{"http_monitor on TCP", func(h *HealthMonitor) { h.Type = HealthMonitorTCP }, "http_monitor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := &HealthMonitor{Meta: Meta{Name: "hm-http"}, Type: HealthMonitorHTTP, SendInterval: 5, ReceiveTimeout: 4, SuccessfulChecks: 2, FailedChecks: 3,
				HTTPMonitor: &HTTPMonitor{HTTPRequest: "GET / HTTP/1.0", HTTPResponseCode: []string{"HTTP_2XX", "HTTP_3XX"}}}
			c.edit(h)
			checkField(t, h.Validate(), c.field)
		})
	}
}

func checkField(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("Validate: %v, want valid", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("Validate passed, want an error on %s", field)
	}
	if f := fieldOf(t, err); f != field {
		t.Errorf("error on %q (%v), want %q", f, err, field)
	}
}

func TestPoolDefaultsAndValidate(t *testing.T) {
	p := &Pool{Meta: Meta{Name: "web"}, Servers: []Server{{IP: IPAddr{Addr: "192.0.2.21", Type: "V4"}, Port: 8080}}}
	p.Defaults()
	if p.LBAlgorithm != LBLeastConnections || p.DefaultServerPort != 80 || p.LBAlgorithmHash != "" {
		t.Errorf("defaults %+v: want least connections on port 80", p)
	}
	if s := p.Servers[0]; s.Enabled == nil || !*s.Enabled || s.Ratio != 1 {
		t.Errorf("server defaults %+v: want enabled, ratio 1", s)
	}
	off := false
	q := &Pool{Meta: Meta{Name: "h"}, LBAlgorithm: LBConsistentHash, Servers: []Server{{IP: IPAddr{Addr: "192.0.2.1", Type: "V4"}, Enabled: &off, Ratio: 3}}}
	q.Defaults()
	if q.LBAlgorithmHash != "LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS" || *q.Servers[0].Enabled || q.Servers[0].Ratio != 3 {
		t.Errorf("defaults %+v %+v: want the source-IP hash, the server kept disabled with ratio 3", q, q.Servers[0])
	}

	srv := func(addr string, port int) Server {
		return Server{IP: IPAddr{Addr: addr, Type: "V4"}, Port: port, Ratio: 1}
	}
	cases := []struct {
		name  string
		edit  func(p *Pool)
		field string
	}{
		{"valid", func(p *Pool) {}, ""},
		{"no servers", func(p *Pool) { p.Servers = nil }, ""},
		{"no name", func(p *Pool) { p.Name = "" }, "name"},
		{"bad algorithm", func(p *Pool) { p.LBAlgorithm = "LB_ALGORITHM_RANDOM" }, "lb_algorithm"},
		{"bad hash", func(p *Pool) { p.LBAlgorithmHash = "LB_ALGORITHM_CONSISTENT_HASH_URI" }, "lb_algorithm_hash"},
		{"default port 0", func(p *Pool) { p.DefaultServerPort = 0 }, "default_server_port"},
		{"default port 65536", func(p *Pool) { p.DefaultServerPort = 65536 }, "default_server_port"},
		{"server port 70000", func(p *Pool) { p.Servers[1].Port = 70000 }, "servers[1].port"},
		{"server port -1", func(p *Pool) { p.Servers[0].Port = -1 }, "servers[0].port"},
		{"server bad ip", func(p *Pool) { p.Servers[1].IP.Addr = "192.0.2" }, "servers[1].ip.addr"},
		{"server bad ip type", func(p *Pool) { p.Servers[0].IP.Type = "" }, "servers[0].ip.type"},
		{"server ratio 21", func(p *Pool) { p.Servers[0].Ratio = 21 }, "servers[0].ratio"},
		{"duplicate server", func(p *Pool) { p.Servers[1] = p.Servers[0] }, "servers[1]"},
		{"same ip other port", func(p *Pool) { p.Servers[1] = srv("192.0.2.21", 8081) }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &Pool{Meta: Meta{Name: "web"}, LBAlgorithm: LBLeastConnections, DefaultServerPort: 80,
				Servers: []Server{srv("192.0.2.21", 8080), srv("192.0.2.22", 8080)}}
			c.edit(p)
			checkField(t, p.Validate(), c.field)
		})
	}
}

func TestVirtualServiceDefaultsAndValidate(t *testing.T) {
	v := &VirtualService{Meta: Meta{Name: "web-vs"}, Services: []Service{{Port: 10001}}}
	v.Defaults()
	if v.ApplicationProfileRef != "/api/applicationprofile?name=System-HTTP" {
		t.Errorf("application_profile_ref %q, want %q", v.ApplicationProfileRef, DefaultProfileRef)
	}
	if !v.IsEnabled() || v.Enabled == nil || !*v.Enabled {
		t.Error("a new virtual service is not enabled")
	}
	a := v.AnalyticsPolicy
	if a == nil || a.ClientInsights != "NO_INSIGHTS" || a.MetricsRealtimeUpdate == nil || a.MetricsRealtimeUpdate.Enabled || a.FullClientLogs == nil || a.FullClientLogs.Enabled {
		t.Errorf("analytics defaults %+v", a)
	}
	if err := v.Validate(); err != nil {
		t.Errorf("defaulted VS: %v", err)
	}
	off := false
	if (&VirtualService{Enabled: &off}).IsEnabled() || !(&VirtualService{}).IsEnabled() {
		t.Error("IsEnabled: want false when disabled, true when unset")
	}

	cases := []struct {
		name  string
		edit  func(v *VirtualService)
		field string
	}{
		{"valid", func(v *VirtualService) {}, ""},
		{"no name", func(v *VirtualService) { v.Name = "" }, "name"},
		{"no services", func(v *VirtualService) { v.Services = nil }, "services"},
		{"port 0", func(v *VirtualService) { v.Services[0].Port = 0 }, "services[0].port"},
		{"port 65536", func(v *VirtualService) { v.Services[1].Port = 65536 }, "services[1].port"},
		{"duplicate port", func(v *VirtualService) { v.Services[1].Port = 80 }, "services[1].port"},
		{"range end below port", func(v *VirtualService) { v.Services[1].PortRangeEnd = 442 }, "services[1].port_range_end"},
		{"range end too big", func(v *VirtualService) { v.Services[1].PortRangeEnd = 65536 }, "services[1].port_range_end"},
		{"range", func(v *VirtualService) { v.Services[1].PortRangeEnd = 450 }, ""},
		{"v6 vip", func(v *VirtualService) { v.IPAddress = &IPAddr{Addr: "2001:db8::7", Type: "V6"} }, ""},
		{"bad vip", func(v *VirtualService) { v.IPAddress = &IPAddr{Addr: "198.51.100", Type: "V4"} }, "ip_address.addr"},
		{"dns vip", func(v *VirtualService) { v.IPAddress = &IPAddr{Addr: "vs.example", Type: "DNS"} }, "ip_address.type"},
		{"subnet", func(v *VirtualService) {
			v.Subnet = &Subnet{IPAddr: IPAddr{Addr: "198.51.100.0", Type: "V4"}, Mask: 24}
		}, ""},
		{"bad subnet mask", func(v *VirtualService) {
			v.Subnet = &Subnet{IPAddr: IPAddr{Addr: "198.51.100.0", Type: "V4"}, Mask: 129}
		}, "subnet.mask"},
		{"bad subnet addr", func(v *VirtualService) { v.Subnet = &Subnet{IPAddr: IPAddr{Addr: "x", Type: "V4"}, Mask: 24} }, "subnet.ip_addr.addr"},
		{"bad client_insights", func(v *VirtualService) { v.AnalyticsPolicy.ClientInsights = "ALL" }, "analytics_policy.client_insights"},
		{"negative duration", func(v *VirtualService) { v.AnalyticsPolicy.FullClientLogs = &Toggle{Enabled: true, Duration: -1} }, "analytics_policy.full_client_logs.duration"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := &VirtualService{Meta: Meta{Name: "web-vs"}, Services: []Service{{Port: 80}, {Port: 443}},
				IPAddress: &IPAddr{Addr: "198.51.100.7", Type: "V4"}, AnalyticsPolicy: &AnalyticsPolicy{ClientInsights: "NO_INSIGHTS"}}
			c.edit(v)
			checkField(t, v.Validate(), c.field)
		})
	}
}

// TestAviProxyLabelDecodes reads the DESIGN.md avi_proxy example into the shared types.
func TestAviProxyLabelDecodes(t *testing.T) {
	label := `{"virtualservice": {"ip_address": {"addr": "198.51.100.7", "type": "V4"},
                    "services": [{"port": 8080}],
                    "analytics_policy": {"metrics_realtime_update": {"enabled": true, "duration": 30},
                                         "client_insights": "NO_INSIGHTS",
                                         "full_client_logs": {"enabled": false}}},
 "pool": {"lb_algorithm": "LB_ALGORITHM_ROUND_ROBIN"}}`
	var doc struct {
		VirtualService VirtualService `json:"virtualservice"`
		Pool           Pool           `json:"pool"`
	}
	dec := json.NewDecoder(strings.NewReader(label))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	v := doc.VirtualService
	v.Name = "app"
	v.Defaults()
	if err := v.Validate(); err != nil {
		t.Fatal(err)
	}
	if m := v.AnalyticsPolicy.MetricsRealtimeUpdate; !m.Enabled || m.Duration != 30 || v.IPAddress.Addr != "198.51.100.7" || v.Services[0].Port != 8080 {
		t.Errorf("decoded %+v", v)
	}
	if doc.Pool.LBAlgorithm != LBRoundRobin {
		t.Errorf("pool lb_algorithm %q", doc.Pool.LBAlgorithm)
	}
}

func TestApplicationProfileValidate(t *testing.T) {
	checkField(t, (&ApplicationProfile{Meta: Meta{Name: SystemHTTP}, Type: ProfileHTTP}).Validate(), "")
	checkField(t, (&ApplicationProfile{Meta: Meta{Name: SystemL4}, Type: ProfileL4}).Validate(), "")
	checkField(t, (&ApplicationProfile{Meta: Meta{Name: "p"}, Type: "APPLICATION_PROFILE_TYPE_DNS"}).Validate(), "type")
	checkField(t, (&ApplicationProfile{Type: ProfileHTTP}).Validate(), "name")
}

func TestSystemConfigurationRules(t *testing.T) {
	s := &SystemConfiguration{}
	s.Defaults()
	if s.Name != "systemconfiguration" || s.EmailConfiguration == nil || s.EmailConfiguration.SMTPType != "SMTP_NONE" {
		t.Errorf("defaults %+v", s)
	}
	srv := &SystemConfiguration{EmailConfiguration: &EmailConfiguration{SMTPType: "SMTP_SERVER", SMTPServer: "mail.example"}}
	srv.Defaults()
	if srv.EmailConfiguration.SMTPPort != 25 {
		t.Errorf("SMTP_SERVER port %d, want 25", srv.EmailConfiguration.SMTPPort)
	}
	cases := []struct {
		name  string
		s     SystemConfiguration
		field string
	}{
		{"setup example", SystemConfiguration{
			DNSConfiguration:   &DNSConfiguration{ServerList: []IPAddr{{Addr: "192.0.2.53", Type: "V4"}}},
			NTPConfiguration:   &NTPConfiguration{NTPServers: []NTPServer{{Server: IPAddr{Addr: "pool.ntp.org", Type: "DNS"}}}},
			EmailConfiguration: &EmailConfiguration{SMTPType: "SMTP_NONE"}}, ""},
		{"bad dns", SystemConfiguration{DNSConfiguration: &DNSConfiguration{ServerList: []IPAddr{{Addr: "192.0.2.53", Type: "V4"}, {Addr: "x y", Type: "V4"}}}}, "dns_configuration.server_list[1].addr"},
		{"bad ntp", SystemConfiguration{NTPConfiguration: &NTPConfiguration{NTPServers: []NTPServer{{Server: IPAddr{Addr: "pool.ntp.org", Type: "NAME"}}}}}, "ntp_configuration.ntp_servers[0].server.type"},
		{"bad smtp type", SystemConfiguration{EmailConfiguration: &EmailConfiguration{SMTPType: "SMTP_RELAY"}}, "email_configuration.smtp_type"},
		{"smtp server missing", SystemConfiguration{EmailConfiguration: &EmailConfiguration{SMTPType: "SMTP_SERVER"}}, "email_configuration.smtp_server"},
		{"smtp port", SystemConfiguration{EmailConfiguration: &EmailConfiguration{SMTPType: "SMTP_SERVER", SMTPServer: "m", SMTPPort: 70000}}, "email_configuration.mail_server_port"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkField(t, c.s.Validate(), c.field) })
	}

	// The SMTP password is a secret, kept by an update that does not send it.
	old := &SystemConfiguration{EmailConfiguration: &EmailConfiguration{SMTPType: "SMTP_SERVER", SMTPServer: "m", AuthUsername: "u", AuthPassword: "smtp-secret"}}
	upd := &SystemConfiguration{EmailConfiguration: &EmailConfiguration{SMTPType: "SMTP_SERVER", SMTPServer: "m2", AuthUsername: "u"}}
	if err := upd.Prepare(old); err != nil || upd.EmailConfiguration.AuthPassword != "smtp-secret" {
		t.Errorf("Prepare: %v, auth_password %q; want the old one kept", err, upd.EmailConfiguration.AuthPassword)
	}
	chg := &SystemConfiguration{EmailConfiguration: &EmailConfiguration{SMTPType: "SMTP_SERVER", SMTPServer: "m", AuthPassword: "new"}}
	if chg.Prepare(old); chg.EmailConfiguration.AuthPassword != "new" {
		t.Errorf("Prepare replaced a new password with the old one")
	}
	if sec := old.Secrets(); len(sec) != 1 || *sec[0] != "smtp-secret" {
		t.Errorf("Secrets %v: want the SMTP password", sec)
	}
	Redact(old)
	if old.EmailConfiguration.AuthPassword != "" || old.EmailConfiguration.AuthUsername != "u" {
		t.Errorf("Redact left %+v", old.EmailConfiguration)
	}
	if len((&SystemConfiguration{}).Secrets()) != 0 {
		t.Error("Secrets of a configuration without email: want none")
	}
}

func TestUserPrepareAndValidate(t *testing.T) {
	u := &User{Username: "admin", Password: "Adm1n-pass"}
	u.Defaults()
	if u.Name != "admin" {
		t.Errorf("name %q, want the username", u.Name)
	}
	if err := u.Prepare(nil); err != nil {
		t.Fatal(err)
	}
	if u.Password != "" || !strings.HasPrefix(u.PasswordHash, "$2") {
		t.Fatalf("after Prepare: password %q, hash %q; want the password cleared and a bcrypt hash", u.Password, u.PasswordHash)
	}
	// This package's tests leave the product's cost alone.
	if cost, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil || cost != 12 || DefaultBcryptCost != 12 {
		t.Errorf("hash cost %d (%v), default %d; want the product's 12", cost, err, DefaultBcryptCost)
	}
	if err := u.Validate(); err != nil {
		t.Fatal(err)
	}
	if !u.CheckPassword("Adm1n-pass") || u.CheckPassword("adm1n-pass") || u.CheckPassword("") {
		t.Error("CheckPassword: want only the password itself accepted")
	}
	if (&User{}).CheckPassword("") {
		t.Error("a user without a hash accepted the empty password")
	}
	Redact(u)
	if u.PasswordHash != "" || u.Password != "" {
		t.Error("Redact kept the hash")
	}

	old := &User{Meta: Meta{Name: "admin"}, Username: "admin", PasswordHash: "$2a$12$stored"}
	keep := &User{Meta: Meta{Name: "admin"}, Username: "admin", IsSuperuser: true}
	if err := keep.Prepare(old); err != nil || keep.PasswordHash != old.PasswordHash {
		t.Errorf("update without a password: %v, hash %q; want the stored hash kept", err, keep.PasswordHash)
	}
	imported := &User{Username: "x", PasswordHash: "$2a$12$imported"}
	if err := imported.Prepare(nil); err != nil || imported.PasswordHash != "$2a$12$imported" {
		t.Errorf("import with a hash: %v, %q", err, imported.PasswordHash)
	}
	for _, c := range []struct {
		name string
		u    *User
		old  Object
	}{
		{"no password on create", &User{Username: "x"}, nil},
		{"weak password", &User{Username: "x", Password: "password"}, nil},
		{"weak password on update", &User{Username: "x", Password: "short"}, old},
		{"old is not a user", &User{Username: "x"}, &Pool{}},
	} {
		if err := c.u.Prepare(c.old); err == nil || fieldOf(t, err) != "password" {
			t.Errorf("%s: Prepare %v, want an error on password", c.name, err)
		}
	}
	for _, c := range []struct {
		u     User
		field string
	}{
		{User{Meta: Meta{Name: "a"}, Username: "", PasswordHash: "h"}, "username"},
		{User{Meta: Meta{Name: "a"}, Username: "a b", PasswordHash: "h"}, "username"},
		{User{Meta: Meta{Name: "a"}, Username: "a:b", PasswordHash: "h"}, "username"},
		{User{Meta: Meta{Name: "a"}, Username: "a\x01", PasswordHash: "h"}, "username"},
		{User{Meta: Meta{Name: "a"}, Username: "a"}, "password"},
		{User{Meta: Meta{Name: ""}, Username: "a", PasswordHash: "h"}, "name"},
		{User{Meta: Meta{Name: "a"}, Username: "a", PasswordHash: "h"}, ""},
	} {
		checkField(t, c.u.Validate(), c.field)
	}
}

func pemOf(t *testing.T, typ string, der []byte) string {
	t.Helper()
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func authorizedKey(t *testing.T, pub any) string {
	t.Helper()
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func TestCloudConnectorUserKeys(t *testing.T) {
	// Generated.
	gen := &CloudConnectorUser{Meta: Meta{Name: "ops"}}
	if err := gen.Prepare(nil); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(gen.PublicKey, "ssh-ed25519 AAAA") || !strings.Contains(gen.PrivateKey, "BEGIN OPENSSH PRIVATE KEY") {
		t.Fatalf("generated pair: public %q, private starts %.40q", gen.PublicKey, gen.PrivateKey)
	}
	signer, err := ssh.ParsePrivateKey([]byte(gen.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))); got != gen.PublicKey {
		t.Errorf("public key %q does not match the private key's %q", gen.PublicKey, got)
	}
	if err := gen.Validate(); err != nil {
		t.Error(err)
	}
	other := &CloudConnectorUser{Meta: Meta{Name: "ops2"}}
	other.Prepare(nil)
	if other.PublicKey == gen.PublicKey {
		t.Error("two generated pairs are the same")
	}

	// Kept by an update that sends no private key.
	upd := &CloudConnectorUser{Meta: Meta{Name: "ops"}, PublicKey: "ssh-ed25519 forged"}
	if err := upd.Prepare(gen); err != nil || upd.PrivateKey != gen.PrivateKey || upd.PublicKey != gen.PublicKey {
		t.Errorf("update without a key: %v; want the stored pair kept, got public %q", err, upd.PublicKey)
	}

	// Imported keys: OpenSSH ed25519, PKCS#8 RSA, PKCS#8 EC, SEC 1 EC, PKCS#1 RSA.
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(edPriv, "test")
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPKCS8, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecPKCS8, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	ecSEC1, _ := x509.MarshalECPrivateKey(ecKey)
	edPKCS8, _ := x509.MarshalPKCS8PrivateKey(edPriv)
	imports := []struct {
		name, pem, want string
	}{
		{"openssh ed25519", string(pem.EncodeToMemory(block)), authorizedKey(t, edPub)},
		{"pkcs8 ed25519", pemOf(t, "PRIVATE KEY", edPKCS8), authorizedKey(t, edPub)},
		{"pkcs8 rsa", pemOf(t, "PRIVATE KEY", rsaPKCS8), authorizedKey(t, &rsaKey.PublicKey)},
		{"pkcs1 rsa", pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), authorizedKey(t, &rsaKey.PublicKey)},
		{"pkcs8 ec", pemOf(t, "PRIVATE KEY", ecPKCS8), authorizedKey(t, &ecKey.PublicKey)},
		{"sec1 ec", pemOf(t, "EC PRIVATE KEY", ecSEC1), authorizedKey(t, &ecKey.PublicKey)},
	}
	for _, c := range imports {
		t.Run(c.name, func(t *testing.T) {
			u := &CloudConnectorUser{Meta: Meta{Name: "imp"}, PrivateKey: c.pem, PublicKey: "ssh-ed25519 forged"}
			if err := u.Prepare(nil); err != nil {
				t.Fatal(err)
			}
			if u.PublicKey != c.want {
				t.Errorf("public key %q, want %q", u.PublicKey, c.want)
			}
			if u.PrivateKey != c.pem {
				t.Error("the imported private key was changed")
			}
			// A new key on an update replaces the stored pair.
			u2 := &CloudConnectorUser{Meta: Meta{Name: "imp"}, PrivateKey: c.pem}
			if err := u2.Prepare(gen); err != nil || u2.PublicKey != c.want {
				t.Errorf("update with a new key: %v, public %q", err, u2.PublicKey)
			}
			if err := u.Validate(); err != nil {
				t.Error(err)
			}
		})
	}

	encrypted, err := ssh.MarshalPrivateKeyWithPassphrase(edPriv, "test", []byte("passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"garbage":     "not a key",
		"garbage pem": pemOf(t, "PRIVATE KEY", []byte("garbage")),
		"public key":  authorizedKey(t, edPub),
		"certificate": pemOf(t, "CERTIFICATE", []byte{0x30, 0x03, 0x02, 0x01, 0x01}),
		"encrypted":   string(pem.EncodeToMemory(encrypted)),
	} {
		u := &CloudConnectorUser{Meta: Meta{Name: "bad"}, PrivateKey: bad}
		err := u.Prepare(nil)
		if err == nil {
			t.Errorf("%s: accepted as a private key", name)
			continue
		}
		if f := fieldOf(t, err); f != "private_key" {
			t.Errorf("%s: error on %q, want private_key", name, f)
		}
		if strings.Contains(err.Error(), bad) {
			t.Errorf("%s: the error echoes the key", name)
		}
	}

	checkField(t, (&CloudConnectorUser{Meta: Meta{Name: "x"}}).Validate(), "private_key")
	checkField(t, (&CloudConnectorUser{PublicKey: "ssh-ed25519 A"}).Validate(), "name")
	s := &CloudConnectorUser{PrivateKey: "k", PublicKey: "p"}
	Redact(s)
	if s.PrivateKey != "" || s.PublicKey != "p" {
		t.Errorf("Redact: %+v; want only the private key emptied", s)
	}
}

func TestCloudRules(t *testing.T) {
	c := &Cloud{Meta: Meta{Name: "c"}}
	c.Defaults()
	if c.Vtype != CloudNone {
		t.Errorf("vtype %q, want %s", c.Vtype, CloudNone)
	}
	m := &Cloud{Meta: Meta{Name: "m"}, Vtype: CloudMesos, MesosConfiguration: &MesosConfiguration{MarathonConfigurations: []MarathonConfiguration{{MarathonURL: "http://leader.mesos:8080"}}}}
	m.Defaults()
	if m.MesosConfiguration.AppSyncFrequency != 60 {
		t.Errorf("app_sync_frequency %d, want 60", m.MesosConfiguration.AppSyncFrequency)
	}
	linux := func() *Cloud {
		return &Cloud{Meta: Meta{Name: DefaultCloudName}, Vtype: CloudLinuxServer, LinuxserverConfiguration: &LinuxServerConfiguration{
			SSHUserRef: "/api/cloudconnectoruser?name=ops", Hosts: []LinuxHost{{HostIP: IPAddr{Addr: "192.0.2.31", Type: "V4"}}}}}
	}
	docker := func() *Cloud {
		return &Cloud{Meta: Meta{Name: "d"}, Vtype: CloudDocker, DockerConfiguration: &DockerConfiguration{
			SSHUserRef: "/api/cloudconnectoruser?name=ops", Hosts: []LinuxHost{{HostIP: IPAddr{Addr: "192.0.2.41", Type: "V4"}}}}}
	}
	cases := []struct {
		name  string
		c     *Cloud
		field string
	}{
		{"none", &Cloud{Meta: Meta{Name: "x"}, Vtype: CloudNone}, ""},
		{"linux", linux(), ""},
		{"mesos", m, ""},
		{"docker", docker(), ""},
		{"docker without user", &Cloud{Meta: Meta{Name: "x"}, Vtype: CloudDocker}, "docker_configuration.ssh_user_ref"},
		{"docker bad host", func() *Cloud { c := docker(); c.DockerConfiguration.Hosts[0].HostIP.Addr = "::g"; return c }(), "docker_configuration.hosts[0].host_ip.addr"},
		{"bad vtype", &Cloud{Meta: Meta{Name: "x"}, Vtype: "CLOUD_VCENTER"}, "vtype"},
		{"no name", &Cloud{Vtype: CloudNone}, "name"},
		{"linux without user", func() *Cloud { c := linux(); c.LinuxserverConfiguration.SSHUserRef = ""; return c }(), "linuxserver_configuration.ssh_user_ref"},
		{"linux without configuration", &Cloud{Meta: Meta{Name: "x"}, Vtype: CloudLinuxServer}, "linuxserver_configuration.ssh_user_ref"},
		{"linux bad host", func() *Cloud { c := linux(); c.LinuxserverConfiguration.Hosts[0].HostIP.Addr = "192.0.2"; return c }(), "linuxserver_configuration.hosts[0].host_ip.addr"},
		{"mesos without marathon", &Cloud{Meta: Meta{Name: "x"}, Vtype: CloudMesos, MesosConfiguration: &MesosConfiguration{AppSyncFrequency: 60}}, "mesos_configuration.marathon_configurations"},
		{"mesos without configuration", &Cloud{Meta: Meta{Name: "x"}, Vtype: CloudMesos}, "mesos_configuration.marathon_configurations"},
		{"marathon url", &Cloud{Meta: Meta{Name: "x"}, Vtype: CloudMesos, MesosConfiguration: &MesosConfiguration{AppSyncFrequency: 60, MarathonConfigurations: []MarathonConfiguration{{MarathonURL: "leader.mesos:8080"}}}}, "mesos_configuration.marathon_configurations[0].marathon_url"},
		{"sync frequency", &Cloud{Meta: Meta{Name: "x"}, Vtype: CloudMesos, MesosConfiguration: &MesosConfiguration{AppSyncFrequency: 3601, MarathonConfigurations: []MarathonConfiguration{{MarathonURL: "http://m"}}}}, "mesos_configuration.app_sync_frequency"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkField(t, c.c.Validate(), c.field) })
	}

	// Refs: the SSH users of Linux and Docker clouds.
	l := linux()
	refs := l.Refs()
	if len(refs) != 1 || refs[0].Field != "linuxserver_configuration.ssh_user_ref" || refs[0].Kind != KindCloudConnectorUser || refs[0].Value != &l.LinuxserverConfiguration.SSHUserRef {
		t.Errorf("linux refs %+v", refs)
	}
	d := &Cloud{DockerConfiguration: &DockerConfiguration{SSHUserRef: "/api/cloudconnectoruser/x"}}
	if r := d.Refs(); len(r) != 1 || r[0].Field != "docker_configuration.ssh_user_ref" {
		t.Errorf("docker refs %+v", r)
	}
	if r := (&Cloud{}).Refs(); len(r) != 0 {
		t.Errorf("refs of a bare cloud: %+v", r)
	}

	// SE hosts: a Linux server or Docker cloud's, by its type only.
	if u, h := linux().SEHosts(); u != "/api/cloudconnectoruser?name=ops" || len(h) != 1 || h[0].HostIP.Addr != "192.0.2.31" {
		t.Errorf("linux SE hosts %q %+v", u, h)
	}
	if u, h := docker().SEHosts(); u != "/api/cloudconnectoruser?name=ops" || len(h) != 1 || h[0].HostIP.Addr != "192.0.2.41" {
		t.Errorf("docker SE hosts %q %+v", u, h)
	}
	stale := docker()
	stale.Vtype = CloudNone
	if u, h := stale.SEHosts(); u != "" || h != nil {
		t.Errorf("a cloud no longer Docker still has SE hosts %q %+v", u, h)
	}

	// Marathon passwords and tokens are secrets, kept by an update to the same Marathon and user.
	old := &Cloud{MesosConfiguration: &MesosConfiguration{MarathonConfigurations: []MarathonConfiguration{
		{MarathonURL: "http://a:8080", MarathonUsername: "u", MarathonPassword: "pa"},
		{MarathonURL: "http://b:8080", MarathonUsername: "u", MarathonPassword: "pb", MarathonToken: "tb"},
	}}}
	upd := &Cloud{MesosConfiguration: &MesosConfiguration{MarathonConfigurations: []MarathonConfiguration{
		{MarathonURL: "http://b:8080", MarathonUsername: "u"},
		{MarathonURL: "http://a:8080", MarathonUsername: "other"},
		{MarathonURL: "http://a:8080", MarathonUsername: "u", MarathonPassword: "new"},
	}}}
	if err := upd.Prepare(old); err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, mc := range upd.MesosConfiguration.MarathonConfigurations {
		got = append(got, mc.MarathonPassword+"/"+mc.MarathonToken)
	}
	if strings.Join(got, ",") != "pb/tb,/,new/" {
		t.Errorf("marathon password/token after Prepare %q, want pb/tb,/,new/ (kept for the same URL and user only)", got)
	}
	if s := old.Secrets(); len(s) != 4 || *s[0] != "pa" || *s[2] != "pb" || *s[3] != "tb" {
		t.Errorf("Secrets %v", s)
	}
	if err := (&Cloud{MesosConfiguration: upd.MesosConfiguration}).Prepare(nil); err != nil {
		t.Errorf("Prepare on create: %v", err)
	}
}

// A host entry keeps its entry_id while the cloud lists the host, whatever the client sends; a
// host the stored cloud did not list as an SE host gets a new one.
func TestCloudHostEntryIDs(t *testing.T) {
	hosts := func(addrs ...string) []LinuxHost {
		var out []LinuxHost
		for _, a := range addrs {
			out = append(out, LinuxHost{HostIP: IPAddr{Addr: a, Type: "V4"}, EntryID: "sent-by-client"})
		}
		return out
	}
	linux := func(addrs ...string) *Cloud {
		return &Cloud{Vtype: CloudLinuxServer, LinuxserverConfiguration: &LinuxServerConfiguration{Hosts: hosts(addrs...)}}
	}
	stored := linux("192.0.2.1", "192.0.2.2")
	if err := stored.Prepare(nil); err != nil {
		t.Fatal(err)
	}
	id1, id2 := stored.LinuxserverConfiguration.Hosts[0].EntryID, stored.LinuxserverConfiguration.Hosts[1].EntryID
	if id1 == "" || id2 == "" || id1 == id2 || id1 == "sent-by-client" {
		t.Fatalf("entry ids on create %q, %q: want two new ones", id1, id2)
	}
	docker := &Cloud{Vtype: CloudDocker, DockerConfiguration: &DockerConfiguration{Hosts: hosts("192.0.2.2")}}
	none := linux("192.0.2.1")
	none.Vtype = CloudNone
	for _, tt := range []struct {
		name string
		old  *Cloud
		upd  *Cloud
		same map[string]string // address: the id it must keep; others must get a new one
	}{
		{"hosts kept, one added", stored, linux("192.0.2.3", "192.0.2.2", "192.0.2.1"), map[string]string{"192.0.2.1": id1, "192.0.2.2": id2}},
		{"a host the stored cloud does not list", linux("192.0.2.2"), linux("192.0.2.1"), nil},
		{"kept across a change of cloud type", stored, docker, map[string]string{"192.0.2.2": id2}},
		{"hosts of a cloud that had none in effect", none, linux("192.0.2.1"), nil},
	} {
		if tt.old != stored {
			if err := tt.old.Prepare(nil); err != nil {
				t.Fatal(err)
			}
		}
		old := map[string]bool{} // every id the stored cloud has, also on hosts not in effect
		for _, h := range tt.old.LinuxserverConfiguration.Hosts {
			old[h.EntryID] = true
		}
		if err := tt.upd.Prepare(tt.old); err != nil {
			t.Fatal(err)
		}
		_, uh := tt.upd.SEHosts()
		for _, h := range uh {
			want, keep := tt.same[h.HostIP.Addr]
			switch {
			case keep && h.EntryID != want:
				t.Errorf("%s: %s has entry id %q, want %q kept", tt.name, h.HostIP.Addr, h.EntryID, want)
			case !keep && (h.EntryID == "" || h.EntryID == "sent-by-client" || old[h.EntryID]):
				t.Errorf("%s: %s has entry id %q, want a new one", tt.name, h.HostIP.Addr, h.EntryID)
			}
		}
	}
	// A host stored before entry ids existed keeps having none: an update does not make it new.
	legacy := linux("192.0.2.1")
	legacy.LinuxserverConfiguration.Hosts[0].EntryID = ""
	upd := linux("192.0.2.1")
	if err := upd.Prepare(legacy); err != nil || upd.LinuxserverConfiguration.Hosts[0].EntryID != "" {
		t.Errorf("a host stored without entry id: %v, entry id %q after an update, want none", err, upd.LinuxserverConfiguration.Hosts[0].EntryID)
	}
}

func TestRefs(t *testing.T) {
	p := &Pool{HealthMonitorRefs: []string{"/api/healthmonitor?name=a", "/api/healthmonitor/b"}, CloudRef: "/api/cloud?name=c"}
	refs := p.Refs()
	want := []struct {
		field string
		kind  Kind
	}{{"health_monitor_refs[0]", KindHealthMonitor}, {"health_monitor_refs[1]", KindHealthMonitor}, {"cloud_ref", KindCloud}}
	if len(refs) != len(want) {
		t.Fatalf("pool refs %+v", refs)
	}
	for i, w := range want {
		if refs[i].Field != w.field || refs[i].Kind != w.kind {
			t.Errorf("pool ref %d: %+v, want %+v", i, refs[i], w)
		}
	}
	*refs[1].Value = "/api/healthmonitor/resolved"
	if p.HealthMonitorRefs[1] != "/api/healthmonitor/resolved" {
		t.Error("a Ref's Value does not point into the object")
	}
	if len((&Pool{}).Refs()) != 0 {
		t.Error("a pool without references has refs")
	}

	v := &VirtualService{PoolRef: "/api/pool?name=web", CloudRef: "/api/cloud?name=c"}
	vr := v.Refs()
	if len(vr) != 3 || vr[0].Field != "application_profile_ref" || vr[0].Kind != KindApplicationProfile || vr[1].Field != "pool_ref" || vr[1].Kind != KindPool || vr[2].Field != "cloud_ref" {
		t.Errorf("vs refs %+v", vr)
	}
	if len((&VirtualService{}).Refs()) != 1 {
		t.Error("a VS always refers to its application profile")
	}
	for _, o := range []Object{&HealthMonitor{}, &ApplicationProfile{}, &User{}, &CloudConnectorUser{}, &SystemConfiguration{}, &ServiceEngine{}} {
		if len(o.Refs()) != 0 {
			t.Errorf("%T has refs", o)
		}
	}
}

func TestKinds(t *testing.T) {
	seen := map[Kind]int{}
	for i, k := range Kinds {
		if _, dup := seen[k.Kind]; dup {
			t.Errorf("%s is in Kinds twice", k.Kind)
		}
		seen[k.Kind] = i
		got, ok := LookupKind(string(k.Kind))
		if !ok || got.Kind != k.Kind {
			t.Errorf("LookupKind(%q) = %v, %v", k.Kind, got.Kind, ok)
		}
		if info, ok := k.Kind.Info(); !ok || info.Kind != k.Kind {
			t.Errorf("%s.Info() = %v, %v", k.Kind, info.Kind, ok)
		}
		o := k.New()
		if kind, ok := KindOf(o); !ok || kind != k.Kind {
			t.Errorf("KindOf(%T) = %q, %v; want %q", o, kind, ok, k.Kind)
		}
		o.GetMeta().Name = "x"
		if _, err := json.Marshal(o); err != nil {
			t.Errorf("%s does not marshal: %v", k.Kind, err)
		}
		// Every reference points at a kind that comes earlier in the list, so that an import
		// in this order always finds what it refers to.
		for _, r := range sampleRefs(k.Kind) {
			if j, ok := seen[r.Kind]; !ok || j >= i {
				t.Errorf("%s refers to %s, which does not come before it in Kinds", k.Kind, r.Kind)
			}
		}
	}
	for _, kind := range []Kind{KindVirtualService, KindPool, KindHealthMonitor, KindApplicationProfile, KindCloud, KindCloudConnectorUser, KindUser, KindSystemConfiguration, KindServiceEngine, KindJoinToken} {
		if _, ok := seen[kind]; !ok {
			t.Errorf("kind %s missing", kind)
		}
	}
	if _, ok := LookupKind("nope"); ok {
		t.Error("LookupKind found an unknown kind")
	}
	if _, ok := Kind("nope").Info(); ok {
		t.Error("Info found an unknown kind")
	}
	if _, ok := KindOf(nil); ok {
		t.Error("KindOf(nil) found a kind")
	}
	if k, _ := KindServiceEngine.Info(); !k.Internal {
		t.Error("serviceengine is not internal")
	}
	if k, _ := KindSystemConfiguration.Info(); !k.Singleton {
		t.Error("systemconfiguration is not a singleton")
	}
	if s := (&ServiceEngine{CredentialHash: "h"}).Secrets(); len(s) != 1 || *s[0] != "h" {
		t.Error("a service engine's credential hash is not a secret")
	}
	if got := (&FieldError{Field: "a.b", Reason: "bad"}).Error(); got != "a.b: bad" {
		t.Errorf("FieldError %q", got)
	}
}

func TestKindForAndReferences(t *testing.T) {
	if k := KindFor[*Pool](); k != KindPool {
		t.Errorf("KindFor[*Pool] = %q", k)
	}
	if k := KindFor[*VirtualService](); k != KindVirtualService {
		t.Errorf("KindFor[*VirtualService] = %q", k)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("KindFor of a type that is no kind's did not panic")
			}
		}()
		KindFor[Object]()
	}()
	for _, c := range []struct{ got, want string }{
		{KindPool.URL("pool-1"), "/api/pool/pool-1"},
		{KindHealthMonitor.NameRef("hm-http"), "/api/healthmonitor?name=hm-http"},
		{KindPool.NameRef("a b&c"), "/api/pool?name=a+b%26c"},
		{DefaultProfileRef, KindApplicationProfile.NameRef(SystemHTTP)},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// sampleRefs returns the references of an object of the kind with every reference field set.
func sampleRefs(kind Kind) []Ref {
	switch kind {
	case KindPool:
		return (&Pool{HealthMonitorRefs: []string{"x"}, CloudRef: "x"}).Refs()
	case KindVirtualService:
		return (&VirtualService{PoolRef: "x", CloudRef: "x"}).Refs()
	case KindCloud:
		return (&Cloud{LinuxserverConfiguration: &LinuxServerConfiguration{SSHUserRef: "x"}, DockerConfiguration: &DockerConfiguration{SSHUserRef: "x"}}).Refs()
	case KindUser:
		return (&User{Access: []UserRole{{RoleRef: "x", TenantRef: "x"}}, DefaultTenantRef: "x"}).Refs()
	}
	if t, ok := (func() Object { k, _ := kind.Info(); return k.New() }()).(Tenanted); ok {
		*t.Tenant() = "x"
		return t.Refs()
	}
	k, _ := kind.Info()
	return k.New().Refs()
}

func TestIPOf(t *testing.T) {
	for in, want := range map[string]IPAddr{
		"192.0.2.1":        {"192.0.2.1", "V4"},
		"::ffff:192.0.2.1": {"192.0.2.1", "V4"},
		"2001:db8::1":      {"2001:db8::1", "V6"},
	} {
		if got := IPOf(netip.MustParseAddr(in)); got != want {
			t.Errorf("IPOf(%s) = %+v, want %+v", in, got, want)
		}
		if err := IPOf(netip.MustParseAddr(in)).validate("x"); err != nil {
			t.Errorf("IPOf(%s) does not validate: %v", in, err)
		}
	}
}
