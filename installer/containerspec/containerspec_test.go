package containerspec_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/avi-init/avi-init/installer/containerspec"
	"github.com/avi-init/avi-init/model/contract"
	"github.com/avi-init/avi-init/templates"
)

func controllerSettings() containerspec.Settings {
	return containerspec.Settings{
		Role:         containerspec.RoleController,
		Image:        "avi-init/controller:1.0.0",
		Cores:        4,
		MemoryMB:     8192,
		DataDir:      "/opt/avi/controller/data",
		DiskGB:       10,
		MetricsDir:   "/mnt/metrics",
		LogsDir:      "/mnt/logs",
		ControllerIP: "192.0.2.10",
		HTTPSPort:    443,
		HTTPPort:     80,
		DNSPort:      53,
		SysintPort:   8443,
	}
}

// lookupIn reads an env the way the supervisor does (os.LookupEnv), from kvs.
func lookupIn(kvs []templates.KV) func(string) (string, bool) {
	m := map[string]string{}
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestEnvRoundTrip(t *testing.T) {
	for name, s := range map[string]containerspec.Settings{
		"all set": controllerSettings(),
		"no partitions": func() containerspec.Settings {
			s := controllerSettings()
			s.MetricsDir, s.LogsDir = "", ""
			return s
		}(),
	} {
		got, err := containerspec.FromEnv(lookupIn(s.Env()))
		if err != nil {
			t.Fatalf("%s: FromEnv(Env()): %v", name, err)
		}
		if got != s {
			t.Errorf("%s: FromEnv(Env()) = %+v\nwant %+v", name, got, s)
		}

		// The same through the env file the installer writes and systemd reads.
		text, err := templates.RenderEnv(s.Role, s.Env())
		if err != nil {
			t.Fatalf("%s: RenderEnv: %v", name, err)
		}
		env, err := templates.ParseEnv(text)
		if err != nil {
			t.Fatalf("%s: ParseEnv: %v", name, err)
		}
		got, err = containerspec.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err != nil {
			t.Fatalf("%s: FromEnv(env file): %v", name, err)
		}
		if got != s {
			t.Errorf("%s: FromEnv(env file) = %+v\nwant %+v", name, got, s)
		}
	}
}

func TestEnvKeysUniqueAndFixedOrder(t *testing.T) {
	a, b := controllerSettings().Env(), controllerSettings().Env()
	if !reflect.DeepEqual(a, b) {
		t.Errorf("Env is not deterministic: %v vs %v", a, b)
	}
	seen := map[string]bool{}
	for _, kv := range a {
		if seen[kv.Key] {
			t.Errorf("key %s appears twice", kv.Key)
		}
		seen[kv.Key] = true
	}
	if n := reflect.TypeOf(containerspec.Settings{}).NumField(); len(a) != n {
		t.Errorf("Env has %d keys for %d Settings fields", len(a), n)
	}
}

func TestFromEnvErrorsNameTheKey(t *testing.T) {
	kvs := controllerSettings().Env()
	for i, kv := range kvs {
		// Missing.
		missing := append(append([]templates.KV(nil), kvs[:i]...), kvs[i+1:]...)
		s, err := containerspec.FromEnv(lookupIn(missing))
		if kv.Key == "AVI_SE_GROUP" {
			// An env file written before SE groups: the SE joins Default-Group.
			if err != nil || s.SEGroup != "" {
				t.Errorf("FromEnv without %s: %v, SE group %q; want it read, with no group", kv.Key, err, s.SEGroup)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), kv.Key) || !strings.Contains(err.Error(), "missing") {
			t.Errorf("FromEnv without %s: %v, want an error naming %s as missing", kv.Key, err, kv.Key)
		}
	}
	// A number that is not one.
	for _, key := range []string{"AVI_CORES", "AVI_MEMORY_MB", "AVI_DISK_GB", "AVI_HTTPS_PORT", "AVI_HTTP_PORT", "AVI_DNS_PORT", "AVI_SYSINT_PORT"} {
		for _, bad := range []string{"four", "", "4.5", "0x10", " 4"} {
			bad_ := append([]templates.KV(nil), kvs...)
			found := false
			for j := range bad_ {
				if bad_[j].Key == key {
					bad_[j].Value, found = bad, true
				}
			}
			if !found {
				t.Fatalf("Env has no %s", key)
			}
			_, err := containerspec.FromEnv(lookupIn(bad_))
			if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "not a number") {
				t.Errorf("FromEnv with %s=%q: %v, want an error naming %s as not a number", key, bad, err, key)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	if err := controllerSettings().Validate(); err != nil {
		t.Fatalf("Validate(good settings) = %v", err)
	}
	se := controllerSettings()
	se.Role = containerspec.RoleSE
	if err := se.Validate(); err != nil {
		t.Errorf("Validate(se) = %v", err)
	}
	// An SE serves none of the controller's ports: only its sysint port is checked.
	se.HTTPSPort, se.HTTPPort, se.DNSPort = 0, 0, 70000
	if err := se.Validate(); err != nil {
		t.Errorf("Validate(se without controller ports) = %v", err)
	}
	se.SysintPort = 0
	if err := se.Validate(); err == nil || !strings.Contains(err.Error(), "sysint port 0") {
		t.Errorf("Validate(se with sysint port 0) = %v, want an error naming the sysint port", err)
	}
	for name, c := range map[string]struct {
		mod    func(*containerspec.Settings)
		errHas string
	}{
		"empty role":           {func(s *containerspec.Settings) { s.Role = "" }, "role"},
		"unknown role":         {func(s *containerspec.Settings) { s.Role = "master" }, "role"},
		"upper-case role":      {func(s *containerspec.Settings) { s.Role = "Controller" }, "role"},
		"no image":             {func(s *containerspec.Settings) { s.Image = "" }, "image"},
		"no cores":             {func(s *containerspec.Settings) { s.Cores = 0 }, "cores"},
		"no memory":            {func(s *containerspec.Settings) { s.MemoryMB = 0 }, "MB"},
		"https port 0":         {func(s *containerspec.Settings) { s.HTTPSPort = 0 }, "https port 0"},
		"https port 70000":     {func(s *containerspec.Settings) { s.HTTPSPort = 70000 }, "https port 70000"},
		"http port 0":          {func(s *containerspec.Settings) { s.HTTPPort = 0 }, "http port 0"},
		"dns port 70000":       {func(s *containerspec.Settings) { s.DNSPort = 70000 }, "dns port 70000"},
		"sysint port 0":        {func(s *containerspec.Settings) { s.SysintPort = 0 }, "sysint port 0"},
		"sysint port 65536":    {func(s *containerspec.Settings) { s.SysintPort = 65536 }, "sysint port 65536"},
		"relative data dir":    {func(s *containerspec.Settings) { s.DataDir = "opt/avi" }, "data directory"},
		"empty data dir":       {func(s *containerspec.Settings) { s.DataDir = "" }, "data directory"},
		"data dir with space":  {func(s *containerspec.Settings) { s.DataDir = "/opt/a b" }, "data directory"},
		"relative metrics":     {func(s *containerspec.Settings) { s.MetricsDir = "metrics" }, "metrics directory"},
		"relative logs":        {func(s *containerspec.Settings) { s.LogsDir = "logs" }, "logs directory"},
		"logs dir with colon":  {func(s *containerspec.Settings) { s.LogsDir = "/a:/etc" }, "logs directory"},
		"controller IP a name": {func(s *containerspec.Settings) { s.ControllerIP = "ctl.example" }, "controller IP"},
		"no controller IP":     {func(s *containerspec.Settings) { s.ControllerIP = "" }, "controller IP"},
	} {
		s := controllerSettings()
		c.mod(&s)
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), c.errHas) {
			t.Errorf("%s: Validate = %v, want an error mentioning %q", name, err, c.errHas)
		}
	}
}

func TestSpec(t *testing.T) {
	s := controllerSettings()
	s.Cores, s.MemoryMB = 3, 1536
	hash := s.Hash()
	spec := s.Spec(hash)

	if spec.Name != "avicontroller" || spec.Image != s.Image {
		t.Errorf("Name, Image = %q, %q", spec.Name, spec.Image)
	}
	if spec.NanoCPUs != 3_000_000_000 {
		t.Errorf("NanoCPUs = %d, want 3e9", spec.NanoCPUs)
	}
	if spec.MemoryBytes != 1536<<20 {
		t.Errorf("MemoryBytes = %d, want %d", spec.MemoryBytes, int64(1536)<<20)
	}
	wantBinds := []string{"/opt/avi/controller/data:/vol", "/mnt/metrics:/vol/metrics", "/mnt/logs:/vol/logs"}
	if !reflect.DeepEqual(spec.Binds, wantBinds) {
		t.Errorf("Binds = %q, want %q", spec.Binds, wantBinds)
	}
	wantLabels := map[string]string{containerspec.Label: "controller", containerspec.LabelConfig: hash}
	if !reflect.DeepEqual(spec.Labels, wantLabels) {
		t.Errorf("Labels = %v, want %v", spec.Labels, wantLabels)
	}
	if want := []string{"NET_BIND_SERVICE", "NET_ADMIN", "NET_RAW"}; !reflect.DeepEqual(spec.CapAdd, want) {
		t.Errorf("CapAdd = %q, want exactly %q (the cluster's virtual IP)", spec.CapAdd, want)
	}
	if spec.RestartAlways {
		t.Errorf("RestartAlways set by Spec; the installer decides it")
	}
	if len(spec.Cmd) == 0 || spec.Cmd[0] != "controller" {
		t.Errorf("Cmd = %q, want it to start with the role", spec.Cmd)
	}
	for _, want := range [][2]string{{"--data", "/vol"}, {"--ip", "192.0.2.10"}, {"--https-port", "443"}, {"--http-port", "80"}, {"--dns-port", "53"}, {"--sysint-port", "8443"}, {"--disk-gb", "10"}} {
		if !hasPair(spec.Cmd, want[0], want[1]) {
			t.Errorf("Cmd = %q lacks %s %s", spec.Cmd, want[0], want[1])
		}
	}
	if len(spec.Health) == 0 || spec.Health[0] != containerspec.BinaryInImage || !hasPair(spec.Health, "--https-port", "443") {
		t.Errorf("Health = %q", spec.Health)
	}

	// Metrics and logs are mounted only when set.
	for name, c := range map[string]struct {
		metrics, logs string
		want          []string
	}{
		"neither":      {"", "", []string{"/opt/avi/controller/data:/vol"}},
		"metrics only": {"/mnt/metrics", "", []string{"/opt/avi/controller/data:/vol", "/mnt/metrics:/vol/metrics"}},
		"logs only":    {"", "/mnt/logs", []string{"/opt/avi/controller/data:/vol", "/mnt/logs:/vol/logs"}},
	} {
		s := controllerSettings()
		s.MetricsDir, s.LogsDir = c.metrics, c.logs
		if got := s.Spec(s.Hash()).Binds; !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: Binds = %q, want %q", name, got, c.want)
		}
	}

	se := controllerSettings()
	se.Role = containerspec.RoleSE
	seSpec := se.Spec("h")
	if seSpec.Name != "avise" {
		t.Errorf("SE container name = %q, want avise", seSpec.Name)
	}
	// The SE adds VIPs to interfaces and announces them on raw sockets; nothing else beyond
	// binding ports.
	if want := []string{"NET_BIND_SERVICE", "NET_ADMIN", "NET_RAW"}; !reflect.DeepEqual(seSpec.CapAdd, want) {
		t.Errorf("SE CapAdd = %q, want exactly %q", seSpec.CapAdd, want)
	}
	// The SE joins the controller on its sysint port, with the token from its data directory.
	if len(seSpec.Cmd) == 0 || seSpec.Cmd[0] != "se" {
		t.Errorf("SE Cmd = %q, want it to start with the role", seSpec.Cmd)
	}
	for _, want := range [][2]string{{"--data", "/vol"}, {"--controller", "192.0.2.10:8443"}, {"--join-token-file", "/vol/" + contract.JoinTokenFile}} {
		if !hasPair(seSpec.Cmd, want[0], want[1]) {
			t.Errorf("SE Cmd = %q lacks %s %s", seSpec.Cmd, want[0], want[1])
		}
	}
	for _, arg := range seSpec.Cmd {
		if arg == "--mgmt-ip" || arg == "--https-port" {
			t.Errorf("SE Cmd = %q: %s without a management IP, or a controller port", seSpec.Cmd, arg)
		}
	}
	se.SEGroup = "edge group"
	if cmd := se.Spec("h").Cmd; !hasPair(cmd, "--se-group", "edge group") {
		t.Errorf("SE Cmd = %q, want --se-group \"edge group\"", cmd)
	}
	for _, bad := range []string{"-rf", "a\nb", `a"b`, " edge", strings.Repeat("g", 257)} {
		se.SEGroup = bad
		if err := se.Validate(); err == nil || !strings.Contains(err.Error(), "group") {
			t.Errorf("SE group %q: %v, want refused naming the group", bad, err)
		}
	}
	se.SEGroup = ""
	se.MgmtIP, se.ControllerIP = "192.0.2.20", "2001:db8::1"
	if cmd := se.Spec("h").Cmd; !hasPair(cmd, "--mgmt-ip", "192.0.2.20") || !hasPair(cmd, "--controller", "[2001:db8::1]:8443") {
		t.Errorf("SE Cmd = %q, want --mgmt-ip 192.0.2.20 and the IPv6 controller in brackets", cmd)
	}
	// The SE has a client-log partition but no metrics one; its probe needs no port.
	if want := []string{"/opt/avi/controller/data:/vol", "/mnt/logs:/vol/logs"}; !reflect.DeepEqual(seSpec.Binds, want) {
		t.Errorf("SE Binds = %q, want %q", seSpec.Binds, want)
	}
	if want := []string{containerspec.BinaryInImage, "probe", "se", "--data", "/vol"}; !reflect.DeepEqual(seSpec.Health, want) {
		t.Errorf("SE Health = %q, want %q", seSpec.Health, want)
	}
}

