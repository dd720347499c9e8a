// Package templates renders the systemd unit and env file that the installer writes. The texts
// live in *.tmpl files embedded at build time; every value bound for them is validated first, so
// nothing a user typed can add a line, a directive or a shell word to a unit.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
	"unicode"
)

//go:embed *.tmpl
var files embed.FS

var parsed = template.Must(template.ParseFS(files, "*.tmpl"))

// Unit holds the values of avicontroller.service and avise.service.
type Unit struct {
	Role         string // controller or se
	Description  string
	Binary       string // absolute path of avi-init on the host
	EnvFile      string // absolute path of the role's env file
	StartTimeout int    // seconds systemd waits for READY=1
}

// KV is one line of an env file.
type KV struct {
	Key, Value string
}

var (
	// Paths in ExecStart= and EnvironmentFile= are split on white space and expand %, $ and \,
	// so only plain path characters are allowed.
	pathRE = regexp.MustCompile(`^/[A-Za-z0-9._/+@-]*$`)
	keyRE  = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
	roleRE = regexp.MustCompile(`^[a-z]+$`)
)

// ValidatePath rejects a path that systemd would not read back as the same single word.
func ValidatePath(what, p string) error {
	if !pathRE.MatchString(p) {
		return fmt.Errorf("%s %q: must be an absolute path of letters, digits and . _ / + @ - only", what, p)
	}
	if filepath.Clean(p) != p {
		return fmt.Errorf("%s %q: must be a clean path (no //, /./, /../ or trailing /)", what, p)
	}
	return nil
}

// ValidateValue rejects a value that cannot be carried safely in a unit or env file: control
// characters (a newline would start a new directive), quotes and backslashes (systemd would
// unquote or unescape them), and leading or trailing white space (systemd strips it).
func ValidateValue(what, v string) error {
	for _, r := range v {
		switch {
		case r == '\n' || r == '\r':
			return fmt.Errorf("%s holds a line break: not allowed in a unit or env file", what)
		case unicode.IsControl(r):
			return fmt.Errorf("%s holds the control character %U: not allowed in a unit or env file", what, r)
		case r == '"' || r == '\'' || r == '\\':
			return fmt.Errorf("%s holds %q: quotes and backslashes are not allowed in a unit or env file", what, r)
		case r == unicode.ReplacementChar:
			return fmt.Errorf("%s is not valid UTF-8", what)
		}
	}
	if strings.TrimSpace(v) != v {
		return fmt.Errorf("%s starts or ends with white space", what)
	}
	return nil
}

func (u Unit) validate() error {
	if !roleRE.MatchString(u.Role) {
		return fmt.Errorf("unit role %q: must be lower-case letters", u.Role)
	}
	if err := ValidateValue("unit description", u.Description); err != nil {
		return err
	}
	if strings.ContainsAny(u.Description, "%$") {
		return fmt.Errorf("unit description %q: %% and $ are not allowed", u.Description)
	}
	if err := ValidatePath("binary path", u.Binary); err != nil {
		return err
	}
	if err := ValidatePath("env file path", u.EnvFile); err != nil {
		return err
	}
	if u.StartTimeout <= 0 {
		return fmt.Errorf("unit start timeout %d: must be positive", u.StartTimeout)
	}
	return nil
}

// RenderUnit returns the text of the role's systemd unit.
func RenderUnit(u Unit) ([]byte, error) {
	if err := u.validate(); err != nil {
		return nil, fmt.Errorf("render %s unit: %w", u.Role, err)
	}
	var b bytes.Buffer
	if err := parsed.ExecuteTemplate(&b, "unit.service.tmpl", u); err != nil {
		return nil, fmt.Errorf("render %s unit: %w", u.Role, err)
	}
	return b.Bytes(), nil
}

// RenderEnv returns the text of an env file holding kvs in order.
func RenderEnv(role string, kvs []KV) ([]byte, error) {
	if !roleRE.MatchString(role) {
		return nil, fmt.Errorf("render env file: role %q: must be lower-case letters", role)
	}
	for _, kv := range kvs {
		if !keyRE.MatchString(kv.Key) {
			return nil, fmt.Errorf("render %s env file: bad key %q", role, kv.Key)
		}
		if err := ValidateValue(kv.Key, kv.Value); err != nil {
			return nil, fmt.Errorf("render %s env file: %w", role, err)
		}
	}
	var b bytes.Buffer
	if err := parsed.ExecuteTemplate(&b, "env.tmpl", struct {
		Role string
		Vars []KV
	}{role, kvs}); err != nil {
		return nil, fmt.Errorf("render %s env file: %w", role, err)
	}
	return b.Bytes(), nil
}

// ParseEnv reads an env file written by RenderEnv. Comments and blank lines are skipped.
func ParseEnv(data []byte) (map[string]string, error) {
	env := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !keyRE.MatchString(k) {
			return nil, fmt.Errorf("env file line %d: want KEY=value", i+1)
		}
		env[k] = v
	}
	return env, nil
}
