package avi

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/ssh"
)

// Preparer is an object that derives fields before it is validated and stored: hashing a
// password, generating a key pair, keeping a secret the client did not send again. old is the
// stored object on an update, nil on a create.
type Preparer interface {
	Prepare(old Object) error
}

// SystemConfiguration is the controller's own settings; one exists.
type SystemConfiguration struct {
	Meta
	DNSConfiguration        *DNSConfiguration   `json:"dns_configuration,omitempty"`
	NTPConfiguration        *NTPConfiguration   `json:"ntp_configuration,omitempty"`
	EmailConfiguration      *EmailConfiguration `json:"email_configuration,omitempty"`
	WelcomeWorkflowComplete bool                `json:"welcome_workflow_complete"`
}

// DNSConfiguration lists the DNS servers the controller uses.
type DNSConfiguration struct {
	ServerList   []IPAddr `json:"server_list,omitempty"`
	SearchDomain string   `json:"search_domain,omitempty"`
}

// NTPConfiguration lists the NTP servers.
type NTPConfiguration struct {
	NTPServers []NTPServer `json:"ntp_servers,omitempty"`
}

// NTPServer is one time server.
type NTPServer struct {
	Server IPAddr `json:"server"`
}

// EmailConfiguration is how the controller sends mail.
type EmailConfiguration struct {
	SMTPType     string `json:"smtp_type"`
	SMTPServer   string `json:"smtp_server,omitempty"`
	SMTPPort     int    `json:"mail_server_port,omitempty"`
	FromEmail    string `json:"from_email,omitempty"`
	AuthUsername string `json:"auth_username,omitempty"`
	AuthPassword string `json:"auth_password,omitempty"`
}

// Defaults: no mail until configured.
func (s *SystemConfiguration) Defaults() {
	if s.Name == "" {
		s.Name = string(KindSystemConfiguration) // as Avi names its one object
	}
	if s.EmailConfiguration == nil {
		s.EmailConfiguration = &EmailConfiguration{SMTPType: "SMTP_NONE"}
	}
	if e := s.EmailConfiguration; e.SMTPPort == 0 && (e.SMTPType == "SMTP_SERVER" || e.SMTPType == "SMTP_ANONYMOUS_SERVER") {
		e.SMTPPort = 25
	}
}

// Validate checks the settings.
func (s *SystemConfiguration) Validate() error {
	if d := s.DNSConfiguration; d != nil {
		if err := firstErr(maxItems("dns_configuration.server_list", len(d.ServerList), MaxListItems, "servers"),
			printable("dns_configuration.search_domain", d.SearchDomain, MaxHostnameLength)); err != nil {
			return err
		}
		for i, a := range d.ServerList {
			if err := a.validate(fmt.Sprintf("dns_configuration.server_list[%d]", i)); err != nil {
				return err
			}
		}
	}
	if n := s.NTPConfiguration; n != nil {
		if err := maxItems("ntp_configuration.ntp_servers", len(n.NTPServers), MaxListItems, "servers"); err != nil {
			return err
		}
		for i, a := range n.NTPServers {
			if err := a.Server.validate(fmt.Sprintf("ntp_configuration.ntp_servers[%d].server", i)); err != nil {
				return err
			}
		}
	}
	if e := s.EmailConfiguration; e != nil {
		if err := oneOf("email_configuration.smtp_type", e.SMTPType, "SMTP_NONE", "SMTP_LOCAL_HOST", "SMTP_SERVER", "SMTP_ANONYMOUS_SERVER"); err != nil {
			return err
		}
		if err := firstErr(printable("email_configuration.smtp_server", e.SMTPServer, MaxHostnameLength),
			printable("email_configuration.from_email", e.FromEmail, MaxStringLength),
			printable("email_configuration.auth_username", e.AuthUsername, MaxStringLength)); err != nil {
			return err
		}
		if (e.SMTPType == "SMTP_SERVER" || e.SMTPType == "SMTP_ANONYMOUS_SERVER") && e.SMTPServer == "" {
			return fieldErr("email_configuration.smtp_server", "is required for %s", e.SMTPType)
		}
		if e.SMTPPort != 0 {
			if err := between("email_configuration.mail_server_port", e.SMTPPort, 1, 65535); err != nil {
				return err
			}
		}
	}
	return nil
}