func hasPair(args []string, flag, value string) bool {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag && args[i+1] == value {
			return true
		}
	}
	return false
}

// Every setting is part of the hash: changing any one field changes it, and equal settings hash
// equal.
func TestHash(t *testing.T) {
	base := controllerSettings()
	if base.Hash() != controllerSettings().Hash() {
		t.Fatal("equal settings hash differently")
	}
	if h := base.Hash(); len(h) != 16 || strings.Trim(h, "0123456789abcdef") != "" {
		t.Errorf("Hash = %q, want 16 hex digits", h)
	}
	seen := map[string]string{base.Hash(): "base"}
	typ := reflect.TypeOf(base)
	for i := 0; i < typ.NumField(); i++ {
		changed := base
		f := reflect.ValueOf(&changed).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(f.String() + "x")
		case reflect.Int:
			f.SetInt(f.Int() + 1)
		default:
			t.Fatalf("field %s has kind %s: extend this test", typ.Field(i).Name, f.Kind())
		}
		h := changed.Hash()
		if other, ok := seen[h]; ok {
			t.Errorf("changing %s gives the same hash as %s", typ.Field(i).Name, other)
		}
		seen[h] = typ.Field(i).Name
		// A copy of the changed settings hashes the same.
		if again := changed; again.Hash() != h {
			t.Errorf("hash after changing %s is not stable", typ.Field(i).Name)
		}
	}
}