// Prepare keeps the SMTP password when an update does not send it again.
func (s *SystemConfiguration) Prepare(old Object) error {
	if o, ok := old.(*SystemConfiguration); ok && s.EmailConfiguration != nil && s.EmailConfiguration.SMTPType == "SMTP_SERVER" && s.EmailConfiguration.AuthPassword == "" && o.EmailConfiguration != nil {
		s.EmailConfiguration.AuthPassword = o.EmailConfiguration.AuthPassword
	}
	return nil
}

// Refs: none.
func (s *SystemConfiguration) Refs() []Ref { return nil }

// Secrets: the SMTP password.
func (s *SystemConfiguration) Secrets() []*string {
	if s.EmailConfiguration != nil {
		return []*string{&s.EmailConfiguration.AuthPassword}
	}
	return nil
}

// User is an account of the controller. The password is write-only: stored as a bcrypt hash,
// never returned.
type User struct {
	Meta
	Username     string `json:"username"`
	Password     string `json:"password,omitempty"`
	PasswordHash string `json:"password_hash,omitempty"`
	IsSuperuser  bool   `json:"is_superuser"`
	// Access grants the user roles in tenants; a superuser has every privilege everywhere.
	Access           []UserRole `json:"access,omitempty"`
	DefaultTenantRef string     `json:"default_tenant_ref,omitempty"`
}

// MinPasswordLength is the strength rule's length; it also wants three kinds of character.
const MinPasswordLength = 8

// CheckPasswordStrength is the strength rule: at least 8 characters, of at least three of
// lower case, upper case, digits and other characters; and at most MaxPasswordBytes bytes.
func CheckPasswordStrength(p string) error {
	if utf8.RuneCountInString(p) < MinPasswordLength {
		return fmt.Errorf("must be at least %d characters", MinPasswordLength)
	}
	if len(p) > MaxPasswordBytes {
		return fmt.Errorf("%d bytes: at most %d allowed (bcrypt's limit)", len(p), MaxPasswordBytes)
	}
	var lower, upper, digit, other bool
	for _, r := range p {
		switch {
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		default:
			other = true
		}
	}
	kinds := 0
	for _, k := range []bool{lower, upper, digit, other} {
		if k {
			kinds++
		}
	}
	if kinds < 3 {
		return fmt.Errorf("must mix at least three of: lower case, upper case, digits, other characters")
	}
	return nil
}

// DefaultBcryptCost is the work factor of stored password hashes.
const DefaultBcryptCost = 12

// BcryptCost is the work factor new hashes get: DefaultBcryptCost. Only tests lower it (from
// TestMain), so that each account they make costs microseconds instead of a quarter of a
// second; no flag or setting reaches it.
var BcryptCost = DefaultBcryptCost

// Defaults: the name is the username.
func (u *User) Defaults() {
	if u.Name == "" {
		u.Name = u.Username
	}
}

// Prepare hashes a new password, or keeps the stored hash when none is sent. A hash already set
// comes from a configuration import (the API refuses it from clients).
func (u *User) Prepare(old Object) error {
	if u.Password == "" && u.PasswordHash != "" {
		return nil
	}
	if u.Password == "" {
		if o, ok := old.(*User); ok {
			u.PasswordHash = o.PasswordHash
			return nil
		}
		return fieldErr("password", "is required")
	}
	if err := CheckPasswordStrength(u.Password); err != nil {
		return fieldErr("password", "%v", err)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(u.Password), BcryptCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	u.Password, u.PasswordHash = "", string(h)
	return nil
}

// Validate checks the account's fields.
func (u *User) Validate() error {
	if u.Username == "" || strings.ContainsFunc(u.Username, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == ':' }) {
		return fieldErr("username", "is required, without spaces, control characters or ':'")
	}
	if n := utf8.RuneCountInString(u.Username); n > MaxNameLength {
		return fieldErr("username", "%d characters: at most %d allowed", n, MaxNameLength)
	}
	if err := maxItems("access", len(u.Access), MaxListItems, "grants"); err != nil {
		return err
	}
	if u.PasswordHash == "" {
		return fieldErr("password", "is required")
	}
	for i, a := range u.Access {
		f := fmt.Sprintf("access[%d]", i)
		if a.RoleRef == "" {
			return fieldErr(f+".role_ref", "is required")
		}
		if (a.TenantRef == "") == !a.AllTenants {
			return fieldErr(f+".tenant_ref", "give a tenant_ref or all_tenants: true, not both")
		}
	}
	return validateName(&u.Meta)
}

// UniqueKeys: a username names one account.
func (u *User) UniqueKeys() map[string]string { return map[string]string{"username": u.Username} }

// CheckPassword reports whether p is the user's password. A password longer than bcrypt reads
// is no password: bcrypt would compare only its first MaxPasswordBytes bytes.
func (u *User) CheckPassword(p string) bool {
	return u.PasswordHash != "" && len(p) <= MaxPasswordBytes && bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(p)) == nil
}

// Refs: the roles and tenants of the user's access, and the default tenant.
func (u *User) Refs() []Ref {
	var refs []Ref
	for i := range u.Access {
		a := &u.Access[i]
		refs = append(refs, Ref{Field: fmt.Sprintf("access[%d].role_ref", i), Kind: KindRole, Value: &a.RoleRef})
		if a.TenantRef != "" {
			refs = append(refs, Ref{Field: fmt.Sprintf("access[%d].tenant_ref", i), Kind: KindTenant, Value: &a.TenantRef})
		}
	}
	if u.DefaultTenantRef != "" {
		refs = append(refs, Ref{Field: "default_tenant_ref", Kind: KindTenant, Value: &u.DefaultTenantRef})
	}
	return refs
}

// Secrets: the password and its hash.
func (u *User) Secrets() []*string { return []*string{&u.Password, &u.PasswordHash} }

// CloudConnectorUser is the SSH identity the controller uses on Linux server hosts. Without a
// private key, an ed25519 pair is generated; the private key is never returned.
type CloudConnectorUser struct {
	Meta
	TenantRef  string `json:"tenant_ref,omitempty"`
	PrivateKey string `json:"private_key,omitempty"`
	PublicKey  string `json:"public_key,omitempty"`
}

// Defaults: none.
func (c *CloudConnectorUser) Defaults() {}

// Prepare generates a key pair, keeps the stored one, or derives the public key of an imported
// private key.
func (c *CloudConnectorUser) Prepare(old Object) error {
	if c.PrivateKey == "" {
		if o, ok := old.(*CloudConnectorUser); ok {
			c.PrivateKey, c.PublicKey = o.PrivateKey, o.PublicKey
			return nil
		}
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return fmt.Errorf("generate key pair: %w", err)
		}
		block, err := ssh.MarshalPrivateKey(priv, "avi-init "+c.Name)
		if err != nil {
			return fmt.Errorf("encode private key: %w", err)
		}
		c.PrivateKey = string(pem.EncodeToMemory(block))
	}
	signer, err := ssh.ParsePrivateKey([]byte(c.PrivateKey))
	if err != nil {
		return fieldErr("private_key", "not a PEM private key without a passphrase (OpenSSH, PKCS#1, PKCS#8 or EC)")
	}
	c.PublicKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	return nil
}

// Validate: a name, which is the user the controller logs in to hosts as, and a key.
func (c *CloudConnectorUser) Validate() error {
	if err := validateName(&c.Meta); err != nil {
		return err
	}
	if !ValidLinuxUser(c.Name) {
		return fieldErr("name", "%q is not %s", c.Name, LinuxUserRule)
	}
	if c.PublicKey == "" {
		return fieldErr("private_key", "is required")
	}
	return nil
}

// Refs: none.
func (c *CloudConnectorUser) Refs() []Ref { return tenantRefs(&c.TenantRef) }

// Tenant is the credential's tenant reference: always admin (credentials are controller-wide).
func (c *CloudConnectorUser) Tenant() *string { return &c.TenantRef }

// Secrets: the private key.
func (c *CloudConnectorUser) Secrets() []*string { return []*string{&c.PrivateKey} }

// Cloud types (orchestrators).
const (
	CloudNone        = "CLOUD_NONE"
	CloudLinuxServer = "CLOUD_LINUXSERVER"
	CloudMesos       = "CLOUD_MESOS"
	CloudDocker      = "CLOUD_DOCKER"
)

// Cloud is the orchestrator the controller integrates with and how it creates SEs.
type Cloud struct {
	Meta
	TenantRef                string                    `json:"tenant_ref,omitempty"`
	Vtype                    string                    `json:"vtype"`
	LinuxserverConfiguration *LinuxServerConfiguration `json:"linuxserver_configuration,omitempty"`
	MesosConfiguration       *MesosConfiguration       `json:"mesos_configuration,omitempty"`
	DockerConfiguration      *DockerConfiguration      `json:"docker_configuration,omitempty"`
}

// LinuxServerConfiguration lists the hosts SEs are deployed on over SSH.
type LinuxServerConfiguration struct {
	SSHUserRef    string      `json:"ssh_user_ref,omitempty"`
	Hosts         []LinuxHost `json:"hosts,omitempty"`
	SESysDiskPath string      `json:"se_sys_disk_path,omitempty"`
	SELogDiskPath string      `json:"se_log_disk_path,omitempty"`
	SEInbandMgmt  bool        `json:"se_inband_mgmt,omitempty"`
}

// LinuxHost is one host of a Linux server cloud.
type LinuxHost struct {
	HostIP IPAddr `json:"host_ip"`
	// EntryID is read-only: the controller stamps each host entry when the cloud first lists
	// the host and keeps it while the host stays listed, so that a host removed and added back
	// is a new entry even to a reader that saw only the final state.
	EntryID string `json:"entry_id,omitempty"`
}

// MesosConfiguration is Mesos/Marathon integration.
type MesosConfiguration struct {
	MesosURL               string                  `json:"mesos_url,omitempty"`
	AppSyncFrequency       int                     `json:"app_sync_frequency,omitempty"`
	MarathonConfigurations []MarathonConfiguration `json:"marathon_configurations,omitempty"`
}

// MarathonConfiguration is one Marathon and its credentials.
type MarathonConfiguration struct {
	MarathonURL      string `json:"marathon_url"`
	MarathonUsername string `json:"marathon_username,omitempty"`
	MarathonPassword string `json:"marathon_password,omitempty"`
	// MarathonToken is a DC/OS-style token, sent instead of a user and password.
	MarathonToken string `json:"marathon_token,omitempty"`
}

// DockerConfiguration is Docker integration: the controller keeps an SE on each host, as in a
// Linux server cloud, and maps the containers there that carry an avi_proxy label.
type DockerConfiguration struct {
	SSHUserRef string      `json:"ssh_user_ref,omitempty"`
	Hosts      []LinuxHost `json:"hosts,omitempty"`
}

// SEHosts is the SSH user and the hosts the controller keeps SEs on: a Linux server cloud's, or
// a Docker cloud's. Other clouds have none.
func (c *Cloud) SEHosts() (sshUserRef string, hosts []LinuxHost) {
	switch {
	case c.Vtype == CloudLinuxServer && c.LinuxserverConfiguration != nil:
		return c.LinuxserverConfiguration.SSHUserRef, c.LinuxserverConfiguration.Hosts
	case c.Vtype == CloudDocker && c.DockerConfiguration != nil:
		return c.DockerConfiguration.SSHUserRef, c.DockerConfiguration.Hosts
	}
	return "", nil
}

// Defaults: a Mesos cloud re-syncs every 60 s.
func (c *Cloud) Defaults() {
	if c.Vtype == "" {
		c.Vtype = CloudNone
	}
	if m := c.MesosConfiguration; m != nil && m.AppSyncFrequency == 0 {
		m.AppSyncFrequency = 60
	}
}

// validateHosts checks the number of hosts in a cloud's configuration (config names it) and
// the address of each.
func validateHosts(config string, hosts []LinuxHost) error {
	if err := maxItems(config+".hosts", len(hosts), MaxHostsPerCloud, "hosts"); err != nil {
		return err
	}
	for i, h := range hosts {
		if err := h.HostIP.validate(fmt.Sprintf("%s.hosts[%d].host_ip", config, i)); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks the cloud matches its type.
func (c *Cloud) Validate() error {
	if err := validateName(&c.Meta); err != nil {
		return err
	}
	if err := oneOf("vtype", c.Vtype, CloudNone, CloudLinuxServer, CloudMesos, CloudDocker); err != nil {
		return err
	}
	if l := c.LinuxserverConfiguration; l != nil {
		if err := firstErr(validateHosts("linuxserver_configuration", l.Hosts),
			printable("linuxserver_configuration.se_sys_disk_path", l.SESysDiskPath, MaxStringLength),
			printable("linuxserver_configuration.se_log_disk_path", l.SELogDiskPath, MaxStringLength)); err != nil {
			return err
		}
	}
	if c.Vtype == CloudLinuxServer && (c.LinuxserverConfiguration == nil || c.LinuxserverConfiguration.SSHUserRef == "") {
		return fieldErr("linuxserver_configuration.ssh_user_ref", "is required for %s", CloudLinuxServer)
	}
	if d := c.DockerConfiguration; d != nil {
		if err := validateHosts("docker_configuration", d.Hosts); err != nil {
			return err
		}
	}
	if c.Vtype == CloudDocker && (c.DockerConfiguration == nil || c.DockerConfiguration.SSHUserRef == "") {
		return fieldErr("docker_configuration.ssh_user_ref", "is required for %s (the user the controller reaches the hosts' engines as)", CloudDocker)
	}
	if m := c.MesosConfiguration; m != nil {
		if err := between("mesos_configuration.app_sync_frequency", m.AppSyncFrequency, 1, 3600); err != nil {
			return err
		}
		if err := firstErr(maxItems("mesos_configuration.marathon_configurations", len(m.MarathonConfigurations), MaxListItems, "Marathons"),
			printable("mesos_configuration.mesos_url", m.MesosURL, MaxStringLength)); err != nil {
			return err
		}
		for i, mc := range m.MarathonConfigurations {
			f := fmt.Sprintf("mesos_configuration.marathon_configurations[%d]", i)
			if err := firstErr(printable(f+".marathon_url", mc.MarathonURL, MaxStringLength),
				printable(f+".marathon_username", mc.MarathonUsername, MaxStringLength)); err != nil {
				return err
			}
			if !strings.HasPrefix(mc.MarathonURL, "http://") && !strings.HasPrefix(mc.MarathonURL, "https://") {
				return fieldErr(fmt.Sprintf("mesos_configuration.marathon_configurations[%d].marathon_url", i), "%q: want an http:// or https:// URL", mc.MarathonURL)
			}
		}
	}
	if c.Vtype == CloudMesos && (c.MesosConfiguration == nil || len(c.MesosConfiguration.MarathonConfigurations) == 0) {
		return fieldErr("mesos_configuration.marathon_configurations", "at least one Marathon is required for %s", CloudMesos)
	}
	return nil
}

// Prepare stamps the SE host entries and keeps Marathon passwords and tokens an update does not
// send again, for the same Marathon and user.
func (c *Cloud) Prepare(old Object) error {
	o, _ := old.(*Cloud)
	c.stampHosts(o)
	if o == nil || c.MesosConfiguration == nil || o.MesosConfiguration == nil {
		return nil
	}
	for i := range c.MesosConfiguration.MarathonConfigurations {
		mc := &c.MesosConfiguration.MarathonConfigurations[i]
		for _, omc := range o.MesosConfiguration.MarathonConfigurations {
			if omc.MarathonURL != mc.MarathonURL || omc.MarathonUsername != mc.MarathonUsername {
				continue
			}
			if mc.MarathonPassword == "" {
				mc.MarathonPassword = omc.MarathonPassword
			}
			if mc.MarathonToken == "" {
				mc.MarathonToken = omc.MarathonToken
			}
		}
	}
	return nil
}

// stampHosts gives each host entry the EntryID the host had in old, the cloud as stored, when
// old listed it as an SE host; else a new one. What a client sends is ignored: only the
// controller tells a host kept from a host removed and added back.
func (c *Cloud) stampHosts(old *Cloud) {
	ids := map[string]string{}
	if old != nil {
		_, hosts := old.SEHosts()
		for _, h := range hosts {
			ids[h.HostIP.Addr] = h.EntryID
		}
	}
	stamp := func(hosts []LinuxHost) {
		for i := range hosts {
			id, kept := ids[hosts[i].HostIP.Addr]
			if !kept {
				id = rand.Text()
				ids[hosts[i].HostIP.Addr] = id
			}
			hosts[i].EntryID = id
		}
	}
	if l := c.LinuxserverConfiguration; l != nil {
		stamp(l.Hosts)
	}
	if d := c.DockerConfiguration; d != nil {
		stamp(d.Hosts)
	}
}

// Tenant is the cloud's tenant reference: always admin (clouds are controller-wide).
func (c *Cloud) Tenant() *string { return &c.TenantRef }

// Refs: the SSH credentials and the tenant.
func (c *Cloud) Refs() []Ref {
	var refs []Ref
	if l := c.LinuxserverConfiguration; l != nil && l.SSHUserRef != "" {
		refs = append(refs, Ref{Field: "linuxserver_configuration.ssh_user_ref", Kind: KindCloudConnectorUser, Value: &l.SSHUserRef})
	}
	if d := c.DockerConfiguration; d != nil && d.SSHUserRef != "" {
		refs = append(refs, Ref{Field: "docker_configuration.ssh_user_ref", Kind: KindCloudConnectorUser, Value: &d.SSHUserRef})
	}
	return append(refs, tenantRefs(&c.TenantRef)...)
}

// Secrets: the Marathon passwords and tokens.
func (c *Cloud) Secrets() []*string {
	var out []*string
	if m := c.MesosConfiguration; m != nil {
		for i := range m.MarathonConfigurations {
			out = append(out, &m.MarathonConfigurations[i].MarathonPassword, &m.MarathonConfigurations[i].MarathonToken)
		}
	}
	return out
}
